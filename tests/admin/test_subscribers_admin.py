"""Subscribers in admin: find and filter them, pause, unsubscribe, re-confirm, export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.core import mail
from django.utils import timezone

from newsletter.models import Digest, Subscriber
from tests.factories import DigestFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/newsletter/subscriber/"


def listed_emails(response) -> set[str]:
    return set(
        re.findall(
            r'<th class="field-email"><a href="[^"]+">([^<]+)</a>', response.content.decode()
        )
    )


def test_editors_find_subscribers_by_part_of_their_email(editor_client):
    SubscriberFactory(email="ada@lab.example")
    SubscriberFactory(email="alan@other.example")

    assert listed_emails(editor_client.get(CHANGELIST, {"q": "lab.ex"})) == {"ada@lab.example"}


def test_editors_filter_subscribers_by_status_frequency_topic_and_language(editor_client):
    topic = TopicFactory()
    SubscriberFactory(email="a@example.com", status=Subscriber.Status.PAUSED)
    SubscriberFactory(email="b@example.com", frequency=Subscriber.Frequency.WEEKLY)
    SubscriberFactory(email="c@example.com", topics=[topic])
    SubscriberFactory(email="d@example.com", language="zh-hans")

    def emails(**params: str) -> set[str]:
        return listed_emails(editor_client.get(CHANGELIST, params))

    assert emails(status__exact="paused") == {"a@example.com"}
    assert emails(frequency__exact="weekly") == {"b@example.com"}
    assert emails(topics__id__exact=str(topic.pk)) == {"c@example.com"}
    assert emails(language="zh-hans") == {"d@example.com"}


def test_pause_stops_only_active_selected_subscribers(editor_client):
    active = SubscriberFactory()
    unsubscribed = SubscriberFactory(status=Subscriber.Status.UNSUBSCRIBED)
    untouched = SubscriberFactory()

    response = editor_client.post(
        CHANGELIST,
        {"action": "pause", "_selected_action": [active.pk, unsubscribed.pk]},
        follow=True,
    )

    assert "1 subscriber paused." in response.content.decode()
    statuses = dict(Subscriber.objects.values_list("pk", "status"))
    assert statuses == {
        active.pk: Subscriber.Status.PAUSED,
        unsubscribed.pk: Subscriber.Status.UNSUBSCRIBED,
        untouched.pk: Subscriber.Status.ACTIVE,
    }


def test_unsubscribe_records_when_they_left(editor_client):
    subscriber, untouched = SubscriberFactory(), SubscriberFactory()

    editor_client.post(CHANGELIST, {"action": "unsubscribe", "_selected_action": [subscriber.pk]})

    subscriber.refresh_from_db()
    untouched.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.unsubscribed_at is not None
    assert (untouched.status, untouched.unsubscribed_at) == (Subscriber.Status.ACTIVE, None)


def test_resend_confirmation_mails_only_pending_subscribers(
    editor_client, django_capture_on_commit_callbacks
):
    pending = SubscriberFactory(
        email="pending@example.com", status=Subscriber.Status.PENDING, confirmed_at=None
    )
    active = SubscriberFactory(email="active@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            CHANGELIST,
            {"action": "resend_confirmation", "_selected_action": [pending.pk, active.pk]},
            follow=True,
        )

    assert [message.to for message in mail.outbox] == [["pending@example.com"]]
    page = response.content.decode()
    assert "Confirmation sent to 1 subscriber." in page
    assert "1 was not waiting for confirmation." in page


def test_export_csv_streams_the_selected_subscribers_with_their_topics(editor_client):
    topic = TopicFactory(slug="robots")
    SubscriberFactory(email="ada@example.com", topics=[topic], categories=["cs.RO"])
    SubscriberFactory(email="=cmd@example.com")
    SubscriberFactory(email="not-selected@example.com")
    selected = Subscriber.objects.exclude(email="not-selected@example.com")

    response = editor_client.post(
        CHANGELIST,
        {"action": "export_csv", "_selected_action": [s.pk for s in selected]},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="subscribers-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["email"], row["topics"], row["categories"]) for row in rows] == [
        ("ada@example.com", "robots", "cs.RO"),
        ("'=cmd@example.com", "", ""),  # a formula in a spreadsheet otherwise
    ]
    assert rows[0]["status"] == "active"


def subscriber_form(**overrides: str) -> dict[str, str]:
    return {
        "email": "ada@example.com",
        "own_query": "",
        "categories": "",
        "authors": "[]",
        "frequency": "daily",
        "send_hour_local": "7",
        "time_zone": "UTC",
        "max_papers": "10",
        "language": "en",
        "digests-TOTAL_FORMS": "0",
        "digests-INITIAL_FORMS": "0",
    } | overrides


def test_an_editor_fixes_a_readers_filter_but_not_their_status(editor_client):
    subscriber = SubscriberFactory(email="ada@example.com")

    response = editor_client.post(
        f"/admin/newsletter/subscriber/{subscriber.pk}/change/",
        subscriber_form(status="suppressed", own_query='"flow matching"', categories="cs.LG"),
    )

    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert (subscriber.own_query, subscriber.categories) == ('"flow matching"', ["cs.LG"])
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_a_readers_malformed_query_is_refused(editor_client):
    subscriber = SubscriberFactory(email="ada@example.com", own_query="diffusion")

    response = editor_client.post(
        f"/admin/newsletter/subscriber/{subscriber.pk}/change/",
        subscriber_form(own_query="-survey"),
    )

    assert "Add at least one word to look for" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.own_query == "diffusion"


def test_the_subscriber_page_lists_their_recent_digests(editor_client):
    subscriber = SubscriberFactory()
    DigestFactory(
        subscriber=subscriber,
        status=Digest.Status.SENT,
        message_id="<digest-1@paperboy.example>",
        paper_count=7,
    )
    DigestFactory(
        subscriber=subscriber,
        edition_on=timezone.localdate() - dt.timedelta(days=90),
        message_id="<too-old@paperboy.example>",
    )

    page = editor_client.get(f"/admin/newsletter/subscriber/{subscriber.pk}/change/")

    body = page.content.decode()
    assert "&lt;digest-1@paperboy.example&gt;" in body
    assert "too-old" not in body


def test_the_subscriber_list_is_a_few_queries_however_many_rows(
    admin_client, django_assert_max_num_queries
):
    topics = TopicFactory.create_batch(3)
    SubscriberFactory.create_batch(60, topics=topics)

    # session, user, count, the page, its topics (one prefetch), the topic filter's choices
    with django_assert_max_num_queries(7):
        response = admin_client.get(CHANGELIST)

    assert len(listed_emails(response)) == 60


def test_the_subscriber_page_is_a_few_queries_however_many_digests(
    admin_client, django_assert_max_num_queries
):
    subscriber = SubscriberFactory()
    for days_ago in range(40):
        DigestFactory(
            subscriber=subscriber, edition_on=timezone.localdate() - dt.timedelta(days=days_ago)
        )

    # session, user, subscriber, its topics, all topics (widget), digests, inline count
    with django_assert_max_num_queries(8):
        response = admin_client.get(f"/admin/newsletter/subscriber/{subscriber.pk}/change/")

    assert response.content.decode().count('<td class="field-edition_on">') == 40
