"""The dashboard's digest counts: days that are over come from the cache, the last two live."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from newsletter.dashboard import LIVE_DAYS, _count_digests, digest_counts, morning_dashboard
from newsletter.models import Digest
from tests.factories import DigestFactory

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


def test_cached_and_live_counts_agree_day_by_day():
    given_digests_over_several_days()

    cold, _ = digest_counts(FIRST, TODAY)
    warm, _ = digest_counts(FIRST, TODAY)

    live = _count_digests(FIRST, TODAY)
    assert cold == warm == live
    assert live[on(2)] == {"digests_sent": 4}
    assert live[on(9)] == {"digests_sent": 1, "digests_failed": 2, "digests_skipped": 1}
    assert live[on(5)] == {}
    assert len(live) == 14


def test_a_warm_cache_reads_only_the_last_two_editions(django_assert_num_queries):
    given_digests_over_several_days()
    digest_counts(FIRST, TODAY)

    with django_assert_num_queries(1) as captured:
        digest_counts(FIRST, TODAY)

    assert LIVE_DAYS == 2
    sql = captured.captured_queries[0]["sql"]
    assert f"'{on(1).isoformat()}'" in sql and f"'{TODAY.isoformat()}'" in sql


def test_a_cold_cache_counts_the_days_that_are_over_once(django_assert_num_queries):
    with django_assert_num_queries(2):
        digest_counts(FIRST, TODAY)


def test_a_late_bounce_on_a_day_that_is_over_shows_once_its_cached_count_expires():
    given_digests_over_several_days()
    digest_counts(FIRST, TODAY)
    bounced = Digest.objects.filter(edition_on=on(2), status=Digest.Status.SENT).first()
    bounced.status = Digest.Status.FAILED
    bounced.save(update_fields=["status"])

    stale, _ = digest_counts(FIRST, TODAY)
    cache.delete(f"admin:dashboard:digests:{on(2).isoformat()}")  # what the TTL does
    fresh, _ = digest_counts(FIRST, TODAY)

    assert stale[on(2)] == {"digests_sent": 4}
    assert fresh[on(2)] == {"digests_sent": 3, "digests_failed": 1}


def test_a_late_bounce_on_yesterday_shows_at_once():
    given_digests_over_several_days()
    digest_counts(FIRST, TODAY)
    bounced = Digest.objects.filter(edition_on=on(1), status=Digest.Status.SENT).first()
    bounced.status = Digest.Status.FAILED
    bounced.save(update_fields=["status"])

    counts, _ = digest_counts(FIRST, TODAY)

    assert counts[on(1)] == {"digests_sent": 1, "digests_failed": 2}


def test_the_page_says_when_the_older_days_were_counted(editor_client):
    DigestFactory(edition_on=timezone.localdate() - dt.timedelta(days=3))

    dashboard = morning_dashboard()
    page = editor_client.get("/admin/").content.decode()

    assert dashboard.digests_counted_at is not None
    assert "Digests of today and yesterday are counted live; older days were counted" in page
    assert "(a late bounce shows within 6 hours)." in page
