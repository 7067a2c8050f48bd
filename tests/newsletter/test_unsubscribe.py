"""One-click unsubscribe (RFC 8058) and the footer link's page."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from newsletter.emails import unsubscribe_headers, unsubscribe_url
from newsletter.models import Subscriber
from newsletter.signing import MAC_BYTES, Purpose, make_token
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def path_of(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


def test_get_of_the_link_shows_a_button_and_changes_nothing(client):
    subscriber = SubscriberFactory()

    response = client.get(path_of(unsubscribe_url(subscriber)))

    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


@pytest.mark.parametrize("multipart", [False, True])
def test_one_click_post_unsubscribes_at_once_without_cookies_or_csrf(multipart):
    subscriber = SubscriberFactory()
    client = Client(enforce_csrf_checks=True)
    url = path_of(unsubscribe_url(subscriber))

    if multipart:
        response = client.post(url, {"List-Unsubscribe": "One-Click"})
    else:
        response = client.post(
            url,
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.unsubscribed_at is not None


def test_a_token_made_for_another_purpose_is_refused(client):
    subscriber = SubscriberFactory()
    manage_token = make_token(
        purpose=Purpose.MANAGE, subject_id=subscriber.pk, email=subscriber.email
    )

    response = client.post(f"/unsubscribe/{manage_token}/")

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_a_tampered_token_is_refused(client):
    subscriber = SubscriberFactory()
    other = SubscriberFactory()
    token = make_token(
        purpose=Purpose.UNSUBSCRIBE, subject_id=subscriber.pk, email=subscriber.email
    )
    other_token = make_token(purpose=Purpose.UNSUBSCRIBE, subject_id=other.pk, email=other.email)
    # the other reader's claims under this reader's signature
    forged = encoded(decoded(other_token)[:-MAC_BYTES] + decoded(token)[-MAC_BYTES:])

    response = client.post(f"/unsubscribe/{forged}/")

    assert response.status_code == 400
    assert Subscriber.objects.filter(status=Subscriber.Status.UNSUBSCRIBED).count() == 0


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_token_for_a_deleted_and_recreated_address_is_refused(client):
    deleted = SubscriberFactory(email="a@example.com")
    token = make_token(purpose=Purpose.UNSUBSCRIBE, subject_id=deleted.pk, email="a@example.com")
    deleted.delete()  # "delete all my data" …
    recreated = SubscriberFactory(email="a@example.com")  # … then signed up again

    response = client.post(f"/unsubscribe/{token}/")

    assert response.status_code == 400
    recreated.refresh_from_db()
    assert recreated.status == Subscriber.Status.ACTIVE


def test_a_token_for_an_address_changed_since_is_refused(client):
    subscriber = SubscriberFactory(email="a@example.com")
    token = make_token(purpose=Purpose.UNSUBSCRIBE, subject_id=subscriber.pk, email="a@example.com")
    Subscriber.objects.filter(pk=subscriber.pk).update(email="b@example.com")

    response = client.post(f"/unsubscribe/{token}/")

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


@pytest.mark.usefixtures("frozen_clock")  # the expected link is signed with the same second
def test_headers_offer_one_click_https_and_mailto():
    subscriber = SubscriberFactory()

    headers = unsubscribe_headers(subscriber)

    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https == f"<{unsubscribe_url(subscriber)}>"
    assert https.startswith("<http://127.0.0.1:8000/unsubscribe/")
    assert mailto.startswith("<mailto:unsubscribe@")
