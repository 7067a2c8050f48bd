"""The manage page behind the signed link: change everything, pause, leave, delete."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from newsletter.emails import subscriber_links
from newsletter.models import Digest, DigestItem, Subscriber
from newsletter.signing import Purpose, make_token
from tests.factories import DigestItemFactory, SubscriberFactory, TopicFactory
from tests.newsletter.subscription_helpers import link_in, path_of, signup_data

pytestmark = pytest.mark.django_db


def manage_path(subscriber) -> str:
    return path_of(subscriber_links(subscriber)["manage_url"])


def preferences(**overrides):
    data = signup_data(**{"action": "save", **overrides})
    del data["email"], data["website"]
    return data


def test_the_page_shows_the_current_choices(client):
    topic = TopicFactory(name="Quantum sheep")
    subscriber = SubscriberFactory(
        topics=[topic], own_query="robots -survey", categories=["cs.RO"], max_papers=17
    )

    response = client.get(manage_path(subscriber))

    page = response.content.decode()
    assert response.status_code == 200
    assert subscriber.email in page
    assert f'value="{topic.pk}" id="id_topics_' in page and "checked" in page
    assert 'value="robots -survey"' in page
    assert 'value="cs.RO"' in page
    assert 'value="17"' in page


def test_saving_changes_every_setting(client):
    old_topic, new_topic = TopicFactory(), TopicFactory()
    subscriber = SubscriberFactory(topics=[old_topic])

    response = client.post(
        manage_path(subscriber),
        preferences(
            topics=[new_topic.pk],
            own_query="robot OR robotic",
            categories="cs.RO",
            authors="Ada Lovelace",
            include_cross_lists="",
            frequency="weekly",
            send_hour_local="18",
            time_zone="Asia/Shanghai",
            max_papers="25",
            language="zh-hans",
        ),
    )

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert list(subscriber.topics.all()) == [new_topic]
    assert subscriber.own_query == "robot OR robotic"
    assert subscriber.categories == ["cs.RO"]
    assert subscriber.authors == ["Ada Lovelace"]
    assert subscriber.include_cross_lists is False
    assert subscriber.frequency == "weekly"
    assert subscriber.send_hour_local == 18
    assert subscriber.time_zone == "Asia/Shanghai"
    assert subscriber.max_papers == 25
    assert subscriber.language == "zh-hans"
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert "已保存" in response.content.decode()  # the page now speaks the chosen language


def test_invalid_changes_are_refused_next_to_the_field_and_nothing_changes(client):
    subscriber = SubscriberFactory(own_query="robots", time_zone="Europe/Paris")

    response = client.post(
        manage_path(subscriber), preferences(own_query='"unclosed', time_zone="Nowhere/City")
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "A quote is not closed" in page
    assert "Choose a time zone from the list" in page or "Select a valid choice" in page
    subscriber.refresh_from_db()
    assert subscriber.own_query == "robots"
    assert subscriber.time_zone == "Europe/Paris"


def test_pause_and_resume(client):
    subscriber = SubscriberFactory()
    path = manage_path(subscriber)

    client.post(path, {"action": "pause"})
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PAUSED

    client.post(path, {"action": "resume"})
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_unsubscribe_from_the_manage_page(client):
    subscriber = SubscriberFactory()

    response = client.post(manage_path(subscriber), {"action": "unsubscribe"})

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_a_reader_who_left_comes_back_only_through_a_fresh_confirmation(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now() - dt.timedelta(days=59)):
        subscriber = SubscriberFactory()
        old_link = manage_path(subscriber)  # from an email of two months ago, still valid
    subscriber.status, subscriber.unsubscribed_at = Subscriber.Status.UNSUBSCRIBED, timezone.now()
    subscriber.save()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(old_link, {"action": "resume"})

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED  # the old link alone is not enough
    assert response.status_code == 200
    assert "sent a confirmation link" in response.content.decode()
    [confirmation] = mailoutbox
    assert confirmation.to == [subscriber.email]
    client.post(link_in(confirmation.body, kind="confirm"))
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_the_fresh_confirmation_notice_speaks_the_readers_language(client):
    subscriber = SubscriberFactory(
        status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now(), language="zh-hans"
    )

    response = client.post(manage_path(subscriber), {"action": "resume"})

    assert f"我们已向 {subscriber.email} 发送确认链接" in response.content.decode()


@pytest.mark.parametrize("status", [Subscriber.Status.SUPPRESSED, Subscriber.Status.PENDING])
def test_resume_never_activates_a_suppressed_or_unconfirmed_address(client, status):
    subscriber = SubscriberFactory(status=status, confirmed_at=None)

    client.post(manage_path(subscriber), {"action": "resume"})

    subscriber.refresh_from_db()
    assert subscriber.status == status


def test_delete_asks_first_then_forgets_the_reader_and_their_digests(client):
    item = DigestItemFactory()
    subscriber = item.digest.subscriber
    other = DigestItemFactory()
    path = manage_path(subscriber) + "delete/"

    assert client.get(path).status_code == 200
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()

    response = client.post(path)

    assert response.status_code == 200
    assert "Your data is deleted" in response.content.decode()
    assert not Subscriber.objects.filter(pk=subscriber.pk).exists()
    assert list(Digest.objects.all()) == [other.digest]
    assert list(DigestItem.objects.all()) == [other]


def test_after_deletion_the_old_links_do_nothing(client):
    subscriber = SubscriberFactory()
    links = subscriber_links(subscriber)
    client.post(manage_path(subscriber) + "delete/")

    assert client.get(path_of(links["manage_url"])).status_code == 400
    assert client.post(path_of(links["unsubscribe_url"])).status_code == 400


def test_an_unknown_action_changes_nothing(client):
    subscriber = SubscriberFactory()

    response = client.post(manage_path(subscriber), {"action": "drop-tables"})

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


@pytest.mark.parametrize("purpose", [Purpose.UNSUBSCRIBE, Purpose.CONFIRM, Purpose.VIEW_DIGEST])
def test_a_token_for_another_purpose_does_not_open_the_page(client, purpose):
    subscriber = SubscriberFactory()
    token = make_token(purpose=purpose, subject_id=subscriber.pk, email=subscriber.email)

    assert client.get(f"/manage/{token}/").status_code == 400
    assert client.post(f"/manage/{token}/", {"action": "pause"}).status_code == 400
    assert client.post(f"/manage/{token}/delete/").status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_a_token_for_one_reader_does_not_open_another(client):
    subscriber, other = SubscriberFactory(), SubscriberFactory()
    token = make_token(purpose=Purpose.MANAGE, subject_id=other.pk, email=subscriber.email)

    assert client.post(f"/manage/{token}/delete/").status_code == 400
    assert Subscriber.objects.count() == 2


def test_an_expired_manage_link_is_refused(client):
    subscriber = SubscriberFactory()
    with time_machine.travel(timezone.now() - dt.timedelta(days=61)):
        path = manage_path(subscriber)

    assert client.post(path, {"action": "pause"}).status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_manage_posts_need_the_csrf_token():
    from django.test import Client

    subscriber = SubscriberFactory()

    response = Client(enforce_csrf_checks=True).post(manage_path(subscriber), {"action": "pause"})

    assert response.status_code == 403
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_the_preview_button_on_the_manage_page_saves_nothing(client):
    subscriber = SubscriberFactory(own_query="robots")

    response = client.post(manage_path(subscriber), preferences(action="preview", own_query="x"))

    assert response.status_code == 200
    assert 'value="x"' in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.own_query == "robots"
