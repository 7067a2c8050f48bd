"""How long a digest's item rows are kept, and their removal in small batches.

An item row is needed while something reads it: "never the same paper twice" only for papers
that can still be picked (a digest covers at most 7 days back), follow-ups read the last 30
days of items, and a digest's "view in the browser" link lists its items for as long as the
link lives (90 days, signing.MAX_AGE). DIGEST_ITEM_RETENTION_DAYS (default 90) is the longest
of those; older rows go. Digest rows themselves stay (one small row per reader and day).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from newsletter.models import DigestItem


def digest_item_cutoff(*, today: dt.date, keep_days: int | None = None) -> dt.date:
    """Items of editions before this date are no longer needed."""
    days = settings.DIGEST_ITEM_RETENTION_DAYS if keep_days is None else keep_days
    return today - dt.timedelta(days=days)


def digest_items_purge(
    *, today: dt.date, batch_size: int | None = None, max_batches: int = 10_000
) -> int:
    """Delete items of editions older than the cutoff, one short transaction per batch so
    the day's sending never waits behind a long delete. Returns how many rows went."""
    size = settings.DIGEST_ITEM_PURGE_BATCH if batch_size is None else batch_size
    if size < 1:
        raise ValueError(f"batch_size must be at least 1, got {size}")
    old = DigestItem.objects.filter(digest__edition_on__lt=digest_item_cutoff(today=today))
    deleted = 0
    for _ in range(max_batches):
        with transaction.atomic():
            ids = list(old.order_by().values_list("pk", flat=True)[:size])
            if not ids:
                break
            deleted += DigestItem.objects.filter(pk__in=ids).delete()[0]
    return deleted
