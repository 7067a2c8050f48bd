"""What follow-ups cost a digest run: queries and time to choose the updates of one chunk of
readers, each sent 10 papers a day for 30 days, against a month of papers with news.

    python -m bench.followups [--readers 2000] [--chunk 500] [--json]

It creates a throwaway PostgreSQL database (<DATABASE_URL's name>_followups), fills it in
bulk (COPY), times newsletter.followups.plans_add_followups per chunk, and drops it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from urllib.parse import urlsplit, urlunsplit

PAPERS_PER_DAY = 2_000
DAYS = 30
SENT_PER_DAY = 10
SENT_ON_HF_PER_DAY = 2
LIKES_PER_READER = 5
# Papers of the month with news: Hugging Face's ~50 a day have moving upvotes; a few release
# code or a new version.
WITH_UPVOTE_NEWS = 1_500
WITH_CODE_NEWS = 300
WITH_VERSION_NEWS = 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2_000)
    parser.add_argument(
        "--chunk", type=int, default=500, help="readers per chunk (DIGEST_BATCH_SIZE)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args(argv)


def throwaway_database() -> str:
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paperboy"))
    name = base.path.lstrip("/") + "_followups"
    import psycopg

    admin = urlunsplit(base._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(base._replace(path=f"/{name}"))
    return admin


def drop(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def progress(message: str) -> None:
    print(f"[followups bench] {message}", file=sys.stderr, flush=True)


def fill(*, readers: int, now: dt.datetime, rng: random.Random) -> None:
    from newsletter.digests import copy_insert, copy_rows
    from newsletter.models import Digest, DigestItem, Rating, Subscriber
    from papers.models import Paper, UpvoteCount

    today = now.date()
    progress(f"{PAPERS_PER_DAY * DAYS:,} papers")
    papers = [
        Paper(
            arxiv_id=f"2501.{n:06d}",
            title=f"Paper {n}",
            announced_on=today - dt.timedelta(days=n // PAPERS_PER_DAY),
        )
        for n in range(PAPERS_PER_DAY * DAYS)
    ]
    copy_insert(papers, with_ids=True)
    ids = [paper.pk for paper in papers]
    news = rng.sample(ids, WITH_UPVOTE_NEWS + WITH_CODE_NEWS + WITH_VERSION_NEWS)
    upvotes, code, version = (
        news[:WITH_UPVOTE_NEWS],
        news[WITH_UPVOTE_NEWS : WITH_UPVOTE_NEWS + WITH_CODE_NEWS],
        news[WITH_UPVOTE_NEWS + WITH_CODE_NEWS :],
    )
    moments = lambda: now - dt.timedelta(hours=rng.randrange(1, 24 * DAYS))  # noqa: E731
    counts = []
    for pid in upvotes:
        now_upvotes = rng.randrange(1, 400)
        Paper.objects.filter(pk=pid).update(hf_upvotes=now_upvotes, hf_upvotes_changed_at=moments())
        # Counted at half of today's upvotes three weeks ago: some crossed the threshold since.
        counts.append(
            UpvoteCount(
                paper_id=pid, counted_on=today - dt.timedelta(days=21), upvotes=now_upvotes // 2
            )
        )
    UpvoteCount.objects.bulk_create(counts)
    for pid in code:
        Paper.objects.filter(pk=pid).update(
            code_url="https://github.com/a/b", code_link_seen_at=moments()
        )
    for pid in version:
        Paper.objects.filter(pk=pid).update(latest_version=2, abstract_changed_at=moments())

    progress(f"{readers:,} readers, {readers * DAYS:,} sent digests")
    subscribers = [
        Subscriber(email=f"r{n}@bench.invalid", status="active", followups_alone=True)
        for n in range(readers)
    ]
    copy_insert(subscribers, with_ids=True)
    # Readers get what trends more often than the rest: a fifth of their papers are on Hugging
    # Face (2.5 % of all papers are).
    popular = news[:WITH_UPVOTE_NEWS]
    digests, items = [], []
    for subscriber in subscribers:
        for back in range(1, DAYS + 1):
            day = today - dt.timedelta(days=back)
            digests.append(
                Digest(
                    subscriber_id=subscriber.pk,
                    edition_on=day,
                    covers_from=day,
                    covers_to=day,
                    status=Digest.Status.SENT,
                    sent_at=dt.datetime.combine(day, dt.time(7), dt.UTC),
                    message_id=f"<{subscriber.pk}.{day}@bench>",
                )
            )
    copy_insert(digests, with_ids=True)
    for digest in digests:
        first = ((today - digest.edition_on).days - 1) * PAPERS_PER_DAY
        day_ids = ids[first : first + PAPERS_PER_DAY]
        chosen = set(
            rng.sample(day_ids, SENT_PER_DAY - SENT_ON_HF_PER_DAY)
            + rng.sample(popular, SENT_ON_HF_PER_DAY)
        )
        items += [(digest.pk, digest.subscriber_id, pid, rank) for rank, pid in enumerate(chosen)]
    seen: set[tuple[int, int]] = set()
    unique_items = []
    for digest_id, reader_id, pid, rank in items:
        if (reader_id, pid) not in seen:
            seen.add((reader_id, pid))
            unique_items.append((digest_id, reader_id, pid, rank + 1, []))
    progress(f"{len(unique_items):,} digest items")
    copy_rows(
        DigestItem, ("digest_id", "subscriber_id", "paper_id", "rank", "reasons"), unique_items
    )
    likes = [
        Rating(subscriber_id=s.pk, paper_id=pid, vote=1, rated_at=moments())
        for s in subscribers
        for pid in rng.sample(ids, LIKES_PER_READER)
    ]
    Rating.objects.bulk_create(likes, ignore_conflicts=True, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(*, chunk: int, now: dt.datetime) -> dict[str, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from newsletter.digests import DigestPlan
    from newsletter.followups import plans_add_followups
    from newsletter.models import Subscriber

    subscribers = list(Subscriber.objects.order_by("pk"))
    samples, queries, told, slowest = [], [], [], []
    for start in range(0, len(subscribers), chunk):
        plans = [
            DigestPlan(s, now.date(), now.date(), now.date(), [], 0)
            for s in subscribers[start : start + chunk]
        ]
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            plans_add_followups(plans, now=now)
            samples.append((time.perf_counter() - began) * 1000)
        queries.append(len(captured.captured_queries))
        slowest.append(max(captured.captured_queries, key=lambda q: float(q["time"])))
        told += [len({f.paper_id for f in plan.followups}) for plan in plans]
        progress(f"chunk {start // chunk + 1}: {samples[-1]:.0f} ms, {queries[-1]} queries")
    return {
        "readers": len(subscribers),
        "chunk": chunk,
        "ms_per_chunk_median": round(statistics.median(samples), 1),
        "ms_per_chunk_max": round(max(samples), 1),
        "queries_per_chunk": max(queries),
        "ms_per_reader": round(statistics.median(samples) / chunk, 3),
        "papers_with_updates_per_reader_mean": round(statistics.mean(told), 2),
        "slowest_query_s": slowest[-1]["time"],
        "slowest_query": slowest[-1]["sql"][:300],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    admin = throwaway_database()
    name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        now = dt.datetime(2025, 3, 25, 7, 0, tzinfo=dt.UTC)
        began = time.perf_counter()
        fill(readers=args.readers, now=now, rng=random.Random(15))
        progress(f"filled in {time.perf_counter() - began:.0f} s")
        result = measure(chunk=args.chunk, now=now)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_database:
            drop(admin, name)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:40} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
