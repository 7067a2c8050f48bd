"""Moving the sample's arXiv calendar onto the demo's, listing day for listing day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from papers import schedule

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ListingShift:
    """Maps the k-th listing day before the sample's newest onto the k-th listing day before
    `target_newest`, so weekdays stay weekdays and a Friday-to-Monday gap stays one listing
    apart, whatever weekday the demo runs on."""

    source_newest: dt.date
    target_newest: dt.date
    _days: dict[dt.date, dt.date] = field(default_factory=dict, compare=False, repr=False)

    def day(self, day: dt.date) -> dt.date:
        """Where `day` of the sample lands; a day without a listing keeps its distance from
        the listing day before it."""
        if day not in self._days:
            listing, extra = day, 0
            while not schedule.is_listing_day(listing):
                listing -= _DAY
                extra += 1
            self._days[day] = _step(self.target_newest, _count(listing, self.source_newest))
            self._days[day] += dt.timedelta(days=extra)
        return self._days[day]

    def moment(self, moment: dt.datetime, *, announced_on: dt.date) -> dt.datetime:
        """A timestamp of a paper announced on `announced_on`, moved with that announcement:
        it keeps its distance to the submission deadline, so the announcement the product
        would estimate from it is the moved one; a submission inside the announcement's
        window stays inside the moved (perhaps shorter) window."""
        start, deadline = schedule.submission_window(announced_on)
        moved_start, moved_deadline = schedule.submission_window(self.day(announced_on))
        moved = moved_deadline - (deadline - moment)
        if start <= moment < deadline:
            moved = max(moved, moved_start)
        return moved.astimezone(dt.UTC)


def _count(day: dt.date, newest: dt.date) -> int:
    """Listing days from `day` up to `newest` (negative when `day` is after it)."""
    steps, sign = 0, (1 if day <= newest else -1)
    while day != newest:
        day += sign * _DAY
        steps += sign * schedule.is_listing_day(day)
    return steps


def _step(day: dt.date, listings_back: int) -> dt.date:
    """The listing day `listings_back` listings before `day` (after it, when negative)."""
    sign = -1 if listings_back > 0 else 1
    for _ in range(abs(listings_back)):
        day += sign * _DAY
        while not schedule.is_listing_day(day):
            day += sign * _DAY
    return day


def latest_listing_day(on: dt.date) -> dt.date:
    """`on` if arXiv publishes a listing dated `on`, else the listing day before it."""
    while not schedule.is_listing_day(on):
        on -= _DAY
    return on
