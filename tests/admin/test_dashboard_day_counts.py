"""The dashboard's per-day figures: days that are over come from their stored DayCount rows,
today and yesterday are counted live, and the stored rows agree with a live count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from newsletter.dashboard import digest_counts, morning_dashboard
from newsletter.day_counts import (
    LIVE_DAYS,
    counted_days,
    day_counts_refresh,
    digests_per_day,
    start_of,
    votes_per_day,
)
from newsletter.models import DayCount, Digest, Rating
from newsletter.rating_stats import VoteCounts, rating_stats
from newsletter.tasks import count_dashboard_days
from tests.factories import DigestFactory, PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 20)
FIRST = TODAY - dt.timedelta(days=13)


def on(days_ago: int) -> dt.date:
    return TODAY - dt.timedelta(days=days_ago)


def given_digests_over_several_days() -> None:
    for days_ago, sent, failed, skipped in [(0, 3, 0, 1), (1, 2, 1, 0), (2, 4, 0, 0), (9, 1, 2, 1)]:
        for status, n in [
            (Digest.Status.SENT, sent),
            (Digest.Status.FAILED, failed),
            (Digest.Status.SKIPPED_EMPTY, skipped),
        ]:
            DigestFactory.create_batch(n, edition_on=on(days_ago), status=status)
    DigestFactory(edition_on=on(2), status=Digest.Status.PENDING)
    DigestFactory(edition_on=on(14), status=Digest.Status.SENT)  # before the table


def a_late_bounce(*, edition: dt.date) -> None:
    bounced = Digest.objects.filter(edition_on=edition, status=Digest.Status.SENT).first()
    bounced.status = Digest.Status.FAILED
    bounced.save(update_fields=["status"])


def given_votes(*, days_ago: int, up: int, down: int) -> list[Rating]:
    paper = PaperFactory()
    at = start_of(on(days_ago)) + dt.timedelta(hours=9)
    return [
        Rating.objects.create(subscriber=SubscriberFactory(), paper=paper, vote=value, rated_at=at)
        for value in [Rating.Vote.UP] * up + [Rating.Vote.DOWN] * down
    ]


def test_stored_and_live_digest_counts_agree_day_by_day():
    given_digests_over_several_days()

    first_view, _ = digest_counts(today=TODAY)
    next_view, _ = digest_counts(today=TODAY)

    live = digests_per_day(FIRST, TODAY)
    assert first_view == next_view == live
    assert live[on(2)] == {"digests_sent": 4}
    assert live[on(9)] == {"digests_sent": 1, "digests_failed": 2, "digests_skipped": 1}
    assert live[on(5)] == {}
    assert len(live) == 14


def test_stored_and_live_vote_counts_agree_day_by_day():
    given_votes(days_ago=0, up=1, down=2)
    given_votes(days_ago=3, up=2, down=1)
    given_votes(days_ago=13, up=0, down=4)
    given_votes(days_ago=14, up=5, down=5)  # before the table

    stored = counted_days(today=TODAY)

    live = votes_per_day(FIRST, TODAY)
    assert {day: (row.votes_up, row.votes_down) for day, row in stored.items() if day in live} == {
        day: votes for day, votes in live.items() if day <= on(LIVE_DAYS)
    }
    assert (stored[on(3)].votes_up, stored[on(3)].votes_down) == (2, 1)
    assert (stored[on(13)].votes_up, stored[on(13)].votes_down) == (0, 4)
    assert stored[on(5)].votes_up == stored[on(5)].votes_down == 0


def test_only_the_days_before_yesterday_are_stored():
    given_digests_over_several_days()

    counted_days(today=TODAY)

    assert LIVE_DAYS == 2
    assert sorted(DayCount.objects.values_list("day", flat=True)) == [
        on(n) for n in range(13, 1, -1)
    ]


def test_a_view_with_the_days_stored_reads_them_and_two_editions_of_digests(
    django_assert_num_queries,
):
    given_digests_over_several_days()
    day_counts_refresh(today=TODAY)

    with django_assert_num_queries(2) as captured:
        digest_counts(today=TODAY)

    live = captured.captured_queries[1]["sql"]
    assert "newsletter_daycount" in captured.captured_queries[0]["sql"]
    assert f"'{on(1).isoformat()}'" in live and f"'{TODAY.isoformat()}'" in live
    assert f"'{on(2).isoformat()}'" not in live


def test_the_first_view_after_the_page_cache_expires_still_reads_the_stored_days(
    django_assert_num_queries,
):
    given_digests_over_several_days()
    digest_counts(today=TODAY)
    cache.clear()

    with django_assert_num_queries(2):
        digest_counts(today=TODAY)


def test_days_without_a_row_are_counted_once_and_stored(django_assert_num_queries):
    given_digests_over_several_days()

    # The stored rows, the digests and votes of the missing days, their rows written, today's.
    with django_assert_num_queries(5):
        digest_counts(today=TODAY)
    with django_assert_num_queries(2):
        digest_counts(today=TODAY)
    assert DayCount.objects.get(day=on(9)).digests_failed == 2


def test_a_late_bounce_on_a_day_that_is_over_shows_once_the_days_are_counted_again():
    given_digests_over_several_days()
    digest_counts(today=TODAY)
    a_late_bounce(edition=on(2))

    stale, _ = digest_counts(today=TODAY)
    assert day_counts_refresh(today=TODAY) == 12
    fresh, _ = digest_counts(today=TODAY)

    assert stale[on(2)] == {"digests_sent": 4}
    assert fresh[on(2)] == {"digests_sent": 3, "digests_failed": 1}


def test_a_late_bounce_on_yesterday_shows_at_once():
    given_digests_over_several_days()
    day_counts_refresh(today=TODAY)
    a_late_bounce(edition=on(1))

    counts, _ = digest_counts(today=TODAY)

    assert counts[on(1)] == {"digests_sent": 1, "digests_failed": 2}


def test_a_changed_vote_moves_to_its_new_day_once_the_days_are_counted_again():
    [changed] = given_votes(days_ago=4, up=1, down=0)
    day_counts_refresh(today=TODAY)
    changed.vote, changed.rated_at = Rating.Vote.DOWN, start_of(TODAY) + dt.timedelta(hours=1)
    changed.save(update_fields=["vote", "rated_at"])

    before = dict(rating_stats(today=TODAY).days)
    day_counts_refresh(today=TODAY)
    after = dict(rating_stats(today=TODAY).days)

    assert before[on(4)] == VoteCounts(up=1) and before[TODAY] == VoteCounts(down=1)
    assert after[on(4)] == VoteCounts() and after[TODAY] == VoteCounts(down=1)


def test_counting_again_drops_the_days_the_dashboard_no_longer_shows():
    day_counts_refresh(today=TODAY - dt.timedelta(days=5))

    assert day_counts_refresh(today=TODAY) == 12

    assert DayCount.objects.count() == 12
    assert DayCount.objects.order_by("day").first().day == FIRST


def test_the_scheduled_task_counts_the_days_and_a_second_run_changes_nothing():
    today = timezone.localdate()  # the pinned clock's
    DigestFactory(edition_on=today - dt.timedelta(days=3), status=Digest.Status.SENT)

    assert count_dashboard_days() == 12
    first = list(DayCount.objects.values_list("day", "digests_sent"))
    assert count_dashboard_days() == 12

    assert list(DayCount.objects.values_list("day", "digests_sent")) == first
    assert (today - dt.timedelta(days=3), 1) in first
    assert "count-dashboard-days" in settings.CELERY_BEAT_SCHEDULE


def test_the_page_says_when_the_older_days_were_counted(editor_client):
    DigestFactory(edition_on=timezone.localdate() - dt.timedelta(days=3))

    dashboard = morning_dashboard()
    page = editor_client.get("/admin/").content.decode()

    assert dashboard.digests_counted_at is not None
    assert "Digests of today and yesterday are counted live; older days were counted" in page
    assert "(a late bounce shows within 6 hours)." in page
