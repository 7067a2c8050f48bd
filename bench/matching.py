"""What matching costs: the index's memory and build time, the preview, crafted queries, and
the digest run's matching curve (readers -> distinct filters -> seconds), all in one process.

    python -m bench.matching                 # 14,000-paper index; curve to 100,000 readers
    python -m bench.matching --quick         # small sizes, a few seconds (run by the tests)

No database: papers and readers are generated in memory the way bench/datagen.py makes them
for the scale run (words of the shipped sample papers, Zipf-popular topics, a fifth of the
readers with their own query), and matched through the product's own code paths
(`selectors.subscription_paper_ids` for the preview, `PaperWindow.filter_matches` for
the run). Prints a table; `--json-out` writes the numbers.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import json
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from datetime import date, timedelta
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=14_000, help="papers in the preview index")
    parser.add_argument("--run-papers", type=int, default=2_000, help="papers of the run's day")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="1,400 papers, 1,500 readers")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.papers, args.run_papers, args.subscribers = 1_400, 400, 1_500
    return args


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    os.environ.setdefault("CACHE_URL", "locmemcache://bench-matching")
    import django

    django.setup()


def shipped_modules():
    """The migrations that define starting topics, newest first."""
    folder = Path(__file__).resolve().parent.parent / "newsletter" / "migrations"
    for name in sorted((path.stem for path in folder.glob("0*.py")), reverse=True):
        module = importlib.import_module(f"newsletter.migrations.{name}")
        if hasattr(module, "STARTING_TOPICS"):
            yield module


def starting_synonyms():
    """The synonyms the migrations ship, compiled (None before there were synonyms)."""
    from newsletter import matching

    table = getattr(matching, "SynonymTable", None)
    for module in shipped_modules():
        if hasattr(module, "STARTING_SYNONYMS") and table:
            return table.build(module.STARTING_SYNONYMS)
    return None


def starting_topics() -> list[tuple[str, str, list[str], bool]]:
    """(name, query, categories, demands a strong match) of the topics the product ships."""
    for module in shipped_modules():
        return [
            (row[0], row[3], list(row[4]), bool(row[5]) if len(row) > 5 else False)
            for row in module.STARTING_TOPICS
        ]
    raise SystemExit("no starting topics found in newsletter/migrations")


def make_indexed_papers(count: int, *, day: date, seed: int, first_id: int = 1):
    from bench.datagen import make_papers
    from newsletter.matching import IndexedPaper

    papers = make_papers(count=count, day=day, rng=random.Random(seed))
    return [
        IndexedPaper(
            id=first_id + n,
            title=paper.title,
            abstract=paper.abstract,
            categories=paper.categories,
            authors=paper.authors,
        )
        for n, paper in enumerate(papers)
    ]


def build_index(papers):
    from newsletter.matching import PaperIndex

    index = PaperIndex()
    for paper in papers:
        index.add(paper)
    return index


def measure_index(papers) -> tuple[object, dict]:
    """Build time, and the memory the index keeps (traced allocations that survive the build)."""
    gc.collect()
    started = time.perf_counter()
    index = build_index(papers)
    build_s = time.perf_counter() - started
    del index
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = build_index(papers)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return index, {
        "papers": len(papers),
        "build_seconds": round(build_s, 3),
        "kept_mb": round(kept / 2**20, 1),
    }


def timed(function, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - started))
    return times


def measure_preview(papers) -> dict:
    """The sign-up preview's matching at full size: a reader with three starting topics and an
    own query, on an index whose caches are cold (first reader after a rebuild) and warm."""
    from newsletter import selectors
    from newsletter.models import Topic

    strong = {"require_strong_match"} & {field.name for field in Topic._meta.fields}
    topics = [
        Topic(pk=n, name=name, query=query, categories=categories)
        for n, (name, query, categories, _strong) in enumerate(starting_topics(), start=1)
    ]
    for topic, (*_definition, demands_strong) in zip(topics, starting_topics(), strict=True):
        if strong:
            topic.require_strong_match = demands_strong
    choices = [
        (topics[0:3], '"image editing" OR inpainting', [], []),
        (topics[3:6], "reconstruction -survey", ["cs.CV"], ["Wei Zhang"]),
        (topics[6:9], "", [], []),
        (topics, "benchmark OR evaluation", [], []),
    ]

    def preview_all(index) -> None:
        for chosen, query, categories, authors in choices:
            selectors.subscription_paper_ids(
                topics=chosen, query=query, categories=categories, authors=authors, index=index
            )

    cold, topics_at_build, first = [], [], []
    for _ in range(3):
        index = build_index(papers)
        cold += timed(lambda index=index: preview_all(index), 1)
        # What selectors' index build does: match the active topics once, for every request.
        index = build_index(papers)
        topics_at_build += timed(
            lambda index=index: selectors.topic_paper_ids(topics=topics, index=index), 1
        )
        first += timed(lambda index=index: preview_all(index), 1)
    warm = timed(lambda: preview_all(index), 5)
    return {
        "choices": len(choices),
        "cold_ms_per_preview": round(statistics.median(cold) / len(choices), 2),
        "warm_ms_per_preview": round(statistics.median(warm) / len(choices), 2),
        "cold_ms_all_topics": round(max(cold) / len(choices), 2),
        "topics_at_build_ms": round(statistics.median(topics_at_build), 1),
        "first_ms_per_preview": round(statistics.median(first) / len(choices), 2),
    }


def real_text_papers(count: int):
    """`count` papers with real titles and abstracts (the shipped samples, repeated), so that
    common words are as common and as short as in arXiv text."""
    from newsletter.matching import IndexedPaper
    from papers.sample_data import sample_papers

    records = sample_papers()
    return [
        IndexedPaper(
            id=n + 1,
            title=records[n % len(records)]["title"],
            abstract=records[n % len(records)]["abstract"],
            categories=records[n % len(records)]["categories"],
        )
        for n in range(count)
    ]


def crafted_queries(papers) -> dict[str, str]:
    """Forty three-word phrases of the commonest short words (a reader's query may have 40
    terms and 500 characters), OR-ed and AND-ed."""
    from newsletter.matching import normalise_words

    counts = Counter()
    for paper in papers[:500]:
        counts.update(set(normalise_words(paper.abstract)))
    common = [word for word, _ in counts.most_common(200) if len(word) <= 3][:12]
    rng = random.Random(3)
    phrases = ['"' + " ".join(rng.sample(common, 3)) + '"' for _ in range(40)]
    texts = {"40 phrases OR-ed": " OR ".join(phrases), "40 phrases AND-ed": " ".join(phrases)}
    for name, text in list(texts.items()):
        while len(text) > 500:  # the longest a query may be: drop phrases until it fits
            text = text.rsplit(" OR " if "OR" in name else " ", 1)[0]
        texts[name] = text
    return texts


def measure_crafted(count: int) -> dict:
    from newsletter.matching import QuerySyntaxError, parse_query

    papers = real_text_papers(count)
    results = {}
    for name, text in crafted_queries(papers).items():
        index = build_index(papers)
        started = time.perf_counter()
        try:
            outcome = f"{len(index.search(parse_query(text)))} papers"
        except QuerySyntaxError as error:
            outcome = f"refused: {error}"
        results[name] = {
            "phrases": text.count('"') // 2,
            "ms": round(1000 * (time.perf_counter() - started), 1),
            "outcome": outcome,
        }
    return results


def make_readers(*, count: int, topic_filters, own_queries, rng: random.Random):
    """(topic filters, own filter, authors) per reader, spread like bench/datagen.py's."""
    from bench.datagen import CATEGORIES, FIRST_NAMES, LAST_NAMES

    weights = [1 / (rank + 1) for rank in range(len(topic_filters))]
    authors = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    for _ in range(count):
        followed = {*rng.choices(range(len(topic_filters)), weights, k=rng.randint(1, 4))}
        own = rng.choice(own_queries) if rng.random() < 0.2 else ""
        categories = rng.sample(CATEGORIES, k=1) if rng.random() < 0.1 else []
        names = [rng.choice(authors)] if rng.random() < 0.05 else []
        yield [topic_filters[i] for i in followed], (own, categories), names


def measure_curve(args: argparse.Namespace) -> list[dict]:
    from bench.datagen import vocabulary
    from newsletter.paper_index import PaperWindow

    day = date(2026, 3, 24)
    papers = make_indexed_papers(args.run_papers, day=day, seed=7)
    papers += make_indexed_papers(
        args.run_papers // 4, day=day - timedelta(days=1), seed=8, first_id=len(papers) + 1
    )
    rng = random.Random(7)
    words = sorted(set(vocabulary()))
    topic_filters = [
        (query, categories, strong) for _name, query, categories, strong in starting_topics()
    ]
    while len(topic_filters) < args.topics:
        a, b, c = rng.sample(words, 3)
        topic_filters.append((f'{a} OR "{b} {c}"', [], False))
    takes_strength = "strong_only" in inspect.signature(PaperWindow.filter_matches).parameters
    own_queries = [
        " ".join(rng.sample(words, rng.randint(1, 2)))
        + (f" -{rng.choice(words)}" if rng.random() < 0.3 else "")
        for _ in range(max(10, args.subscribers // 10))
    ]
    window = PaperWindow(
        since=day - timedelta(days=6), until=day, index=build_index(papers), facts={}
    )
    sizes = sorted({max(1, args.subscribers // 100), args.subscribers // 10, args.subscribers})
    readers = make_readers(
        count=max(sizes), topic_filters=topic_filters, own_queries=own_queries, rng=rng
    )
    curve, seconds = [], 0.0
    for count, (topics, (own, categories), names) in enumerate(readers, start=1):
        started = time.perf_counter()
        for query, topic_categories, strong in topics:
            if takes_strength:
                window.filter_matches(query=query, categories=topic_categories, strong_only=strong)
            else:
                window.filter_matches(query=query, categories=topic_categories)
        if own or categories:
            window.filter_matches(query=own, categories=categories)
        for name in names:
            window.author_matches(name)
        seconds += time.perf_counter() - started
        if count in sizes:
            curve.append(
                {
                    "subscribers": count,
                    "distinct_filters": window.filter_evaluations,
                    "seconds": round(seconds, 3),
                }
            )
    return curve


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_django()
    from newsletter import matching

    table = starting_synonyms()
    if table is not None:  # as a worker would have them, without a database here
        matching.use_synonym_source(lambda: table)
    papers = make_indexed_papers(args.papers, day=date(2026, 3, 24), seed=11)
    print(f"index: {len(papers):,} papers", flush=True)
    _index, index_numbers = measure_index(papers)
    print("preview", flush=True)
    preview = measure_preview(papers)
    print("crafted queries", flush=True)
    crafted = measure_crafted(len(papers))
    print(f"matching curve: {args.subscribers:,} readers", flush=True)
    curve = measure_curve(args)
    result = {"index": index_numbers, "preview": preview, "crafted": crafted, "curve": curve}
    rows = [
        ("index build", f"{index_numbers['build_seconds']} s for {len(papers):,} papers"),
        ("index memory kept", f"{index_numbers['kept_mb']} MB"),
        ("preview, cold index", f"{preview['cold_ms_per_preview']} ms "
                                f"(worst {preview['cold_ms_all_topics']} ms)"),
        ("preview, warm index", f"{preview['warm_ms_per_preview']} ms"),
        ("topics matched at build", f"{preview['topics_at_build_ms']} ms"),
        ("first preview after build", f"{preview['first_ms_per_preview']} ms"),
        *((f"crafted: {r['phrases']} {name[3:]}", f"{r['ms']} ms, {r['outcome'][:90]}")
          for name, r in crafted.items()),
        ("matching curve", ", ".join(
            f"{p['subscribers']:,} readers/{p['distinct_filters']:,} filters {p['seconds']} s"
            for p in curve)),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
