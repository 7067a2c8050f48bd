"""Abuse: values that would inject an email header, and signed links swapped between readers,
between purposes or kept too long; each is refused and changes nothing."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from newsletter.digests.building import digests_build
from newsletter.digests.delivery import digests_send
from newsletter.models import Digest, Rating, Subscriber
from newsletter.signing import URL_NAMES, Purpose, make_token
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory
from tests.newsletter.sending_helpers import SinkServer, use_smtp

pytestmark = pytest.mark.django_db

INJECTED = "\r\nBcc: victim@example.org"


def built_digests(*emails: str, topic_name: str = "Diffusion", **reader_fields) -> list[Digest]:
    paper = PaperFactory(title="Diffusion for everyone", authors=["Ada Lovelace"])
    topic = TopicFactory(name=topic_name, query="diffusion")
    readers = [SubscriberFactory(email=email, topics=[topic], **reader_fields) for email in emails]
    built = digests_build(subscriber_ids=[r.pk for r in readers], edition_on=paper.announced_on)
    return list(Digest.objects.filter(pk__in=built.digest_ids).order_by("pk"))


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


# --- Header injection ----------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["smtp", "smtp with pipelining", "django backend"])
def test_a_line_break_in_a_stored_address_fails_that_digest_alone_and_the_batch_goes_on(
    transport, settings, request
):
    sink = None
    if transport != "django backend":
        server = SinkServer(pipelining=transport == "smtp with pipelining")
        request.addfinalizer(server.__exit__)
        use_smtp(settings, server.__enter__().port)
        sink = server.sink
    first, bad, last = built_digests("a@example.com", "bad@example.com", "z@example.com")
    # Forms refuse such an address; a row written some other way must still not inject.
    Subscriber.objects.filter(pk=bad.subscriber_id).update(email="bad@example.com" + INJECTED)

    report = digests_send(digest_ids=[first.pk, bad.pk, last.pk], token="task-1")

    bad.refresh_from_db()
    assert (report.sent, report.failed, report.suppressed) == (2, 1, 0)
    assert bad.status == Digest.Status.FAILED
    assert bad.last_error == "not sent: line break in a header value" or (
        bad.last_error.startswith("not sent: Header values can't contain newlines")
    )
    assert bad.subscriber.soft_bounce_count == 0  # not a bounce: the mailbox never answered
    if sink is not None:
        assert sink.recipients == ["a@example.com", "z@example.com"]
        assert all(b"victim" not in raw for raw in sink.accepted)
    else:
        assert [message.to for message in mail.outbox] == [["a@example.com"], ["z@example.com"]]


def test_line_breaks_in_a_topic_or_author_name_never_leave_the_subject_line(sink):
    (topic_digest,) = built_digests("topic@example.com", topic_name="Diffusion" + INJECTED)
    author_reader = SubscriberFactory(email="author@example.com", authors=["Ada\rLovelace"])
    digests_build(subscriber_ids=[author_reader.pk], edition_on=topic_digest.edition_on)
    author_digest = Digest.objects.get(subscriber=author_reader)

    digests_send(digest_ids=[topic_digest.pk, author_digest.pk], token="task-1")

    assert len(sink.accepted) == 2
    for raw in sink.accepted:
        assert not any(line.lower().startswith(b"bcc") for line in header_lines(raw))
        parsed = message_from_bytes(raw, policy=policy.default)
        assert parsed["Bcc"] is None
        assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    subjects = [message_from_bytes(raw, policy=policy.default)["Subject"] for raw in sink.accepted]
    assert "on Diffusion Bcc: victim@example.org —" in subjects[0]
    assert "by Ada Lovelace —" in subjects[1]


def test_the_longest_values_stay_within_the_header_line_limit(sink):
    longest_topic = "Diffusion " + "ü" * 90  # Topic.name holds 100 characters
    longest_address = "r" * 64 + "@" + "d" * 63 + "." + "d" * 63 + "." + "d" * 57 + ".org"
    assert len(longest_address) == 254  # the most EmailField stores
    (digest,) = built_digests(longest_address, topic_name=longest_topic)

    digests_send(digest_ids=[digest.pk], token="task-1")

    (raw,) = sink.accepted
    assert max(len(line) for line in header_lines(raw)) <= 998  # RFC 5322's hard limit
    parsed = message_from_bytes(raw, policy=policy.default)
    assert longest_topic in parsed["Subject"]
    assert parsed["To"] == longest_address


# --- Signed links -------------------------------------------------------------------------------
# Every page a signed link opens, with what it does; `subject` says which row the token names.

PAGES = {
    Purpose.CONFIRM: [("get", "/confirm/{}/"), ("post", "/confirm/{}/")],
    Purpose.MANAGE: [
        ("get", "/manage/{}/"),
        ("post", "/manage/{}/"),
        ("post", "/manage/{}/delete/"),
    ],
    Purpose.UNSUBSCRIBE: [("get", "/unsubscribe/{}/"), ("post", "/unsubscribe/{}/")],
    Purpose.VIEW_DIGEST: [("get", "/digest/{}/"), ("get", "/digest/{}/more/")],
    Purpose.FEED: [("get", "/feed/{}/")],
    Purpose.RATE: [("get", "/rate/{}/?vote=up"), ("post", "/rate/{}/")],
}


def refused(purpose: Purpose) -> int:
    """How a page refuses a bad link: 400 with a page saying so; a feed reader gets 404."""
    return 404 if purpose is Purpose.FEED else 400


def test_the_pages_cover_every_purpose():
    assert set(PAGES) == set(Purpose) == set(URL_NAMES)


def two_readers() -> tuple[Subscriber, Subscriber, Digest]:
    """Ada (pending, so a confirm link could act) and Bob (active, with a sent digest)."""
    (digest,) = built_digests("bob@example.com")
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENT)
    ada = SubscriberFactory(email="ada@example.com", status=Subscriber.Status.PENDING)
    return ada, digest.subscriber, digest


def snapshot() -> list[tuple]:
    return (
        sorted(
            Subscriber.objects.values_list("pk", "email", "status", "frequency", "unsubscribed_at")
        )
        + sorted(Digest.objects.values_list("pk", "status"))
        + sorted(Rating.objects.values_list("subscriber_id", "paper_id", "vote"))
    )


def paper_of(digest: Digest) -> int:
    """A paper of the digest: every token names it, which only a rating link reads."""
    return digest.items.values_list("paper_id", flat=True).first()


def visit(client, method: str, path: str):
    if method == "get":
        return client.get(path)
    return client.post(path, {"action": "pause", "List-Unsubscribe": "One-Click", "vote": "up"})


@pytest.mark.parametrize("purpose", list(PAGES))
def test_a_link_naming_one_reader_with_anothers_address_opens_nothing(client, purpose):
    ada, bob, digest = two_readers()
    subject_id = digest.pk if purpose is Purpose.VIEW_DIGEST else bob.pk
    swapped = make_token(
        purpose=purpose, subject_id=subject_id, email=ada.email, paper_id=paper_of(digest)
    )
    before = snapshot()

    for method, path in PAGES[purpose]:
        response = visit(client, method, path.format(swapped))
        assert response.status_code == refused(purpose), (method, path, response.status_code)

    assert snapshot() == before


@pytest.mark.parametrize(
    ("made_for", "used_for"),
    [(made, used) for made in Purpose for used in Purpose if made is not used],
)
def test_a_link_made_for_one_purpose_opens_no_other_page(client, made_for, used_for):
    ada, bob, digest = two_readers()
    reader = ada if used_for is Purpose.CONFIRM else bob
    subject_id = digest.pk if used_for is Purpose.VIEW_DIGEST else reader.pk
    token = make_token(
        purpose=made_for, subject_id=subject_id, email=reader.email, paper_id=paper_of(digest)
    )
    before = snapshot()

    for method, path in PAGES[used_for]:
        response = visit(client, method, path.format(token))
        assert response.status_code == refused(used_for), (method, path, response.status_code)

    assert snapshot() == before


@pytest.mark.parametrize(
    ("purpose", "method", "path"),
    [(purpose, method, path) for purpose, pages in PAGES.items() for method, path in pages],
)
def test_the_right_link_opens_each_of_these_pages(client, purpose, method, path):
    # The control for the refusals above: each path is real and acts for its own link.
    ada, bob, digest = two_readers()
    reader = ada if purpose is Purpose.CONFIRM else bob
    subject_id = digest.pk if purpose is Purpose.VIEW_DIGEST else reader.pk
    token = make_token(
        purpose=purpose, subject_id=subject_id, email=reader.email, paper_id=paper_of(digest)
    )
    before = snapshot()

    response = visit(client, method, path.format(token))

    assert response.status_code == 200
    if method == "post":  # confirmed, paused, deleted or unsubscribed
        assert snapshot() != before
    else:
        assert snapshot() == before


def test_a_view_in_browser_link_expires_after_90_days(client):
    _ada, bob, digest = two_readers()
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=bob.email)

    with time_machine.travel(timezone.now() + dt.timedelta(days=89), tick=False):
        assert client.get(f"/digest/{token}/").status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(days=91), tick=False):
        assert client.get(f"/digest/{token}/").status_code == 400
        assert client.get(f"/digest/{token}/more/").status_code == 400


def test_unsubscribe_and_feed_links_keep_working_for_years(client):
    _ada, bob, _digest = two_readers()
    feed = make_token(purpose=Purpose.FEED, subject_id=bob.pk, email=bob.email)
    unsubscribe = make_token(purpose=Purpose.UNSUBSCRIBE, subject_id=bob.pk, email=bob.email)

    with time_machine.travel(timezone.now() + dt.timedelta(days=3 * 365), tick=False):
        assert client.get(f"/feed/{feed}/").status_code == 200
        assert client.post(f"/unsubscribe/{unsubscribe}/").status_code == 200

    bob.refresh_from_db()
    assert bob.status == Subscriber.Status.UNSUBSCRIBED
