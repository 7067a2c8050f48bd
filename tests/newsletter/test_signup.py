"""Signing up: double opt-in, one answer for every address, and the abuse limits."""

from __future__ import annotations

import pytest
import redis
from django.utils import timezone

from newsletter import ratelimits
from newsletter.models import Subscriber
from tests.factories import SubscriberFactory, TopicFactory
from tests.newsletter.subscription_helpers import link_in, signup_data

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("frozen_clock"),  # one rate-limit window for the whole test
]

TYPED_QUERY = '"free crypto" spamword'


@pytest.fixture
def post_signup(client, django_capture_on_commit_callbacks):
    def post(**overrides):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/", signup_data(**overrides), REMOTE_ADDR="203.0.113.7")

    return post


def test_the_page_offers_every_choice_and_works_without_javascript(client):
    TopicFactory(name="Quantum sheep")

    response = client.get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Get trending papers in your email inbox" in page
    assert "Quantum sheep" in page
    for name in (
        "email",
        "own_query",
        "categories",
        "authors",
        "frequency",
        "send_hour_local",
        "time_zone",
        "max_papers",
        "language",
        "include_cross_lists",
    ):
        assert f'name="{name}"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'value="preview"' in page
    assert "<script src=" in page and "<script>" not in page  # CSP: no inline script


def test_a_new_address_is_stored_pending_and_sent_a_confirmation(post_signup, mailoutbox):
    topic = TopicFactory()

    response = post_signup(topics=[topic.pk], own_query=TYPED_QUERY, authors="Mallory Spam")

    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()
    subscriber = Subscriber.objects.get()
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.confirmed_at is None
    assert list(subscriber.topics.all()) == [topic]
    assert subscriber.own_query == TYPED_QUERY
    assert subscriber.authors == ["Mallory Spam"]
    assert subscriber.time_zone == "Europe/Berlin"
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["reader@example.com"]
    assert message.subject == "Confirm your Paperboy subscription"
    assert link_in(message.body, kind="confirm").startswith("/confirm/")


def test_the_confirmation_email_never_echoes_what_the_visitor_typed(post_signup, mailoutbox):
    topic = TopicFactory(name="Cheap pills topic")

    post_signup(topics=[topic.pk], own_query=TYPED_QUERY, authors="Mallory Spam")

    message = mailoutbox[0]
    html = message.alternatives[0][0]
    for typed in ("free crypto", "spamword", "Mallory", "Cheap pills", "Europe/Berlin"):
        assert typed not in message.subject
        assert typed not in message.body
        assert typed not in html
    assert "List-Unsubscribe" not in message.extra_headers


def _answer(response):
    return response.status_code, response.content, response.templates[0].name


def test_the_answer_is_the_same_for_new_pending_active_unsubscribed_and_honeypot(
    post_signup, mailoutbox
):
    SubscriberFactory(email="pending@example.com", status=Subscriber.Status.PENDING)
    SubscriberFactory(email="active@example.com")
    SubscriberFactory(email="paused@example.com", status=Subscriber.Status.PAUSED)
    SubscriberFactory(email="left@example.com", status=Subscriber.Status.UNSUBSCRIBED)
    SubscriberFactory(email="bounced@example.com", status=Subscriber.Status.SUPPRESSED)

    answers = {
        email: _answer(post_signup(email=email))
        for email in (
            "new@example.com",
            "pending@example.com",
            "active@example.com",
            "paused@example.com",
            "left@example.com",
            "bounced@example.com",
        )
    }
    answers["honeypot"] = _answer(post_signup(email="bot@example.com", website="http://x.test"))

    assert len(set(answers.values())) == 1
    status, _content, template = answers["honeypot"]
    assert (status, template) == (200, "pages/check_inbox.html")


def test_an_active_subscriber_gets_a_manage_link_not_a_second_subscription(post_signup, mailoutbox):
    subscriber = SubscriberFactory(email="reader@example.com", own_query="robots")

    post_signup(email="READER@example.com", own_query=TYPED_QUERY)

    assert Subscriber.objects.count() == 1
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.own_query == "robots"
    (message,) = mailoutbox
    assert message.subject == "Your Paperboy subscription"
    assert link_in(message.body, kind="manage").startswith("/manage/")
    assert "spamword" not in message.body


def test_a_pending_address_gets_a_fresh_confirmation_and_its_latest_choice(post_signup, mailoutbox):
    created = timezone.now() - timezone.timedelta(hours=30)
    subscriber = SubscriberFactory(
        email="reader@example.com", status=Subscriber.Status.PENDING, confirmed_at=None
    )
    Subscriber.objects.filter(pk=subscriber.pk).update(created_at=created)

    post_signup(own_query="robots")

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.own_query == "robots"
    assert subscriber.created_at > created
    assert [m.subject for m in mailoutbox] == ["Confirm your Paperboy subscription"]


def test_an_unsubscribed_address_gets_a_confirmation_to_come_back_and_stays_out_until_then(
    post_signup, mailoutbox
):
    subscriber = SubscriberFactory(
        email="reader@example.com",
        status=Subscriber.Status.UNSUBSCRIBED,
        unsubscribed_at=timezone.now(),
    )

    post_signup(own_query="robots")

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert [m.subject for m in mailoutbox] == ["Confirm your Paperboy subscription"]


def test_a_suppressed_address_is_sent_nothing(post_signup, mailoutbox):
    subscriber = SubscriberFactory(email="reader@example.com", status=Subscriber.Status.SUPPRESSED)

    post_signup(own_query="robots")

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.SUPPRESSED
    assert subscriber.own_query == ""
    assert mailoutbox == []


def test_a_honeypot_hit_stores_and_sends_nothing(post_signup, mailoutbox):
    response = post_signup(website="http://spam.example")

    assert response.status_code == 200
    assert Subscriber.objects.count() == 0
    assert mailoutbox == []


def test_the_request_stores_and_sends_nothing_itself_a_task_does_after_commit(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/", signup_data())

    assert response.status_code == 200
    assert Subscriber.objects.count() == 0  # the address is looked up in the worker only
    assert mailoutbox == []
    assert len(callbacks) == 1

    with django_capture_on_commit_callbacks(execute=True):
        callbacks[0]()

    assert Subscriber.objects.count() == 1
    assert len(mailoutbox) == 1


def test_the_form_refuses_a_post_without_a_csrf_token():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/", signup_data())

    assert response.status_code == 403
    assert Subscriber.objects.count() == 0


def test_confirmation_mails_to_one_address_are_capped_per_day(post_signup, mailoutbox):
    daily = int(ratelimits.MAILS_PER_ADDRESS_PER_DAY.split("/")[0])

    answers = {post_signup().status_code for _ in range(daily + 2)}

    assert answers == {200}
    assert len(mailoutbox) == daily
    assert Subscriber.objects.count() == 1


def test_the_cap_counts_manage_links_and_confirmations_together(post_signup, mailoutbox):
    SubscriberFactory(email="reader@example.com")

    for _ in range(5):
        post_signup()

    assert len(mailoutbox) == 3
    assert {m.subject for m in mailoutbox} == {"Your Paperboy subscription"}


def test_one_address_cannot_be_posted_more_than_the_hourly_limit(post_signup, mailoutbox):
    per_hour = int(ratelimits.FORM_POSTS_PER_ADDRESS.split("/")[0])
    for _ in range(per_hour):
        assert post_signup(email="victim@example.com").status_code == 200

    response = post_signup(email="Victim@Example.com")

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert post_signup(email="someone-else@example.com").status_code == 200


def test_one_ip_cannot_post_more_than_the_hourly_limit(post_signup, mailoutbox):
    per_hour = int(ratelimits.FORM_POSTS_PER_IP.split("/")[0])
    for number in range(per_hour):
        assert post_signup(email=f"reader{number}@example.com").status_code == 200
    count = Subscriber.objects.count()

    response = post_signup(email="one-more@example.com")

    assert response.status_code == 429
    assert Subscriber.objects.count() == count
    assert not Subscriber.objects.filter(email="one-more@example.com").exists()


def test_invalid_posts_count_against_the_ip_limit_too(client):
    per_hour = int(ratelimits.FORM_POSTS_PER_IP.split("/")[0])
    for _ in range(per_hour):
        client.post("/", signup_data(email="nonsense"), REMOTE_ADDR="198.51.100.1")

    response = client.post("/", signup_data(), REMOTE_ADDR="198.51.100.1")

    assert response.status_code == 429
    assert Subscriber.objects.count() == 0


def test_limits_are_counted_where_every_other_process_sees_them(client, settings):
    cache = settings.CACHES["default"]
    if cache["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        pytest.fail("run the tests with CACHE_URL=rediscache://… (make test does), as production")
    elsewhere = redis.Redis.from_url(cache["LOCATION"])  # another process's own connection
    before = set(elsewhere.scan_iter("*rl:*"))

    client.get("/preview/", {"own_query": "x"}, REMOTE_ADDR="192.0.2.44")

    counters = set(elsewhere.scan_iter("*rl:*")) - before
    assert [int(elsewhere.get(key)) for key in counters] == [1]


def test_two_sign_ups_for_one_address_make_one_row(post_signup, mailoutbox):
    post_signup(email="twice@example.com")
    post_signup(email="TWICE@example.com")

    assert Subscriber.objects.filter(email__iexact="twice@example.com").count() == 1


def test_email_me_a_link_answers_the_same_for_every_address(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    SubscriberFactory(email="active@example.com")
    SubscriberFactory(email="pending@example.com", status=Subscriber.Status.PENDING)

    answers = {}
    for email in ("active@example.com", "pending@example.com", "nobody@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/manage/link/", {"email": email, "website": ""})
        answers[email] = _answer(response)

    assert len(set(answers.values())) == 1
    assert sorted((m.to[0], m.subject) for m in mailoutbox) == [
        ("active@example.com", "Your Paperboy subscription"),
        ("pending@example.com", "Confirm your Paperboy subscription"),
    ]


def test_email_me_a_link_refuses_a_bad_address_next_to_the_field(client, mailoutbox):
    response = client.post("/manage/link/", {"email": "x@y\r\nBcc: z@w.org"})

    assert response.status_code == 400
    assert "on one line" in response.content.decode()
    assert mailoutbox == []


def test_behind_a_proxy_the_limit_follows_the_address_the_proxy_saw(client, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    per_hour = int(ratelimits.FORM_POSTS_PER_IP.split("/")[0])

    def post(forwarded_for: str, number: int):
        return client.post(
            "/",
            signup_data(email=f"reader{number}@example.com"),
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    for number in range(per_hour):
        assert post("198.51.100.5", number).status_code == 200

    assert post("203.0.113.1, 198.51.100.5", 100).status_code == 429  # a spoofed prefix
    assert post("198.51.100.6", 101).status_code == 200  # another reader behind the proxy


def test_a_garbled_forwarded_header_falls_back_to_the_peer_address(rf, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"

    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip")

    assert ratelimits.client_ip(request) == "10.0.0.1"
