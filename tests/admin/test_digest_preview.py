"""Previewing a reader's next digest from admin, and sending a test copy to oneself."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.utils import timezone

from newsletter.models import Digest, DigestItem, Subscriber
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db


def preview_url(subscriber: Subscriber) -> str:
    return f"/admin/newsletter/subscriber/{subscriber.pk}/next-digest/"


@pytest.fixture
def reader() -> Subscriber:
    topic = TopicFactory(name="Zymurgy", query="zymurgy")
    PaperFactory(arxiv_id="2503.00501", title="Zymurgy at <scale> & beyond")
    return SubscriberFactory(email="ada@example.com", topics=[topic])


def test_the_preview_shows_both_parts_of_the_next_digest_and_records_nothing(editor_client, reader):
    response = editor_client.get(preview_url(reader))

    assert response.status_code == 200
    page = response.content.decode()
    assert "2503.00501" in page.split('id="digest-text"')[1]  # the plain-text part
    # The HTML part sits in a sandboxed srcdoc frame, escaped once more for the attribute.
    assert "<iframe sandbox" in page
    assert "Zymurgy at &amp;lt;scale&amp;gt; &amp;amp; beyond" in page
    assert "&lt;digest." in page  # the Message-ID the real send will carry
    assert Digest.objects.count() == 0
    assert DigestItem.objects.count() == 0
    assert mail.outbox == []
    reader.refresh_from_db()
    assert reader.last_digest_on is None


def test_a_test_copy_goes_to_the_editor_only_and_records_nothing(editor_client, reader):
    response = editor_client.post(preview_url(reader), follow=True)

    assert "Test copy sent to editor@example.com." in response.content.decode()
    assert [message.to for message in mail.outbox] == [["editor@example.com"]]
    copy = mail.outbox[0]
    assert "Zymurgy at <scale> & beyond" in copy.body
    assert "Zymurgy at &lt;scale&gt; &amp; beyond" in copy.alternatives[0][0]
    # The editor's mail client must not offer to unsubscribe the reader.
    assert not [name for name in copy.extra_headers if name.startswith("List-Unsubscribe")]
    # A fresh Message-ID: the reader's real digest keeps its own.
    assert not copy.extra_headers["Message-ID"].startswith("<digest.")
    assert Digest.objects.count() == 0
    reader.refresh_from_db()
    assert reader.last_digest_on is None


def test_once_todays_digest_is_built_the_preview_is_of_tomorrows(editor_client, reader):
    today = timezone.localdate()
    Subscriber.objects.filter(pk=reader.pk).update(last_digest_on=today)

    page = editor_client.get(preview_url(reader)).content.decode()

    tomorrow = today + dt.timedelta(days=1)
    assert f"Edition of {tomorrow:%A} {tomorrow.day} {tomorrow:%B %Y}" in page


def test_a_reader_with_nothing_new_would_be_skipped(editor_client):
    reader = SubscriberFactory(topics=[TopicFactory(query="zymurgy")])
    PaperFactory(title="Something else")

    response = editor_client.get(preview_url(reader))

    assert 'id="digest-empty"' in response.content.decode()
    assert "this digest would be skipped" in response.content.decode()
    editor_client.post(preview_url(reader))
    assert mail.outbox == []


def test_a_paused_reader_gets_no_digest_and_no_test_copy(editor_client, reader):
    Subscriber.objects.filter(pk=reader.pk).update(status=Subscriber.Status.PAUSED)

    page = editor_client.get(preview_url(reader)).content.decode()
    response = editor_client.post(preview_url(reader), follow=True)

    assert "only active subscribers get one, and this one is paused" in page
    assert "Nothing to send" in response.content.decode()
    assert mail.outbox == []


def test_an_editor_without_an_address_is_told_to_add_one(editor_client, editor, reader):
    User.objects.filter(pk=editor.pk).update(email="")

    response = editor_client.post(preview_url(reader), follow=True)

    assert "Add an email address to your account first." in response.content.decode()
    assert mail.outbox == []


def test_the_subscriber_and_digest_pages_link_to_the_preview(editor_client, reader):
    from tests.factories import DigestFactory

    digest = DigestFactory(subscriber=reader)

    for page in (
        f"/admin/newsletter/subscriber/{reader.pk}/change/",
        f"/admin/newsletter/digest/{digest.pk}/change/",
    ):
        assert f'href="{preview_url(reader)}"' in editor_client.get(page).content.decode()


def test_only_staff_who_may_see_digests_reach_the_preview(client, reader):
    assert client.get(preview_url(reader)).status_code == 302  # to the login page
    assert client.post(preview_url(reader)).status_code == 302

    clerk = User.objects.create_user("clerk", "clerk@example.com", "x", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_subscriber"))
    client.force_login(clerk)

    assert client.get(preview_url(reader)).status_code == 403
    assert client.post(preview_url(reader)).status_code == 403
    assert mail.outbox == []
