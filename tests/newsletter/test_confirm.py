"""Double opt-in: GET shows a button, POST confirms once; bad links change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from newsletter.models import Subscriber
from newsletter.signing import Purpose, make_token
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def pending(**fields):
    return SubscriberFactory(status=Subscriber.Status.PENDING, confirmed_at=None, **fields)


def confirm_path(subscriber) -> str:
    token = make_token(purpose=Purpose.CONFIRM, subject_id=subscriber.pk, email=subscriber.email)
    return f"/confirm/{token}/"


def test_a_get_of_the_link_shows_one_button_and_confirms_nothing(client):
    subscriber = pending()

    response = client.get(confirm_path(subscriber))

    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("<button") == 1
    assert '<form method="post">' in page
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.confirmed_at is None


def test_a_post_confirms_the_address(client):
    subscriber = pending()

    response = client.post(confirm_path(subscriber))

    assert response.status_code == 200
    assert "You are subscribed" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.confirmed_at is not None


def test_a_second_post_says_already_confirmed_and_changes_nothing(client):
    subscriber = pending()
    path = confirm_path(subscriber)
    client.post(path)
    subscriber.refresh_from_db()
    confirmed_at = subscriber.confirmed_at

    response = client.post(path)

    assert response.status_code == 200
    assert "Already confirmed" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at == confirmed_at


def test_a_paused_reader_is_not_resumed_by_an_old_confirmation_link(client):
    subscriber = pending()
    path = confirm_path(subscriber)
    client.post(path)
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.PAUSED)

    response = client.post(path)

    assert "Already confirmed" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PAUSED


def test_a_link_made_before_an_unsubscribe_cannot_bring_the_reader_back(client):
    subscriber = pending()
    path = confirm_path(subscriber)
    client.post(path)
    Subscriber.objects.filter(pk=subscriber.pk).update(
        status=Subscriber.Status.UNSUBSCRIBED,
        unsubscribed_at=timezone.now() + dt.timedelta(seconds=5),
    )

    response = client.post(path)

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_a_link_made_after_an_unsubscribe_brings_the_reader_back(client):
    subscriber = SubscriberFactory(
        status=Subscriber.Status.UNSUBSCRIBED,
        unsubscribed_at=timezone.now() - dt.timedelta(minutes=5),
    )

    response = client.post(confirm_path(subscriber))

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.unsubscribed_at is None


def test_an_expired_link_is_refused_and_changes_nothing(client):
    subscriber = pending()
    with time_machine.travel(timezone.now() - dt.timedelta(hours=49)):
        path = confirm_path(subscriber)

    response = client.post(path)

    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_a_link_still_works_just_before_48_hours(client):
    subscriber = pending()
    with time_machine.travel(timezone.now() - dt.timedelta(hours=47)):
        path = confirm_path(subscriber)

    assert client.post(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


@pytest.mark.parametrize(
    "token",
    ["nonsense", "eyJpZCI6MX0:1tX:forged", "", "a" * 300],
)
def test_forged_links_are_refused(client, token):
    subscriber = pending()

    response = client.post(f"/confirm/{token}/" if token else "/confirm/x/")

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_a_token_for_another_purpose_does_not_confirm(client):
    subscriber = pending()
    token = make_token(purpose=Purpose.MANAGE, subject_id=subscriber.pk, email=subscriber.email)

    response = client.post(f"/confirm/{token}/")

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_a_link_for_a_purged_sign_up_is_refused(client):
    subscriber = pending()
    path = confirm_path(subscriber)
    subscriber.delete()

    response = client.post(path)

    assert response.status_code == 400
    assert Subscriber.objects.count() == 0


def test_a_suppressed_address_cannot_confirm_itself_back(client):
    subscriber = SubscriberFactory(status=Subscriber.Status.SUPPRESSED)

    response = client.post(confirm_path(subscriber))

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.SUPPRESSED
