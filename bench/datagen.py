"""A realistic day for the benchmark: arXiv-like papers and subscribers with Zipf-popular topics.

Words come from the shipped sample papers, so titles and abstracts read like arXiv; upvotes
follow a long tail like Hugging Face's; filters spread like a real audience's: most readers
follow one to four popular topics, a fifth add their own query, a few follow categories or
authors.
"""

from __future__ import annotations

import functools
import random
from datetime import date, timedelta
from itertools import islice

from django.db import transaction

from newsletter.matching import normalise_words
from newsletter.models import Subscriber, Topic
from papers.models import Paper
from papers.sample_data import sample_papers

CATEGORIES = ["cs.CV", "cs.LG", "cs.CL", "cs.AI", "stat.ML", "cs.RO", "eess.IV", "cs.GR"]
CATEGORY_WEIGHTS = [30, 25, 20, 10, 5, 4, 3, 3]
FIRST_NAMES = ["Wei", "Anna", "Rahul", "Sofia", "Kenji", "Zoë", "Lukas", "Mei", "Omar", "Ines"]
LAST_NAMES = ["Zhang", "Müller", "Patel", "García", "Tanaka", "Kowalski", "Li", "Haddad"]
TIME_ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Asia/Kolkata",
              "America/Los_Angeles", "Europe/London", "Asia/Tokyo"]  # fmt: skip


@functools.cache
def vocabulary() -> list[str]:
    words: list[str] = []
    for record in sample_papers():
        words += normalise_words(record["title"] + " " + record["abstract"])
    return [word for word in words if len(word) > 3]


def make_papers(*, count: int, day: date, rng: random.Random, first_number: int = 0) -> list[Paper]:
    words = vocabulary()
    authors = [f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES]
    papers = []
    for n in range(count):
        primary = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        cross = rng.sample(CATEGORIES, k=rng.choice([0, 0, 1, 2]))
        names = rng.sample(authors, k=rng.randint(1, 8))
        papers.append(
            Paper(
                arxiv_id=f"{day:%y%m}.{first_number + n:05d}",
                title=" ".join(rng.choices(words, k=rng.randint(6, 14))).capitalize(),
                abstract=" ".join(rng.choices(words, k=rng.randint(120, 220))) + ".",
                authors=names,
                authors_text=", ".join(names),
                primary_category=primary,
                categories=list(dict.fromkeys([primary, *cross])),
                announced_on=day,
                announce_type=rng.choices(["new", "cross"], [85, 15])[0],
                hf_upvotes=int(rng.paretovariate(1.2)) - 1 if rng.random() < 0.3 else 0,
                code_url="https://github.com/example/repo" if rng.random() < 0.3 else "",
            )
        )
    return papers


def make_topics(*, count: int, rng: random.Random) -> list[Topic]:
    existing = list(Topic.objects.all())
    words = sorted(set(vocabulary()))
    new = []
    for n in range(max(0, count - len(existing))):
        a, b, c = rng.sample(words, 3)
        new.append(Topic(name=f"Bench topic {n}", slug=f"bench-topic-{n}",
                         query=f'{a} OR "{b} {c}"', position=1000 + n))  # fmt: skip
    Topic.objects.bulk_create(new)
    return list(Topic.objects.filter(is_active=True))


def make_subscribers(
    *, count: int, topics: list[Topic], distinct_own_queries: int, rng: random.Random
) -> int:
    """Create `count` confirmed subscribers in chunks; returns how many were created."""
    words = sorted(set(vocabulary()))
    own_queries = [
        " ".join(rng.sample(words, rng.randint(1, 2)))
        + (f" -{rng.choice(words)}" if rng.random() < 0.3 else "")
        for _ in range(distinct_own_queries)
    ]
    topic_weights = [1 / (rank + 1) for rank in range(len(topics))]  # Zipf-like popularity
    authors = [f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES]
    created = 0
    rows = (_subscriber(n, rng=rng, own_queries=own_queries, authors=authors) for n in range(count))
    while chunk := list(islice(rows, 5000)):
        with transaction.atomic():
            saved = Subscriber.objects.bulk_create(chunk)
            links = [
                Subscriber.topics.through(subscriber_id=subscriber.pk, topic_id=topic.pk)
                for subscriber in saved
                for topic in {*rng.choices(topics, topic_weights, k=rng.randint(1, 4))}
            ]
            Subscriber.topics.through.objects.bulk_create(links)
        created += len(saved)
    return created


def _subscriber(
    n: int, *, rng: random.Random, own_queries: list[str], authors: list[str]
) -> Subscriber:
    return Subscriber(
        email=f"reader{n}@bench.invalid",
        status=Subscriber.Status.ACTIVE,
        own_query=rng.choice(own_queries) if rng.random() < 0.2 else "",
        categories=rng.sample(CATEGORIES, k=1) if rng.random() < 0.1 else [],
        authors=[rng.choice(authors)] if rng.random() < 0.05 else [],
        frequency=rng.choices(["daily", "weekly"], [80, 20])[0],
        send_hour_local=rng.choice([6, 7, 7, 8, 9]),
        time_zone=rng.choice(TIME_ZONES),
        max_papers=rng.choice([5, 10, 10, 20]),
        include_cross_lists=rng.random() < 0.8,
    )


def make_day(
    *, papers: int, subscribers: int, topics: int, distinct_own_queries: int, day: date, seed: int
) -> dict[str, int]:
    rng = random.Random(seed)
    Paper.objects.bulk_create(make_papers(count=papers, day=day, rng=rng), batch_size=1000)
    yesterday = day - timedelta(days=1)  # history, so "since the previous digest" means something
    Paper.objects.bulk_create(
        make_papers(count=papers // 4, day=yesterday, rng=rng, first_number=papers),
        batch_size=1000,
    )
    topic_rows = make_topics(count=topics, rng=rng)
    created = make_subscribers(
        count=subscribers, topics=topic_rows, distinct_own_queries=distinct_own_queries, rng=rng
    )
    return {"papers": papers, "topics": len(topic_rows), "subscribers": created}


def make_ratings(*, share: float, day: date, seed: int, low: int = 5, high: int = 50) -> int:
    """`share` of the readers rate `low`..`high` papers of the days before `day` (about two
    👍 for each 👎) and ask for a retrain, as a vote does; returns how many readers."""
    from django.utils import timezone

    from newsletter.models import Rating, ReaderModel

    rng = random.Random(seed)
    history = list(Paper.objects.filter(announced_on__lt=day).values_list("pk", flat=True))
    readers = list(Subscriber.objects.order_by("pk").values_list("pk", flat=True))
    raters = sorted(rng.sample(readers, round(share * len(readers)))) if history else []
    now = timezone.now()
    for start in range(0, len(raters), 2000):
        chunk = raters[start : start + 2000]
        ratings = [
            Rating(subscriber_id=reader, paper_id=paper, vote=rng.choice([1, 1, -1]), rated_at=now)
            for reader in chunk
            for paper in rng.sample(history, min(len(history), rng.randint(low, high)))
        ]
        with transaction.atomic():
            Rating.objects.bulk_create(ratings, batch_size=5000)
            ReaderModel.objects.bulk_create(
                [ReaderModel(subscriber_id=reader, requested_at=now) for reader in chunk]
            )
    return len(raters)
