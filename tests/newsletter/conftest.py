"""Fixtures of the newsletter tests that start real processes."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from newsletter import tasks
from newsletter.celery import app as celery_app
from tests.newsletter.sending_helpers import (
    Processes,
    RedisServer,
    ScriptedOutbox,
    SinkServer,
    use_smtp,
)


@pytest.fixture
def processes(tmp_path, request):
    """A sink, workers and commands on this run's own Redis db; tasks the test enqueues go to
    them (not run in-process)."""
    if not request.node.get_closest_marker("real_clock"):
        pytest.fail("a test with real processes must be marked real_clock: they see the real time")
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    celery_app.conf.task_always_eager = False
    running = Processes(tmp_path, broker=settings.CELERY_BROKER_URL)
    yield running
    running.stop()
    celery_app.conf.task_always_eager = True


@pytest.fixture(params=["pipelining", "one command at a time"])
def sink(settings, request):
    """An aiosmtpd sink in this process, with Django's SMTP settings pointed at it; every
    test using it runs against a server offering PIPELINING (as production relays do) and
    against one that does not."""
    with SinkServer(pipelining=request.param == "pipelining") as server:
        use_smtp(settings, server.port)
        yield server.sink


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of the test's own (never the shared one), stopped at the end."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def scripted_outbox(settings):
    """Mail goes to mail.outbox through ScriptedOutbox; the test sets its hooks and speed."""
    settings.EMAIL_BACKEND = f"{ScriptedOutbox.__module__}.{ScriptedOutbox.__qualname__}"
    yield ScriptedOutbox
    ScriptedOutbox.before_each = ScriptedOutbox.after_each = None
    ScriptedOutbox.seconds_each = 0.0


@pytest.fixture
def retrains(monkeypatch):
    """The reader ids the retrain task was enqueued for (it runs in-process, on commit)."""
    called: list[int] = []
    original = tasks.schedule_reader_retrain.run

    def record(subscriber_id: int) -> bool:
        called.append(subscriber_id)
        return original(subscriber_id)

    monkeypatch.setattr(tasks.schedule_reader_retrain, "run", record)
    return called
