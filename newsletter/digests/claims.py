"""Claims and leases: which worker holds which digest, and which digests were lost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from newsletter.digests.editions import WINDOW_DAYS
from newsletter.models import Digest

# Clocks of workers and the database host differ a little; a retry may arrive this early.
CLOCK_SLACK = dt.timedelta(seconds=2)


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.DIGEST_LEASE_SECONDS)


def claim_digests(*, digest_ids: Sequence[int], token: str) -> list[int]:
    """Take the digests among `digest_ids` that nobody holds, for one lease.

    FOR UPDATE SKIP LOCKED: two workers never take the same row, and neither waits for the
    other. A digest is free when pending (and its retry time has come), when its holder's
    lease ran out (the holder died), or when `token` is the holder's own (a task redelivered
    after its worker was killed resumes its own batch at once).
    """
    if not digest_ids:
        return []
    now = timezone.now()
    free = (
        Q(status=Digest.Status.PENDING)
        & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now + CLOCK_SLACK))
    ) | (Q(status=Digest.Status.SENDING) & (Q(lease_expires_at__lte=now) | Q(claimed_by=token)))
    with transaction.atomic():
        ids = list(
            Digest.objects.select_for_update(skip_locked=True)
            .filter(free, pk__in=list(digest_ids))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            Digest.objects.filter(pk__in=ids).update(
                status=Digest.Status.SENDING,
                claimed_by=token,
                lease_expires_at=now + lease_length(),
                attempts=F("attempts") + 1,
            )
    return ids


def stale_digest_ids(*, now: dt.datetime | None = None) -> list[int]:
    """Digests whose task was lost: built but never taken, a retry that never came, or held
    by a worker whose lease ran out. Recent editions only, oldest first."""
    now = now or timezone.now()
    lease = lease_length()
    stale = (
        Q(status=Digest.Status.PENDING, lease_expires_at__isnull=True, created_at__lt=now - lease)
        | Q(status=Digest.Status.PENDING, lease_expires_at__lt=now - lease)
        | Q(status=Digest.Status.SENDING, lease_expires_at__lt=now)
    )
    return list(
        Digest.objects.filter(
            stale, edition_on__gte=timezone.localdate(now) - dt.timedelta(days=WINDOW_DAYS)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
