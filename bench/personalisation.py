"""Does a reader's model learn what they want? Simulated readers with a hidden interest (the
labels of bench/data/relevance.jsonl) rate their digest's papers 👍/👎 day after day; after
0, 5, 10 and 20 ratings, precision@10 of the email on held-out papers for keyword-only (the
rules alone), model-only and the blend, for one- and two-interest readers.

    make personalisation                                  # every reader, three day orders
    python -m bench.personalisation --quick               # two readers, one order (tests)
    python -m bench.personalisation --swap                # learn on held-out, judge on tuning
    python -m bench.personalisation --json-out out.json

A reader follows the starting topics of their interests (keyword-only is today's digest:
those topics' matches ranked by the rule score). Each day brings the next DAY_SIZE papers of
the learning part (the tuning split); the reader's email is what the product would send
(the matches re-ranked by the blend, then up to RECOMMEND_MAX_RECOMMENDED recommendations)
and they rate every paper in it by the hidden labels. Precision is measured on the other
split, which no reader ever rates: the email's matched part (top 10), the model's top 10 of
all papers, and the recommendations shown beside them. Two-interest readers are also scored
with one model for both interests ("one model"), to show what keeping interests apart buys.
The code scored is the product's (newsletter.recommend, newsletter.digests.reader_score).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.relevance import LABELS, Matcher, read_labels, setup_django, shipped_definitions

CHECKPOINTS = (0, 5, 10, 20)
DAY_SIZE = 25
TOP = 10
ONE_INTEREST = (
    ("diffusion-models",),
    ("image-generation",),
    ("video-generation",),
    ("3d",),
    ("efficient-inference",),
    ("llms",),
)
TWO_INTERESTS = (
    ("video-generation", "llms"),
    ("3d", "efficient-inference"),
    ("llms", "3d"),
    ("video-generation", "efficient-inference"),
    ("image-generation", "llms"),
)
# One big interest and one or two small ones far from it (the labelled set has ~10x more
# diffusion and image-generation papers than LLM, 3D or efficient-inference ones): a single
# model learns mostly the big one and ranks the small ones' papers out of the email.
UNBALANCED = (
    ("diffusion-models", "llms"),
    ("image-generation", "3d"),
    ("diffusion-models", "efficient-inference"),
    ("image-generation", "llms", "3d"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--seeds", type=int, default=3, help="day orders averaged over")
    parser.add_argument("--swap", action="store_true", help="learn on held-out, judge on tuning")
    parser.add_argument("--quick", action="store_true", help="two readers, one day order")
    parser.add_argument("--json-out", type=Path)
    return parser.parse_args(argv)


@dataclass
class World:
    """The labelled papers as the product sees them: numbers, vectors, topic matches."""

    papers: list
    matcher: Matcher
    topics: dict
    vectors: object  # csr rows, one per paper number
    matrix: object  # scoring.PaperMatrix over every paper
    title_hits: dict[str, frozenset[int]]
    tie_break: dict[int, int]

    @classmethod
    def build(cls, papers) -> World:
        from newsletter.recommend.representation import Tfidf, document_frequencies, paper_text
        from newsletter.recommend.scoring import PaperMatrix

        topics, rules = shipped_definitions()
        matcher = Matcher(papers, rules)
        texts = [paper_text(p.title, p.abstract) for p in papers]
        frequencies, documents = document_frequencies(texts)
        tfidf = Tfidf.from_frequencies(key="bench", frequencies=frequencies, documents=documents)
        vectors = tfidf.vectors(texts)
        ids = np.arange(len(papers), dtype=np.int64)
        matrix = PaperMatrix.of_vectors(ids, vectors, tfidf_key="bench")
        title_hits = {}
        for topic in topics:
            if topic.query.strip():
                query = matcher.matching.parse_query(topic.query, synonyms=matcher.synonyms)
                title_hits[topic.slug] = matcher.index.matches(query).strong
        order = list(range(len(papers)))
        random.Random(7).shuffle(order)  # stands in for the edition's upvotes/recency order
        return cls(
            papers=papers,
            matcher=matcher,
            topics={topic.slug: topic for topic in topics},
            vectors=vectors,
            matrix=matrix,
            title_hits=title_hits,
            tie_break={n: position for position, n in enumerate(order)},
        )


@dataclass
class Reader:
    interests: tuple[str, ...]
    relevant: frozenset[int]
    matches: dict[int, tuple[int, bool]]  # paper -> (agreeing topics, title hit)
    topic_matches: tuple[frozenset[int], ...]  # per followed topic, the papers it matches
    smallest: frozenset[int]  # the papers of the interest with the fewest labelled papers

    @classmethod
    def make(cls, world: World, interests: tuple[str, ...]) -> Reader:
        relevant = frozenset(n for n, p in enumerate(world.papers) if p.relevant & set(interests))
        agreeing: dict[int, int] = defaultdict(int)
        titled: set[int] = set()
        per_topic = []
        for slug in interests:
            found = world.matcher.topic_matches(world.topics[slug], strong=True)
            per_topic.append(found)
            for n in found:
                agreeing[n] += 1
            titled |= found & world.title_hits.get(slug, frozenset())
        by_interest = [
            frozenset(n for n, p in enumerate(world.papers) if slug in p.relevant)
            for slug in interests
        ]
        return cls(
            interests,
            relevant,
            {n: (a, n in titled) for n, a in agreeing.items()},
            tuple(per_topic),
            min(by_interest, key=len),
        )

    def liked_filters(self, liked: Sequence[int]) -> np.ndarray:
        """What the product's training reads off a reader's filters: the first followed topic
        each liked paper matches (-1: none, e.g. a recommended paper)."""
        told = np.full(len(liked), -1, dtype=np.int64)
        for number in reversed(range(len(self.topic_matches))):
            told[[n in self.topic_matches[number] for n in liked]] = number
        return told

    def order(self, n: int) -> tuple[bool, float, int]:
        """The digest's key for a matched paper: not featured, -rule score, tie-break."""
        from newsletter.digests.ranking import reader_score

        agreeing, title_hit = self.matches[n]
        score = reader_score(
            strong_hit=title_hit, text_hit=True, author_hit=False, agreeing_filters=agreeing
        )
        return False, -score, WORLD.tie_break[n]


WORLD: World


def train(
    world: World, reader: Reader, ratings, *, interests: int, seed: int, pool, by_filter=True
):
    from newsletter.recommend import training

    if not ratings:
        return None
    rated = {n for n, _vote in ratings}
    liked = [n for n, vote in ratings if vote > 0]
    disliked = [n for n, vote in ratings if vote < 0]
    background_pool = [n for n in pool if n not in rated]
    rng = random.Random(seed * 7919 + len(ratings))
    background = sorted(rng.sample(background_pool, min(training.BACKGROUND_PAPERS, len(pool))))
    return training.train(
        liked=world.vectors[liked],
        disliked=world.vectors[disliked],
        background=world.vectors[background],
        interests=interests,
        seed=seed,
        liked_filters=reader.liked_filters(liked) if by_filter and interests > 1 else None,
    )


def personal(world: World, model, ratings: int):
    from newsletter.recommend.scoring import ReaderScores, interest_scores

    table, relative = interest_scores([model], world.matrix.tfidf_by_term)
    positives = int(model.liked.shape[0])
    return ReaderScores(
        0,
        ratings,
        positives,
        table[0],
        relative[0],
        model,
        world.matrix.tfidf_by_term,
        world.matrix,
    )


def email(world: World, reader: Reader, papers: Sequence[int], scores, *, recommend: int):
    """(matched part in order, recommendations) of a digest over `papers`."""
    from newsletter.recommend import recommendations

    matched = [n for n in papers if n in reader.matches]
    if scores is None:
        top = sorted(matched, key=reader.order)[:TOP]
        return top, []
    top = recommendations.reranked(
        scores,
        candidates=np.asarray(matched, dtype=np.int64),
        order=recommendations.RuleOrder.of([reader.order(n) for n in matched]),
        limit=TOP,
    )
    extra = recommendations.recommended(
        scores, eligible=frozenset(papers), excluded=set(matched), count=recommend
    )
    return top, [n for n, _like in extra]


def precision(shown: Sequence[int], relevant: frozenset[int]) -> float | None:
    if not shown:
        return None
    return sum(1 for n in shown if n in relevant) / len(shown)


@dataclass
class Tally:
    values: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, method: str, ratings: int, value: float | None) -> None:
        if value is not None:
            self.values[(method, ratings)].append(value)

    def mean(self, method: str, ratings: int) -> float | None:
        found = self.values.get((method, ratings))
        return round(sum(found) / len(found), 3) if found else None


def kept(shown: Sequence[int], reader: Reader) -> float | None:
    """How many of the email's top 10 are the smallest interest's papers."""
    if len(reader.interests) < 2 or not shown:
        return None
    return float(sum(1 for n in shown if n in reader.smallest))


def evaluate(world, reader, ratings, *, seed, pool, judged, tally, recommend):
    count = len(ratings)
    keyword, _ = email(world, reader, judged, None, recommend=0)
    tally.add("keyword", count, precision(keyword, reader.relevant))
    tally.add("small interest in top 10: keyword", count, kept(keyword, reader))
    variants = [("", len(reader.interests))]
    if len(reader.interests) > 1:
        variants.append((" (one model)", 1))
    for suffix, interests in variants:
        model = train(world, reader, ratings, interests=interests, seed=seed, pool=pool)
        if model is None:
            tally.add("blend" + suffix, count, precision(keyword, reader.relevant))
            tally.add("small interest in top 10: blend" + suffix, count, kept(keyword, reader))
            continue
        scores = personal(world, model, count)
        judged_scores = scores.probabilities[np.asarray(judged)]
        best = [judged[i] for i in np.argsort(-judged_scores, kind="stable")[:TOP]]
        tally.add("model" + suffix, count, precision(best, reader.relevant))
        top, extra = email(world, reader, judged, scores, recommend=recommend)
        tally.add("blend" + suffix, count, precision(top, reader.relevant))
        tally.add("small interest in top 10: blend" + suffix, count, kept(top, reader))
        if not suffix:
            tally.add("recommended", count, precision(extra, reader.relevant))


def simulate(world, reader, *, seed, learn, judged, tally, recommend) -> int:
    """One reader, one day order: returns the ratings they gave."""
    days = list(learn)
    random.Random(seed).shuffle(days)
    ratings: list[tuple[int, int]] = []
    evaluate(world, reader, ratings, seed=seed, pool=learn, judged=judged, tally=tally,
             recommend=recommend)  # fmt: skip
    goal = CHECKPOINTS[-1]
    model = None
    for start in range(0, len(days), DAY_SIZE):
        today = days[start : start + DAY_SIZE]
        scores = personal(world, model, len(ratings)) if model is not None else None
        top, extra = email(world, reader, today, scores, recommend=recommend)
        for n in [*top, *extra]:
            ratings.append((n, 1 if n in reader.relevant else -1))
            if len(ratings) in CHECKPOINTS:
                evaluate(world, reader, ratings, seed=seed, pool=learn, judged=judged,
                         tally=tally, recommend=recommend)  # fmt: skip
            if len(ratings) >= goal:
                return len(ratings)
        model = train(
            world, reader, ratings, interests=len(reader.interests), seed=seed, pool=learn
        )  # fmt: skip  (the nightly retrain)
    return len(ratings)


def run(args: argparse.Namespace) -> dict:
    global WORLD
    from django.conf import settings

    papers = read_labels(args.labels)
    WORLD = world = World.build(papers)
    learn_split, judge_split = ("held-out", "tuning") if args.swap else ("tuning", "held-out")
    learn = [n for n, p in enumerate(papers) if p.split == learn_split]
    judged = [n for n, p in enumerate(papers) if p.split == judge_split]
    kinds = {
        "one interest": ONE_INTEREST,
        "two interests": TWO_INTERESTS,
        "unbalanced interests": UNBALANCED,
    }
    seeds = range(1 if args.quick else args.seeds)
    if args.quick:
        kinds = {kind: readers[:1] for kind, readers in kinds.items()}
    report: dict = {"learn": learn_split, "judged": judge_split, "kinds": {}}
    for kind, readers in kinds.items():
        tally = Tally()
        reached = []
        for interests in readers:
            reader = Reader.make(world, interests)
            for seed in seeds:
                reached.append(
                    simulate(
                        world,
                        reader,
                        seed=seed,
                        learn=learn,
                        judged=judged,
                        tally=tally,
                        recommend=settings.RECOMMEND_MAX_RECOMMENDED,
                    )  # fmt: skip
                )
        methods = sorted({method for method, _n in tally.values}, key=METHOD_ORDER.index)
        report["kinds"][kind] = {
            "readers": [list(r) for r in readers],
            "runs": len(reached),
            "ratings_reached_min": min(reached),
            "precision_at_10": {
                method: {str(n): tally.mean(method, n) for n in CHECKPOINTS} for method in methods
            },
        }
    return report


METHOD_ORDER = [
    "keyword",
    "model",
    "blend",
    "recommended",
    "model (one model)",
    "blend (one model)",
    "small interest in top 10: keyword",
    "small interest in top 10: blend",
    "small interest in top 10: blend (one model)",
]


def print_report(report: dict) -> None:
    print(f"precision@10 on the {report['judged']} papers (readers learn on {report['learn']})")
    for kind, found in report["kinds"].items():
        table = found["precision_at_10"]
        print(
            f"\n{kind}: {len(found['readers'])} readers x {found['runs'] // len(found['readers'])}"
            f" day orders ({', '.join('+'.join(r) for r in found['readers'])})"
        )
        print(f"{'ratings':<44}" + "".join(f"{n:>8}" for n in CHECKPOINTS))
        for method, values in table.items():
            cells = "".join(
                f"{'—' if values[str(n)] is None else f'{values[str(n)]:.2f}':>8}"
                for n in CHECKPOINTS
            )
            print(f"{method:<44}{cells}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_django(from_database=False)
    report = run(args)
    print_report(report)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
