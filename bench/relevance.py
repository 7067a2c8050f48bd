"""How well the shipped topics find what a curator would pick: precision, recall and F1 per
topic on hand-labelled real papers, with the worst misses and false matches.

    make relevance                                   # both parts of bench/data/relevance.jsonl
    python -m bench.relevance --split held-out       # the part not looked at while tuning
    python -m bench.relevance --labels other.jsonl   # any labelled set in the same format
    python -m bench.relevance --no-strong            # ignore the topics' "demand a strong match"
    python -m bench.relevance --quick                # a few papers, to prove it runs (tests)

Topics and synonyms are the ones the migrations ship (or `--from-database`: the rows in
DATABASE_URL, as editors left them). A topic matches as in the product: its query AND one of
its categories when it has both; a paper whose categories are unknown (the Hugging Face lists
carry none) is judged on its text alone. The label format and how the labels were made are in
bench/data/README.md. Prints a table; `--json-out` writes the numbers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "bench" / "data" / "relevance.jsonl"
# Topics too rarely relevant in a labelled part to say much; shown, left out of the macro.
MIN_RELEVANT_FOR_MACRO = 5
READER_TOPICS = ("diffusion-models", "image-generation", "video-generation")
# The five topics issue 13 measured (its targets are their macro); the others are shown too.
ISSUE_TOPICS = (*READER_TOPICS, "3d", "efficient-inference")


@dataclass(frozen=True)
class LabelledPaper:
    id: str
    title: str
    abstract: str
    categories: tuple[str, ...]
    split: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class TopicSpec:
    slug: str
    name: str
    query: str
    categories: tuple[str, ...]
    require_strong_match: bool = False


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--split", choices=["all", "tuning", "held-out"], default="all")
    parser.add_argument("--from-database", action="store_true")
    parser.add_argument("--no-strong", action="store_true")
    parser.add_argument("--quick", action="store_true", help="the first 60 papers only")
    parser.add_argument("--examples", type=int, default=4, help="misses and false matches shown")
    parser.add_argument("--json-out", type=Path)
    return parser.parse_args(argv)


def setup_django(*, from_database: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    if not from_database:
        os.environ["DATABASE_URL"] = "sqlite:///:memory:"
    os.environ.setdefault("CACHE_URL", "locmemcache://bench-relevance")
    import django

    django.setup()


def read_labels(path: Path) -> list[LabelledPaper]:
    papers = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            papers.append(
                LabelledPaper(
                    id=str(row["id"]),
                    title=row["title"],
                    abstract=row.get("abstract", ""),
                    categories=tuple(row.get("categories") or ()),
                    split=row.get("split", "held-out"),
                    relevant=frozenset(row.get("relevant", ())),
                )
            )
        except KeyError as error:
            raise SystemExit(f"{path}:{number}: missing field {error}") from error
    return papers


def shipped_definitions() -> tuple[list[TopicSpec], list[tuple[str, str, bool]]]:
    """The starting topics and synonyms of the newest migration that defines them."""
    names = sorted(
        (path.stem for path in (ROOT / "newsletter" / "migrations").glob("0*.py")), reverse=True
    )
    for module_name in names:
        try:
            module = importlib.import_module(f"newsletter.migrations.{module_name}")
        except ImportError:
            continue
        if not hasattr(module, "STARTING_TOPICS"):
            continue
        topics = [
            TopicSpec(
                slug=row[1],
                name=row[0],
                query=row[3],
                categories=tuple(row[4]),
                require_strong_match=bool(row[5]) if len(row) > 5 else False,
            )
            for row in module.STARTING_TOPICS
        ]
        return topics, list(getattr(module, "STARTING_SYNONYMS", []))
    raise SystemExit("no starting topics in newsletter/migrations")


def database_definitions() -> tuple[list[TopicSpec], list[tuple[str, str, bool]]]:
    from newsletter.models import Topic

    topics = [
        TopicSpec(
            slug=topic.slug,
            name=topic.name,
            query=topic.query,
            categories=tuple(topic.categories),
            require_strong_match=getattr(topic, "require_strong_match", False),
        )
        for topic in Topic.objects.filter(is_active=True)
    ]
    try:
        from newsletter.models import Synonym
    except ImportError:
        return topics, []
    return topics, list(Synonym.objects.values_list("phrase", "also_finds", "both_ways"))


class Matcher:
    """The product's matching, whichever version of it is installed (so the same bench runs on
    an older checkout for a before/after comparison)."""

    def __init__(self, papers: Sequence[LabelledPaper], rules: Iterable[tuple[str, str, bool]]):
        from newsletter import matching

        self.matching = matching
        self.number_of = {paper.id: n for n, paper in enumerate(papers)}
        self.index = matching.PaperIndex.build(
            matching.IndexedPaper(n, paper.title, paper.abstract, paper.categories)
            for n, paper in enumerate(papers)
        )
        self.unknown_categories = frozenset(
            n for n, paper in enumerate(papers) if not paper.categories
        )
        table = getattr(matching, "SynonymTable", None)
        self.synonyms = table.build(rules) if table else None

    def topic_matches(self, topic: TopicSpec, *, strong: bool) -> frozenset[int]:
        found = None
        if topic.query.strip():
            if self.synonyms is not None:
                query = self.matching.parse_query(topic.query, synonyms=self.synonyms)
            else:
                query = self.matching.parse_query(topic.query)
            if strong and topic.require_strong_match:
                found = self.index.search(query, strong_only=True)
            else:
                found = self.index.search(query)
        if topic.categories:
            allowed = self.index.in_categories(topic.categories) | self.unknown_categories
            found = allowed if found is None else found & allowed
        return found or frozenset()

    def why(self, topic: TopicSpec, number: int) -> str:
        explain = getattr(self.index, "explain", None)
        if explain is None or not topic.query.strip():
            return ""
        match = explain(self.matching.parse_query(topic.query, synonyms=self.synonyms), number)
        if match is None:
            return ""
        hits = ", ".join(
            f"{hit.found}{' (title)' if hit.in_title else ''}×{hit.mentions}" for hit in match.hits
        )
        return f"{match.strength.name.lower()}: {hits}"


def scores(predicted: frozenset[int], relevant: frozenset[int]) -> dict:
    true = len(predicted & relevant)
    precision = true / len(predicted) if predicted else (1.0 if not relevant else 0.0)
    recall = true / len(relevant) if relevant else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "relevant": len(relevant),
        "matched": len(predicted),
    }


def evaluate(
    papers: Sequence[LabelledPaper],
    topics: Sequence[TopicSpec],
    matcher: Matcher,
    *,
    strong: bool,
    labelled: frozenset[str],
) -> dict:
    """Scores of each topic labelled anywhere in the set (`labelled`), on `papers`."""
    numbers = {matcher.number_of[paper.id] for paper in papers}
    result: dict = {"topics": {}, "examples": {}}
    predictions = {}
    for topic in topics:
        relevant = frozenset(matcher.number_of[p.id] for p in papers if topic.slug in p.relevant)
        predicted = matcher.topic_matches(topic, strong=strong) & numbers
        predictions[topic.slug] = predicted
        if topic.slug not in labelled:
            continue
        result["topics"][topic.slug] = {"name": topic.name, **scores(predicted, relevant)}
        result["examples"][topic.slug] = {
            "missed": sorted(relevant - predicted),
            "false": sorted(predicted - relevant),
        }
    in_macro = [
        row for row in result["topics"].values() if row["relevant"] >= MIN_RELEVANT_FOR_MACRO
    ]
    result["macro"] = {
        key: round(sum(row[key] for row in in_macro) / len(in_macro), 3) if in_macro else 0.0
        for key in ("precision", "recall", "f1")
    }
    result["macro"]["topics"] = len(in_macro)
    five = [row for slug, row in result["topics"].items() if slug in ISSUE_TOPICS]
    result["macro_issue_topics"] = {
        key: round(sum(row[key] for row in five) / len(five), 3) if five else 0.0
        for key in ("precision", "recall", "f1")
    }
    reader = [slug for slug in READER_TOPICS if slug in predictions]
    if reader:
        predicted = frozenset().union(*(predictions[slug] for slug in reader))
        relevant = frozenset(matcher.number_of[p.id] for p in papers if p.relevant & set(reader))
        result["reader"] = scores(predicted, relevant)
    return result


def print_report(title: str, result: dict, *, papers, topics, matcher, examples: int) -> None:
    by_number = {matcher.number_of[p.id]: p for p in papers}
    topic_of = {topic.slug: topic for topic in topics}
    print(f"\n{title}")
    print(f"{'topic':<26} {'precision':>9} {'recall':>7} {'F1':>6} {'relevant':>9} {'matched':>8}")
    for row in result["topics"].values():
        note = "" if row["relevant"] >= MIN_RELEVANT_FOR_MACRO else "  (few labels, not in macro)"
        print(
            f"{row['name'][:26]:<26} {row['precision']:>9.2f} {row['recall']:>7.2f} "
            f"{row['f1']:>6.2f} {row['relevant']:>9} {row['matched']:>8}{note}"
        )
    if "reader" in result:
        row = result["reader"]
        print(
            f"{'reader: diff+image+video':<26} {row['precision']:>9.2f} {row['recall']:>7.2f} "
            f"{row['f1']:>6.2f} {row['relevant']:>9} {row['matched']:>8}"
        )
    five = result["macro_issue_topics"]
    print(
        f"{'macro (the issue 5 topics)':<26} {five['precision']:>9.2f} "
        f"{five['recall']:>7.2f} {five['f1']:>6.2f}"
    )
    macro = result["macro"]
    print(
        f"{'macro (' + str(macro['topics']) + ' with 5+ labels)':<26} {macro['precision']:>9.2f} "
        f"{macro['recall']:>7.2f} {macro['f1']:>6.2f}"
    )
    if examples <= 0:
        return
    for slug, found in result["examples"].items():
        lines = [f"    missed: {by_number[n].title[:95]}" for n in found["missed"][:examples]] + [
            f"    false:  {by_number[n].title[:70]}  [{matcher.why(topic_of[slug], n)}]"
            for n in found["false"][:examples]
        ]
        if lines:
            print(f"  {topic_of[slug].name}:")
            print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_django(from_database=args.from_database)
    papers = read_labels(args.labels)
    if args.quick:
        papers = papers[:60]
    topics, rules = database_definitions() if args.from_database else shipped_definitions()
    matcher = Matcher(papers, rules)
    splits = ["tuning", "held-out"] if args.split == "all" else [args.split]
    report = {}
    for split in splits:
        part = [paper for paper in papers if paper.split == split]
        if not part:
            continue
        labelled = frozenset().union(*(paper.relevant for paper in papers))
        result = evaluate(part, topics, matcher, strong=not args.no_strong, labelled=labelled)
        report[split] = result
        print_report(
            f"{split} part: {len(part)} papers",
            result,
            papers=part,
            topics=topics,
            matcher=matcher,
            examples=args.examples,
        )
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
