"""Days a run was asked for, and the sweep that finishes them: readers whose edition of such a
day was never built (its fan-out task died with a worker) get a new task, without an operator."""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Exists, OuterRef
from django.utils import timezone

from newsletter.digests.claims import lease_length
from newsletter.digests.editions import WINDOW_DAYS, gets_edition_of
from newsletter.models import Digest, EditionRunRequest, Subscriber

logger = logging.getLogger(__name__)


def edition_run_requested(*, edition_on: dt.date, now: dt.datetime | None = None) -> None:
    """Remember that every reader confirmed by now should get `edition_on`'s digest."""
    EditionRunRequest.objects.update_or_create(
        edition_on=edition_on,
        defaults={"requested_at": now or timezone.now(), "completed_at": None},
    )


def unbuilt_reader_ids(*, request: EditionRunRequest) -> list[int]:
    """Active readers, confirmed when the run was asked for, without that edition's digest
    (weekly readers only on their day: a mid-week run never becomes a weekly email)."""
    has_edition = Digest.objects.filter(subscriber=OuterRef("pk"), edition_on=request.edition_on)
    return list(
        Subscriber.objects.filter(
            ~Exists(has_edition),
            gets_edition_of(request.edition_on),
            status=Subscriber.Status.ACTIVE,
            confirmed_at__lte=request.requested_at,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _still_building(edition_on: dt.date, *, since: dt.datetime) -> bool:
    # The newest digests have the highest ids: this reads back from the end of the table.
    newest = (
        Digest.objects.filter(edition_on=edition_on)
        .order_by("-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    return newest is not None and newest >= since


def unfinished_edition_runs(*, now: dt.datetime | None = None) -> list[tuple[dt.date, list[int]]]:
    """The sweeper's second half: for each requested day of the last week whose run has been
    quiet for a lease (no digest built: its tasks are done or dead), the readers it never
    reached, to be fanned out again; a day with none left is marked complete.

    Enqueueing them twice is harmless: a reader's edition is built once, whoever builds it.
    """
    now = now or timezone.now()
    quiet_since = now - lease_length()
    open_runs = EditionRunRequest.objects.filter(
        completed_at__isnull=True,
        requested_at__lte=quiet_since,
        edition_on__gte=timezone.localdate(now) - dt.timedelta(days=WINDOW_DAYS),
    ).order_by("edition_on")
    unfinished = []
    for request in open_runs:
        if _still_building(request.edition_on, since=quiet_since):
            continue
        reader_ids = unbuilt_reader_ids(request=request)
        if not reader_ids:
            EditionRunRequest.objects.filter(
                pk=request.pk, requested_at=request.requested_at
            ).update(completed_at=now)
            continue
        logger.warning(
            "run of %s: %d readers never got a digest (a task was lost); enqueued again",
            request.edition_on,
            len(reader_ids),
        )
        unfinished.append((request.edition_on, reader_ids))
    return unfinished
