"""Who is due, for which edition (their local date), and which announcement days it covers."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from newsletter.models import Subscriber

# A digest never reaches further back than this many days before its edition.
WINDOW_DAYS = 7


# Weekly readers get their digest on this local weekday (Monday).
WEEKLY_ON = 0


@functools.lru_cache(maxsize=1024)
def reader_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_edition(*, at: dt.datetime, time_zone: str) -> dt.date:
    """The edition a reader gets at `at`: their local calendar date."""
    return at.astimezone(reader_zone(time_zone)).date()


def due_subscriber_ids(*, now: dt.datetime) -> Iterator[int]:
    """Active readers whose local send hour has come today and whose edition is not built yet.

    "Has come" (not "is now") lets the next hourly tick catch up anyone a lost tick missed.
    Readers are grouped by what their time zone says about `now`, so this is one query per
    distinct (local date, hour, weekday), never one per reader; ids stream in chunks.
    """
    zones = (
        Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
        .order_by()
        .values_list("time_zone", flat=True)
        .distinct()
    )
    groups: dict[tuple[dt.date, int, bool], list[str]] = defaultdict(list)
    for name in zones:
        local = now.astimezone(reader_zone(name))
        groups[(local.date(), local.hour, local.weekday() == WEEKLY_ON)].append(name)
    for (local_date, hour, weekly_day), names in sorted(groups.items()):
        due = Subscriber.objects.filter(
            Q(last_digest_on__isnull=True) | Q(last_digest_on__lt=local_date),
            status=Subscriber.Status.ACTIVE,
            time_zone__in=names,
            send_hour_local__lte=hour,
        )
        if not weekly_day:
            due = due.filter(frequency=Subscriber.Frequency.DAILY)
        yield from due.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2000)


def gets_edition_of(edition_on: dt.date) -> Q:
    """Which readers a day has an edition for: daily ones always, weekly ones on their day."""
    if edition_on.weekday() == WEEKLY_ON:
        return Q()
    return Q(frequency=Subscriber.Frequency.DAILY)


def active_subscriber_ids(
    *, email: str | None = None, edition_on: dt.date | None = None
) -> Iterator[int]:
    """Every confirmed reader (or the one with `email`), streamed: `send_digests --date`.

    Weekly readers only when `edition_on` is their weekday: one email a week, whatever runs.
    """
    readers = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
    if edition_on is not None:
        readers = readers.filter(gets_edition_of(edition_on))
    if email:  # through the lower(email) unique index, which iexact's UPPER() cannot use
        readers = readers.alias(mailbox=Lower("email")).filter(mailbox=email.lower())
    yield from readers.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2000)


def chunked(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for item in ids:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def coverage(
    *,
    edition_on: dt.date,
    frequency: str,
    previous_covers_to: dt.date | None,
    latest_day: dt.date | None,
) -> tuple[dt.date, dt.date]:
    """The announcement days [from, to] a digest covers; from > to means nothing new.

    It ends at the latest announcement day on or before the edition (papers announced after
    a digest was built go into the next one), starts the day after the previous digest ended,
    and never reaches back more than WINDOW_DAYS. A first daily digest covers the latest
    announcement day; a weekly one, the last WINDOW_DAYS days.
    """
    floor = edition_on - dt.timedelta(days=WINDOW_DAYS - 1)
    covers_to = latest_day or edition_on
    if previous_covers_to is not None:
        covers_from = max(floor, previous_covers_to + dt.timedelta(days=1))
    elif frequency == Subscriber.Frequency.WEEKLY:
        covers_from = floor
    else:
        covers_from = covers_to
    return covers_from, covers_to


def message_id_for(*, subscriber_id: int, edition_on: dt.date) -> str:
    """Derived from the digest's identity, so a resend carries the same Message-ID."""
    return f"<digest.{edition_on:%Y%m%d}.{subscriber_id}@{settings.SITE_HOST}>"


def reader_editions(
    subscribers: Iterable[Subscriber],
    *,
    run_at: dt.datetime | None = None,
    edition_on: dt.date | None = None,
) -> dict[int, dt.date]:
    if edition_on is not None:
        return {subscriber.pk: edition_on for subscriber in subscribers}
    at = run_at or timezone.now()
    return {
        subscriber.pk: local_edition(at=at, time_zone=subscriber.time_zone)
        for subscriber in subscribers
    }


def next_edition(subscriber: Subscriber, *, now: dt.datetime) -> dt.date:
    """The edition the reader gets next: today in their time zone, or tomorrow once built."""
    edition = local_edition(at=now, time_zone=subscriber.time_zone)
    if subscriber.last_digest_on is not None and subscriber.last_digest_on >= edition:
        edition = subscriber.last_digest_on + dt.timedelta(days=1)
    return edition
