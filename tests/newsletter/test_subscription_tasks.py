"""The mail tasks and the beat task that purges sign-ups nobody confirmed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from newsletter import email_tasks, tasks
from newsletter.models import Subscriber
from tests.factories import DigestFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def pending(age: dt.timedelta) -> Subscriber:
    subscriber = SubscriberFactory(status=Subscriber.Status.PENDING, confirmed_at=None)
    Subscriber.objects.filter(pk=subscriber.pk).update(created_at=timezone.now() - age)
    return subscriber


def test_the_purge_deletes_sign_ups_whose_link_has_expired_and_nothing_else():
    expired = pending(dt.timedelta(hours=49))
    fresh = pending(dt.timedelta(hours=47))
    active = SubscriberFactory()
    Subscriber.objects.filter(pk=active.pk).update(created_at=timezone.now() - dt.timedelta(days=9))
    left = SubscriberFactory(status=Subscriber.Status.UNSUBSCRIBED)
    Subscriber.objects.filter(pk=left.pk).update(created_at=timezone.now() - dt.timedelta(days=9))

    deleted = tasks.purge_unconfirmed_subscribers.delay().get()

    assert deleted == 1
    assert not Subscriber.objects.filter(pk=expired.pk).exists()
    assert set(Subscriber.objects.values_list("pk", flat=True)) == {fresh.pk, active.pk, left.pk}


def test_running_the_purge_twice_is_harmless():
    pending(dt.timedelta(days=3))

    assert tasks.purge_unconfirmed_subscribers() == 1
    assert tasks.purge_unconfirmed_subscribers() == 0


def test_the_purge_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-unconfirmed-subscribers"]

    assert entry["task"] == tasks.purge_unconfirmed_subscribers.name


def test_a_confirmation_task_for_a_confirmed_or_deleted_subscriber_sends_nothing(mailoutbox):
    active = SubscriberFactory()

    assert email_tasks.send_confirmation_email(active.pk) is False
    assert email_tasks.send_confirmation_email(987654) is False
    assert mailoutbox == []


def test_a_manage_link_task_for_a_pending_or_suppressed_subscriber_sends_nothing(mailoutbox):
    for status in (Subscriber.Status.PENDING, Subscriber.Status.SUPPRESSED):
        subscriber = SubscriberFactory(status=status)
        assert email_tasks.send_manage_link_email(subscriber.pk) is False
    assert mailoutbox == []


def test_the_manage_link_email_carries_one_click_unsubscribe_headers(mailoutbox):
    subscriber = SubscriberFactory()

    assert email_tasks.send_manage_link_email(subscriber.pk) is True

    (message,) = mailoutbox
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/unsub")


def test_deleting_a_subscriber_removes_their_digests():
    digest = DigestFactory()

    from newsletter.services import subscriber_delete

    subscriber_delete(subscriber=digest.subscriber)

    assert Subscriber.objects.count() == 0
    assert digest.__class__.objects.count() == 0


def test_an_address_with_a_line_break_can_never_become_a_header(mailoutbox):
    from django.core.mail import BadHeaderError

    # Forms refuse such an address; a row written some other way still cannot inject a header.
    subscriber = SubscriberFactory(
        email="reader@example.com\r\nBcc: victim@example.org", status=Subscriber.Status.PENDING
    )

    with pytest.raises((BadHeaderError, ValueError)):
        email_tasks.send_confirmation_email(subscriber.pk)
    assert mailoutbox == []
