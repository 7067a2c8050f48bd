"""The admin home page: the numbers an editor checks every morning."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from newsletter.dashboard import morning_dashboard, trend_svg
from newsletter.day_counts import day_counts_refresh
from newsletter.models import Digest, Subscriber
from papers.models import FetchRun
from tests.factories import DigestFactory, FetchRunFactory, PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def test_subscribers_are_counted_by_status():
    SubscriberFactory.create_batch(3)
    SubscriberFactory(status=Subscriber.Status.PENDING)
    SubscriberFactory(status=Subscriber.Status.SUPPRESSED)

    counts = {status: n for status, _label, n in morning_dashboard().status_counts}

    assert counts == {
        "pending": 1,
        "active": 3,
        "paused": 0,
        "unsubscribed": 0,
        "suppressed": 1,
    }


def test_the_trend_counts_confirmed_readers_at_the_end_of_each_day():
    SubscriberFactory(confirmed_at=days_ago(60))
    SubscriberFactory(confirmed_at=days_ago(10))
    SubscriberFactory(confirmed_at=days_ago(10))
    SubscriberFactory(
        status=Subscriber.Status.UNSUBSCRIBED,
        confirmed_at=days_ago(60),
        unsubscribed_at=days_ago(5),
    )
    SubscriberFactory(status=Subscriber.Status.PENDING, confirmed_at=None)

    trend = dict(morning_dashboard().subscriber_trend)

    today = timezone.localdate()
    assert len(trend) == 30
    assert trend[today - dt.timedelta(days=29)] == 2
    assert trend[today - dt.timedelta(days=10)] == 4
    assert trend[today - dt.timedelta(days=5)] == 3
    assert trend[today] == 3


def test_each_day_shows_papers_fetches_and_digests():
    today = timezone.localdate()
    PaperFactory.create_batch(3)
    PaperFactory(is_hidden=True)
    PaperFactory(announced_on=today - dt.timedelta(days=1))
    FetchRunFactory(created_count=4)
    FetchRunFactory(status=FetchRun.Status.FAILED)
    DigestFactory.create_batch(2, status=Digest.Status.SENT, sent_at=timezone.now())
    DigestFactory(status=Digest.Status.FAILED)
    DigestFactory(status=Digest.Status.SKIPPED_EMPTY)

    days = morning_dashboard().days

    assert len(days) == 14
    assert days[0].day == today
    assert (
        days[0].papers_announced,
        days[0].papers_hidden,
        days[0].papers_fetched,
        days[0].fetches_failed,
        days[0].digests_sent,
        days[0].digests_failed,
        days[0].digests_skipped,
    ) == (3, 1, 4, 1, 2, 1, 1)
    assert days[1].papers_announced == 1
    assert days[1].digests_sent == 0


def test_digests_not_yet_settled_or_cancelled_are_not_in_the_day_numbers():
    DigestFactory(status=Digest.Status.PENDING)
    DigestFactory(status=Digest.Status.SENDING)
    DigestFactory(status=Digest.Status.CANCELLED)

    today = morning_dashboard().days[0]

    assert (today.digests_sent, today.digests_failed, today.digests_skipped) == (0, 0, 0)


def test_last_fetch_and_last_send_are_the_newest():
    FetchRunFactory(status=FetchRun.Status.SUCCEEDED)
    failed = FetchRunFactory(status=FetchRun.Status.FAILED)
    sent_at = timezone.now() - dt.timedelta(hours=2)
    DigestFactory(status=Digest.Status.SENT, sent_at=sent_at)
    DigestFactory(status=Digest.Status.SENT, sent_at=sent_at - dt.timedelta(hours=1))

    dashboard = morning_dashboard()

    assert dashboard.last_fetch == failed
    assert dashboard.last_digest_sent_at == sent_at


def test_the_trend_is_an_inline_svg_without_script():
    today = timezone.localdate()
    svg = trend_svg([(today - dt.timedelta(days=1), 10), (today, 12)])

    assert svg.startswith('<svg class="trend" role="img"')
    assert 'points="0.0,60.0 320.0,4.0"' in svg
    assert "<script" not in svg


def test_editors_see_the_dashboard_on_the_admin_home_page(
    editor_client, django_assert_max_num_queries
):
    SubscriberFactory.create_batch(2)
    FetchRunFactory(status=FetchRun.Status.FAILED)
    day_counts_refresh(today=timezone.localdate())  # the scheduled count of the older days

    # 15, and five for the readers' votes (tests/admin/test_rating_dashboard.py).
    with django_assert_max_num_queries(20):
        page = editor_client.get("/admin/").content.decode()

    assert 'id="paperboy-dashboard"' in page
    assert '<td class="n" data-status="active">2</td>' in page
    assert re.search(r'<svg class="trend"', page)
    assert 'class="bad">failed</span>' in page
    assert "<script>" not in page.split('id="paperboy-dashboard"')[1].split("</div>")[0]
