"""The arXiv announcement calendar, in America/New_York, whatever the server's time zone.

arXiv announces at 20:00 Sunday to Thursday (none Friday, Saturday or on its holidays); the
listing of an announcement is dated the next day and its RSS is rebuilt around that midnight.
So listings are dated Monday to Friday, and the listing of day D holds the submissions made
between the two previous 14:00 deadlines. Everything here is computed in local arXiv time, so
a DST change moves nothing.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings

ARXIV_TIME_ZONE = ZoneInfo("America/New_York")
ANNOUNCEMENT_TIME = dt.time(20, 0)
SUBMISSION_DEADLINE = dt.time(14, 0)
# The listing dated D is there from around midnight at the start of D.
LISTING_READY_TIME = dt.time(0, 0)
_ANNOUNCING_WEEKDAYS = {6, 0, 1, 2, 3}  # Sunday to Thursday evenings

# Evenings without an announcement, from arXiv's published holiday schedule. Add later ones
# (and ad-hoc closures) with the ARXIV_HOLIDAYS setting.
PUBLISHED_HOLIDAYS = frozenset(
    dt.date.fromisoformat(day)
    for day in (
        "2023-01-16",
        "2023-06-14",
        "2023-06-19",
        "2023-07-04",
        "2023-09-04",
        "2023-11-23",
        "2023-12-25",
        "2023-12-27",
        "2025-01-01",
        "2025-01-20",
        "2025-06-19",
        "2025-07-06",
        "2025-09-01",
        "2025-11-27",
    )
)


def holidays() -> frozenset[dt.date]:
    extra = {dt.date.fromisoformat(day.strip()) for day in settings.ARXIV_HOLIDAYS if day.strip()}
    return PUBLISHED_HOLIDAYS | extra


def is_announcement_evening(day: dt.date) -> bool:
    return day.weekday() in _ANNOUNCING_WEEKDAYS and day not in holidays()


def is_listing_day(day: dt.date) -> bool:
    """Whether arXiv publishes a listing dated `day`."""
    return is_announcement_evening(day - dt.timedelta(days=1))


def no_listing_reason(day: dt.date) -> str | None:
    """Why there is no listing dated `day`, in words for a FetchRun; None if there is one."""
    if is_listing_day(day):
        return None
    evening = day - dt.timedelta(days=1)
    if evening in holidays():
        return f"no arXiv listing on {day:%a %Y-%m-%d}: arXiv holiday on the evening of {evening}"
    return f"no arXiv listing on {day:%A}s: arXiv does not announce on {evening:%A} evenings"


def arxiv_today(now: dt.datetime) -> dt.date:
    """The date whose listing is out at `now` (or would be, on a listing day)."""
    local = now.astimezone(ARXIV_TIME_ZONE)
    return local.date() if local.time() >= LISTING_READY_TIME else local.date() - _DAY


def latest_listing_day(now: dt.datetime) -> dt.date:
    """The most recent listing that should be out at `now`."""
    day = arxiv_today(now)
    while not is_listing_day(day):
        day -= _DAY
    return day


def _deadline(evening: dt.date) -> dt.datetime:
    # Sunday's announcement holds what came in by Friday 14:00; the others, by 14:00 that day.
    day = evening - dt.timedelta(days=2) if evening.weekday() == 6 else evening
    return dt.datetime.combine(day, SUBMISSION_DEADLINE, tzinfo=ARXIV_TIME_ZONE)


def submission_window(listing_day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the submissions announced in the listing dated `listing_day`."""
    evening = listing_day - _DAY
    previous = evening - _DAY
    while not is_announcement_evening(previous):
        previous -= _DAY
    return _deadline(previous), _deadline(evening)


def listing_day_for_submission(submitted_at: dt.datetime) -> dt.date:
    """The listing a submission is expected in, if no moderation hold delays it."""
    evening = submitted_at.astimezone(ARXIV_TIME_ZONE).date()
    while not (is_announcement_evening(evening) and submitted_at < _deadline(evening)):
        evening += _DAY
    return evening + _DAY


_DAY = dt.timedelta(days=1)
