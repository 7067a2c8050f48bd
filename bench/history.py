"""Past days for the bench's readers, generated inside PostgreSQL: digests for every day, items
as kept.

The history ends 8 days before the benched day and its papers are dated then, so the day's
window and matching are the same as on day 1; what grows is what the day reads about the past
("never twice", the previous edition), which is the point. Items exist only for the last
DIGEST_ITEM_RETENTION_DAYS of it: older ones the nightly purge would have removed.

Papers are made in Python (they need text) and COPYed; digests and items are one
`INSERT … SELECT generate_series` per month, written by the server itself with the foreign-key
triggers off for the session (the rows are consistent by construction): a year for 20,000
readers is 7.3 M digests and 16.6 M items, far too many to send through a client.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection

from bench.datagen import make_papers
from newsletter.digests.bulk_sql import copy_insert
from newsletter.models import Subscriber

PAPERS_PER_DAY = 30
ITEMS_PER_DIGEST = 10
CHUNK_DAYS = 30

DIGESTS_SQL = """
INSERT INTO newsletter_digest (
    subscriber_id, edition_on, covers_from, covers_to, status, paper_count, more_count,
    matched_count, more_paper_ids, more_reasons, subject, message_id, attempts, last_error,
    claimed_by, created_at, sent_at)
SELECT s.id, d::date, d::date, d::date, 'sent', %(items)s, 0, %(items)s, '[]', '[]',
       'history', '<digest.' || to_char(d, 'YYYYMMDD') || '.' || s.id || '@bench.invalid>', 1, '',
       '',
       d + interval '6 hours', d + interval '7 hours'
FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') AS d
CROSS JOIN newsletter_subscriber AS s
WHERE s.status = 'active'
"""

# Ten distinct papers of the digest's own day, a different ten per reader: (subscriber, paper)
# stays unique because every day has its own papers.
ITEMS_SQL = """
INSERT INTO newsletter_digestitem (digest_id, subscriber_id, paper_id, rank, reasons)
SELECT g.id, g.subscriber_id,
       p.ids[1 + (g.subscriber_id + r) %% array_length(p.ids, 1)], r, '[]'
FROM newsletter_digest AS g
JOIN (SELECT announced_on, array_agg(id ORDER BY id) AS ids
      FROM papers_paper WHERE announced_on BETWEEN %(first)s AND %(last)s
      GROUP BY announced_on) AS p ON p.announced_on = g.edition_on
CROSS JOIN generate_series(1, %(items)s) AS r
WHERE g.edition_on BETWEEN %(first)s AND %(last)s AND g.subject = 'history'
"""


def fill_history(
    *,
    days: int,
    day: date,
    papers_per_day: int = PAPERS_PER_DAY,
    end_gap_days: int = 7,
    seed: int = 11,
) -> dict:
    """`days` past editions for every active reader, the last `end_gap_days` + 1 days before
    `day`; papers_per_day of their own papers a day (at least ITEMS_PER_DIGEST)."""
    rng = random.Random(seed)
    started = time.perf_counter()
    readers = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).count()
    keep = settings.DIGEST_ITEM_RETENTION_DAYS
    last = day - timedelta(days=end_gap_days + 1)
    first = last - timedelta(days=days - 1)
    numbers: dict[str, int] = {}
    for offset in range(days):
        edition = first + timedelta(days=offset)
        month = f"{edition:%y%m}"
        start = numbers.get(month, 50_000)
        numbers[month] = start + papers_per_day
        copy_insert(
            make_papers(count=papers_per_day, day=edition, rng=rng, first_number=start),
            with_ids=True,
        )
    papers_s = time.perf_counter() - started
    item_from = max(first, day - timedelta(days=keep))
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers while filling
        try:
            chunk_from = first
            while chunk_from <= last:
                chunk_to = min(chunk_from + timedelta(days=CHUNK_DAYS - 1), last)
                cursor.execute(
                    DIGESTS_SQL,
                    {"items": ITEMS_PER_DIGEST, "first": _at(chunk_from), "last": _at(chunk_to)},
                )
                if chunk_to >= item_from:
                    cursor.execute(
                        ITEMS_SQL,
                        {"items": ITEMS_PER_DIGEST, "first": max(chunk_from, item_from),
                         "last": chunk_to},
                    )  # fmt: skip
                done = (chunk_to - first).days + 1
                print(f"  history: {done}/{days} days, {done * readers:,} digests", flush=True)
                chunk_from = chunk_to + timedelta(days=1)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
    item_days = max(0, (last - item_from).days + 1)
    return {
        "days": days,
        "digests": days * readers,
        "items": item_days * readers * ITEMS_PER_DIGEST,
        "papers": days * papers_per_day,
        "papers_seconds": round(papers_s, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def table_sizes() -> dict[str, dict[str, int]]:
    """Rows (the planner's estimate after ANALYZE) and bytes with indexes, per big table."""
    tables = [
        "newsletter_digest",
        "newsletter_digestitem",
        "newsletter_followup",
        "newsletter_rating",
        "newsletter_subscriber",
        "papers_paper",
        "papers_fetchrun",
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relname = ANY(%s)",
            [tables],
        )
        return {name: {"rows": max(rows, 0), "bytes": size} for name, rows, size in cursor}


def never_twice_seconds(*, day: date, readers: int = 500) -> dict:
    """The builder's reads of a reader's past for one batch, timed: "never twice" (the sent
    items among the window's papers, as newsletter/digests/building.py reads them, and the
    "more" lists of the window's digests) and the previous edition's coverage (its own
    previous_covers_to)."""
    from newsletter.digests.building import already_sent_items, previous_covers_to
    from newsletter.models import Digest
    from papers.models import Paper

    since = day - timedelta(days=6)
    ids = list(
        Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)[:readers]
    )
    window = list(
        Paper.objects.filter(announced_on__gte=since, announced_on__lte=day).values_list(
            "pk", flat=True
        )
    )
    started = time.perf_counter()
    items = already_sent_items(ids, paper_ids=window)
    more = list(
        Digest.objects.filter(subscriber_id__in=ids, edition_on__gte=since).values_list(
            "subscriber_id", "more_paper_ids"
        )
    )
    never_twice_ms = round(1000 * (time.perf_counter() - started), 1)
    started = time.perf_counter()
    previous = previous_covers_to(ids, edition=day)
    return {
        "readers": len(ids),
        "rows": len(items) + len(more),
        "ms": never_twice_ms,
        "previous_edition_ms": round(1000 * (time.perf_counter() - started), 1),
        "previous_edition_rows": len(previous),
    }
