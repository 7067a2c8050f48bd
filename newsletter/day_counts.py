"""The dashboard's per-day figures: digests by outcome and votes, for its last DAYS days.

Counting a day's digests reads one index entry per reader, so fourteen days of a big audience
are too many to count on every view. Only today and yesterday (LIVE_DAYS) are counted live:
a day before that is over (every time zone's edition is out) and is counted once into a
DayCount row. A scheduled task counts those days again every REFRESH_HOURS, so a late bounce
or a changed vote shows within that; a day with no row yet (a new install, a missed task) is
counted the first time the dashboard needs it.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from newsletter.models import DayCount, Digest, Rating

DAYS = 14
LIVE_DAYS = 2  # today and yesterday
REFRESH_HOURS = 6
DIGEST_FIELDS = {
    Digest.Status.SENT: "digests_sent",
    Digest.Status.FAILED: "digests_failed",
    Digest.Status.SKIPPED_EMPTY: "digests_skipped",
}
VOTE_FIELDS = ("votes_up", "votes_down")


def digests_per_day(first: dt.date, last: dt.date) -> dict[dt.date, dict[str, int]]:
    """Digests sent, failed and skipped per edition, counted now: {day: {field: n}}, with
    only the non-zero fields."""
    counts: dict[dt.date, dict[str, int]] = {day: {} for day in days_between(first, last)}
    # By status too, so the (status, edition_on) index answers alone.
    for day, status, n in (
        Digest.objects.filter(
            status__in=list(DIGEST_FIELDS), edition_on__gte=first, edition_on__lte=last
        )
        .order_by()
        .values_list("edition_on", "status")
        .annotate(n=Count("pk"))
    ):
        counts[day][DIGEST_FIELDS[status]] = n
    return counts


def votes_per_day(first: dt.date, last: dt.date) -> dict[dt.date, tuple[int, int]]:
    """(👍, 👎) cast on each day that had a vote, counted now."""
    return {
        day: (up, down)
        for day, up, down in Rating.objects.filter(
            rated_at__gte=start_of(first), rated_at__lt=start_of(last + dt.timedelta(days=1))
        )
        .annotate(day=TruncDate("rated_at"))
        .order_by()
        .values_list("day")
        .annotate(**vote_counts())
        .values_list("day", "up", "down")
    }


def vote_counts() -> dict[str, Count]:
    # Counting votes, not ids: (rated_at, vote, paper) holds every column these counts read.
    return {
        "up": Count("vote", filter=Q(vote=Rating.Vote.UP)),
        "down": Count("vote", filter=Q(vote=Rating.Vote.DOWN)),
    }


def over_days(*, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last of the dashboard's days that come from DayCount rows."""
    return today - dt.timedelta(days=DAYS - 1), today - dt.timedelta(days=LIVE_DAYS)


def counted_days(*, today: dt.date) -> dict[dt.date, DayCount]:
    """The stored figures of the dashboard's days that are over; a day without a row is
    counted now and stored, so it is counted once."""
    first, last = over_days(today=today)
    stored = {row.day: row for row in DayCount.objects.filter(day__gte=first, day__lte=last)}
    missing = [day for day in days_between(first, last) if day not in stored]
    if missing:
        stored.update(_count_and_store(min(missing), max(missing), only=set(missing)))
    return stored


def day_counts_refresh(*, today: dt.date) -> int:
    """Count the dashboard's days that are over again (a late bounce, a changed vote, a
    reader erased since) and drop rows the dashboard no longer shows. Returns the days counted."""
    first, last = over_days(today=today)
    DayCount.objects.filter(day__lt=first).delete()
    return len(_count_and_store(first, last))


def _count_and_store(
    first: dt.date, last: dt.date, *, only: set[dt.date] | None = None
) -> dict[dt.date, DayCount]:
    now = timezone.now()
    digests = digests_per_day(first, last)
    votes = votes_per_day(first, last)
    rows = [
        DayCount(
            day=day,
            counted_at=now,
            **digests[day],
            **dict(zip(VOTE_FIELDS, votes.get(day, (0, 0)), strict=True)),
        )
        for day in days_between(first, last)
        if only is None or day in only
    ]
    DayCount.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["day"],
        update_fields=[*DIGEST_FIELDS.values(), *VOTE_FIELDS, "counted_at"],
    )
    return {row.day: row for row in rows}


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
