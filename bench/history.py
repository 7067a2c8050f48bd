"""Past days for the bench's readers, written with COPY: digests for every day, items as kept.

The history ends 8 days before the benched day and its papers are dated then, so the day's
window and matching are the same as on day 1; what grows is what the day reads about the past
("never twice", the previous edition), which is the point. Items exist only for the last
DIGEST_ITEM_RETENTION_DAYS of it: older ones the nightly purge would have removed.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta

from django.conf import settings

from bench.datagen import make_papers
from newsletter.digests.bulk_sql import copy_insert, copy_rows
from newsletter.models import Digest, DigestItem, Subscriber

PAPERS_PER_DAY = 30
ITEMS_PER_DIGEST = 10


def fill_history(*, days: int, day: date, seed: int = 11) -> dict:
    rng = random.Random(seed)
    started = time.perf_counter()
    readers = list(
        Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).values_list("pk", flat=True)
    )
    keep = settings.DIGEST_ITEM_RETENTION_DAYS
    digests = items = 0
    for back in range(days, 0, -1):
        edition = day - timedelta(days=back + 7)
        papers = make_papers(
            count=PAPERS_PER_DAY, day=edition, rng=rng, first_number=90_000 + back * 100
        )
        copy_insert(papers, with_ids=True)
        sent_at = datetime(edition.year, edition.month, edition.day, 7, tzinfo=UTC)
        rows = [
            Digest(
                subscriber_id=reader,
                edition_on=edition,
                covers_from=edition,
                covers_to=edition,
                status=Digest.Status.SENT,
                paper_count=ITEMS_PER_DIGEST,
                subject="history",
                message_id=f"<h{back}.{reader}@bench.invalid>",
                sent_at=sent_at,
            )
            for reader in readers
        ]
        copy_insert(rows, with_ids=True)
        digests += len(rows)
        if back + 7 <= keep:
            ids = [paper.pk for paper in papers]
            copy_rows(
                DigestItem,
                ["digest_id", "subscriber_id", "paper_id", "rank", "reasons"],
                (
                    (digest.pk, digest.subscriber_id, paper_id, rank, [])
                    for digest in rows
                    for rank, paper_id in enumerate(rng.sample(ids, ITEMS_PER_DIGEST), start=1)
                ),
            )
            items += len(rows) * ITEMS_PER_DIGEST
        if back % 30 == 0:
            print(f"  history: {days - back}/{days} days, {digests} digests", flush=True)
    return {
        "days": days,
        "digests": digests,
        "items": items,
        "seconds": round(time.perf_counter() - started, 1),
    }
