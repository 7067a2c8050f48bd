"""Provider bounce and complaint webhooks: signed calls suppress like SMTP answers do,
unsigned or wrongly signed calls are refused and change nothing."""

from __future__ import annotations

import base64

import pytest

from newsletter.models import ProcessedWebhookEvent, Subscriber
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

URL = "/webhooks/anymail/postmark/tracking/"
SECRET = "hook-user:hook-secret-123"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}


def postmark(client, payload: dict, *, auth: str | None = SECRET):
    headers = {}
    if auth is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post(URL, payload, content_type="application/json", **headers)


def bounce(
    email: str,
    kind: str = "HardBounce",
    details: str = "smtp;550 5.1.1 no such user",
    *,
    event_id: int = 42,
    message_id: str = "883953f4-6105-42a2-a16a-77a8eac79483",
):
    return {
        "RecordType": "Bounce",
        "Type": kind,
        "ID": event_id,
        "Email": email,
        "Details": details,
        "Description": "The server was unable to deliver your message",
        "BouncedAt": "2025-03-25T07:01:02Z",
        "MessageID": message_id,
    }


def soft_bounce(email: str, **ids: object) -> dict:
    return bounce(email, kind="SoftBounce", details="552 mailbox full", **ids)


def test_a_signed_hard_bounce_suppresses_the_address(client):
    reader = SubscriberFactory(email="gone@example.com")

    response = postmark(client, bounce("GONE@example.com"))

    reader.refresh_from_db()
    assert response.status_code == 200
    assert reader.status == Subscriber.Status.SUPPRESSED
    assert "5.1.1" in reader.suppressed_reason


def test_a_signed_spam_complaint_suppresses_the_address(client):
    reader = SubscriberFactory(email="angry@example.com")

    postmark(client, bounce("angry@example.com", kind="SpamComplaint", details=""))

    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.SUPPRESSED


def test_other_bounces_count_towards_the_soft_bounce_threshold(client, settings):
    settings.SOFT_BOUNCE_LIMIT = 2
    reader = SubscriberFactory(email="full@example.com")

    postmark(client, soft_bounce("full@example.com", event_id=1, message_id="first-digest"))
    reader.refresh_from_db()
    assert (reader.status, reader.soft_bounce_count) == (Subscriber.Status.ACTIVE, 1)

    postmark(client, soft_bounce("full@example.com", event_id=2, message_id="second-digest"))
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.SUPPRESSED


@pytest.mark.parametrize("auth", [None, "hook-user:wrong", "someone:else"])
def test_unsigned_or_wrongly_signed_calls_are_refused_and_change_nothing(client, auth):
    reader = SubscriberFactory(email="gone@example.com")

    response = postmark(client, bounce("gone@example.com"), auth=auth)

    reader.refresh_from_db()
    assert response.status_code == 403
    assert (reader.status, reader.soft_bounce_count) == (Subscriber.Status.ACTIVE, 0)


def test_without_a_configured_secret_every_call_is_refused(client, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ""}
    reader = SubscriberFactory(email="gone@example.com")

    response = postmark(client, bounce("gone@example.com"), auth=":")

    reader.refresh_from_db()
    assert response.status_code == 403
    assert reader.status == Subscriber.Status.ACTIVE


def test_a_bounce_for_an_unknown_address_is_accepted_and_ignored(client):
    response = postmark(client, bounce("stranger@example.com"))

    assert response.status_code == 200
    assert not Subscriber.objects.exists()


# --- Providers retry: each event counts once ---------------------------------------------------


def test_the_same_postmark_soft_bounce_posted_three_times_counts_once(client, settings):
    settings.SOFT_BOUNCE_LIMIT = 2
    reader = SubscriberFactory(email="full@example.com")

    answers = [postmark(client, soft_bounce("full@example.com")).status_code for _ in range(3)]

    reader.refresh_from_db()
    assert answers == [200, 200, 200]  # a retry is answered as accepted, or it comes again
    assert (reader.status, reader.soft_bounce_count) == (Subscriber.Status.ACTIVE, 1)
    assert ProcessedWebhookEvent.objects.count() == 1


def test_two_soft_bounce_events_of_one_message_count_once(client, settings):
    settings.SOFT_BOUNCE_LIMIT = 2
    reader = SubscriberFactory(email="full@example.com")

    postmark(client, soft_bounce("full@example.com", event_id=7, message_id="one-digest"))
    postmark(client, soft_bounce("full@example.com", event_id=8, message_id="one-digest"))

    reader.refresh_from_db()
    assert (reader.status, reader.soft_bounce_count) == (Subscriber.Status.ACTIVE, 1)


def test_a_retried_hard_bounce_is_acted_on_once(client):
    reader = SubscriberFactory(email="gone@example.com")

    postmark(client, bounce("gone@example.com"))
    postmark(client, bounce("gone@example.com"))

    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.SUPPRESSED
    assert reader.soft_bounce_count == 1
    assert list(ProcessedWebhookEvent.objects.values_list("provider", "event_key")) == [
        ("Postmark", "42")
    ]


def test_an_event_for_an_unknown_address_is_not_recorded(client):
    postmark(client, soft_bounce("stranger@example.com"))

    assert not ProcessedWebhookEvent.objects.exists()
