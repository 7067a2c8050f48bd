"""Sign-up and "email me a link" do the same work in the web request for every address (new,
pending, active, unsubscribed, suppressed): the same queries, and exactly one task, the same
one, published to the real broker. Only the worker looks the address up, so the response time
tells nothing about it. (Times are measured by bench/address_timing.py, not asserted here.)"""

from __future__ import annotations

import base64
import json
import re

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from newsletter.address_requests import liked_from_payload, liked_payload
from newsletter.celery import app as celery_app
from newsletter.models import ImportedPaper, Subscriber
from newsletter.paper_imports import ImportRecord
from newsletter.services import LikedPapers
from tests.factories import SubscriberFactory
from tests.newsletter.subscription_helpers import signup_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

STATES = {
    "new": None,
    "pending": Subscriber.Status.PENDING,
    "active": Subscriber.Status.ACTIVE,
    "paused": Subscriber.Status.PAUSED,
    "unsubscribed": Subscriber.Status.UNSUBSCRIBED,
    "suppressed": Subscriber.Status.SUPPRESSED,
}


@pytest.fixture
def broker():
    """Tasks go to this run's own Redis broker db (emptied first) instead of running here."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    celery_app.conf.task_always_eager = False
    yield client
    celery_app.conf.task_always_eager = True
    client.flushdb()


def published(client: redis.Redis) -> list[tuple[str, list]]:
    """(task name, positional arguments) of every message waiting in the default queue."""
    messages = []
    for raw in reversed(client.lrange(celery_app.conf.task_default_queue, 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], args))
    return messages


def in_state(state: str) -> str:
    email = f"{state}@example.com"
    if STATES[state] is not None:
        SubscriberFactory(email=email, status=STATES[state])
    return email


def request_work(client, django_capture_on_commit_callbacks, broker, *, path: str, data: dict):
    """The SQL the request ran (the address, were it there, replaced) and what it published."""
    broker.delete(celery_app.conf.task_default_queue)
    with CaptureQueriesContext(connection) as queries:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path, data, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    address = re.escape(data["email"])
    sql = [re.sub(address, "<address>", query["sql"], flags=re.I) for query in queries]
    return sql, published(broker)


def test_a_sign_up_runs_the_same_queries_and_publishes_one_task_for_every_address(
    client, django_capture_on_commit_callbacks, broker
):
    # A process's first validated query loads the synonyms once; a serving process is warm.
    request_work(client, django_capture_on_commit_callbacks, broker, path="/", data=signup_data())
    seen = {}
    for state in STATES:
        email = in_state(state)
        sql, tasks = request_work(
            client,
            django_capture_on_commit_callbacks,
            broker,
            path="/",
            data=signup_data(email=email),
        )
        assert all("<address>" not in statement for statement in sql), (state, sql)
        ((name, (address, preferences, liked)),) = tasks
        assert (name, address, liked) == (
            "newsletter.address_requests.handle_signup",
            email,
            None,  # nothing liked on this form
        ), state
        seen[state] = (sql, preferences)

    assert len({json.dumps(work, sort_keys=True) for work in seen.values()}) == 1
    # Nothing was stored or changed by the requests themselves.
    assert Subscriber.objects.count() == len(STATES) - 1
    assert not Subscriber.objects.filter(email="new@example.com").exists()


def test_email_me_a_link_runs_the_same_queries_and_publishes_one_task_for_every_address(
    client, django_capture_on_commit_callbacks, broker
):
    seen = {}
    for state in STATES:
        email = in_state(state)
        sql, tasks = request_work(
            client,
            django_capture_on_commit_callbacks,
            broker,
            path="/manage/link/",
            data={"email": email, "website": ""},
        )
        assert tasks == [("newsletter.address_requests.handle_manage_link_request", [email])], state
        seen[state] = sql

    assert sql == []  # the form needs no query at all
    assert len({json.dumps(work) for work in seen.values()}) == 1


def test_the_worker_decides_what_each_address_gets(
    client, django_capture_on_commit_callbacks, mailoutbox
):
    # In-process (eager) tasks: what a worker does with each of the published tasks.
    for state in STATES:
        email = in_state(state)
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/manage/link/", {"email": email, "website": ""})

    assert sorted((m.to[0], m.subject) for m in mailoutbox) == [
        ("active@example.com", "Your Paperboy subscription"),
        ("paused@example.com", "Your Paperboy subscription"),
        ("pending@example.com", "Confirm your Paperboy subscription"),
        ("unsubscribed@example.com", "Your Paperboy subscription"),
    ]


def test_the_papers_a_visitor_likes_travel_to_the_worker_as_json_unchanged():
    liked = LikedPapers(
        imported=(
            ImportRecord(
                origin=ImportedPaper.Origin.BIBTEX,
                arxiv_id="2502.01234",
                title="Diffusion, again",
                abstract="We diffuse.",
            ),
        ),
        up_ids=(3, 5),
        down_ids=(8,),
    )

    travelled = json.loads(json.dumps(liked_payload(liked)))

    assert liked_from_payload(travelled) == liked
