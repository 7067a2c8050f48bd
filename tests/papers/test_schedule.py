"""The arXiv calendar: listings Monday to Friday, none after holidays, DST-proof."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from papers import schedule

NEW_YORK = ZoneInfo("America/New_York")


def at(text: str, zone: ZoneInfo | dt.timezone = NEW_YORK) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize(
    ("day", "listed"),
    [
        ("2025-02-10", True),  # Monday: Sunday evening's announcement
        ("2025-02-14", True),  # Friday: Thursday evening's
        ("2025-02-15", False),  # Saturday
        ("2025-02-16", False),  # Sunday
        ("2025-01-21", False),  # the evening before was a holiday (Mon 20 January)
        ("2025-11-28", False),  # Thanksgiving evening
    ],
)
def test_listings_are_dated_monday_to_friday_except_after_holidays(day, listed):
    assert schedule.is_listing_day(dt.date.fromisoformat(day)) is listed


def test_extra_holidays_come_from_the_settings(settings):
    settings.ARXIV_HOLIDAYS = ["2025-12-24"]

    assert not schedule.is_listing_day(dt.date(2025, 12, 25))
    assert schedule.no_listing_reason(dt.date(2025, 12, 25)) == (
        "no arXiv listing on Thu 2025-12-25: arXiv holiday on the evening of 2025-12-24"
    )


def test_a_weekend_day_says_why_it_has_no_listing():
    assert schedule.no_listing_reason(dt.date(2025, 2, 15)) == (
        "no arXiv listing on Saturdays: arXiv does not announce on Friday evenings"
    )
    assert schedule.no_listing_reason(dt.date(2025, 2, 14)) is None


@pytest.mark.parametrize(
    ("now", "latest"),
    [
        (at("2025-02-13T00:20"), "2025-02-13"),
        (at("2025-02-12T23:59"), "2025-02-12"),
        (at("2025-02-15T12:00"), "2025-02-14"),  # Saturday: Friday's is the latest
        (at("2025-02-17T03:00"), "2025-02-17"),
        # 04:20 UTC is 23:20 the day before in New York in winter, 00:20 the same day in summer.
        (at("2025-02-13T04:20", dt.UTC), "2025-02-12"),
        (at("2025-07-10T04:20", dt.UTC), "2025-07-10"),
    ],
)
def test_the_latest_listing_is_judged_in_new_york_time(now, latest):
    assert schedule.latest_listing_day(now) == dt.date.fromisoformat(latest)


def test_a_tick_at_the_same_utc_hour_finds_the_same_listing_on_both_sides_of_a_dst_change():
    # New York springs forward on Sunday 9 March 2025. An hourly UTC tick meets each
    # listing at its first hour after midnight, whatever the offset.
    ticks = [at("2025-03-06T00:00", dt.UTC) + dt.timedelta(hours=h) for h in range(24 * 10)]
    first_tick_of = {}
    for tick in ticks:
        first_tick_of.setdefault(schedule.latest_listing_day(tick), tick)

    assert sorted(first_tick_of) == [
        dt.date(2025, 3, 5),
        dt.date(2025, 3, 6),
        dt.date(2025, 3, 7),
        dt.date(2025, 3, 10),
        dt.date(2025, 3, 11),
        dt.date(2025, 3, 12),
        dt.date(2025, 3, 13),
        dt.date(2025, 3, 14),
    ]
    assert first_tick_of[dt.date(2025, 3, 7)] == at("2025-03-07T05:00", dt.UTC)  # EST
    assert first_tick_of[dt.date(2025, 3, 10)] == at("2025-03-10T04:00", dt.UTC)  # EDT


def test_the_submission_window_of_a_listing_follows_the_published_schedule():
    # Thursday's listing: Tuesday 14:00 to Wednesday 14:00.
    assert schedule.submission_window(dt.date(2025, 2, 13)) == (
        at("2025-02-11T14:00"),
        at("2025-02-12T14:00"),
    )
    # Monday's (Sunday evening): Thursday 14:00 to Friday 14:00.
    assert schedule.submission_window(dt.date(2025, 2, 17)) == (
        at("2025-02-13T14:00"),
        at("2025-02-14T14:00"),
    )
    # Tuesday's (Monday evening): Friday 14:00 to Monday 14:00.
    assert schedule.submission_window(dt.date(2025, 2, 18)) == (
        at("2025-02-14T14:00"),
        at("2025-02-17T14:00"),
    )


@pytest.mark.parametrize(
    ("submitted", "listing"),
    [
        ("2025-02-12T13:59", "2025-02-13"),
        ("2025-02-12T14:00", "2025-02-14"),
        ("2025-02-14T13:00", "2025-02-17"),
        ("2025-02-14T15:00", "2025-02-18"),
        ("2025-02-15T10:00", "2025-02-18"),
        ("2025-01-17T15:00", "2025-01-22"),  # Monday 20 January was a holiday
    ],
)
def test_a_submission_is_expected_in_the_listing_after_its_deadline(submitted, listing):
    assert schedule.listing_day_for_submission(at(submitted)) == dt.date.fromisoformat(listing)
