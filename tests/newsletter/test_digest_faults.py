"""Faults under real processes (`make test-faults`): Celery prefork workers, the sink process
(`bench.smtp_sink`), PostgreSQL and Redis servers. Workers SIGKILLed mid-run, Redis restarted,
database connections cut, the same day's run started three times at once, an SMTP server that
answers 4xx, drops connections and is slow: every digest still arrives, and once; the only
copy ever seen twice is one in flight when its worker died, with the same Message-ID. Counts
are taken once everything has settled (nothing queued, running or held), never after a
fixed sleep."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import time
from collections import Counter

import pytest
import redis
from django.db import connection
from django.utils import timezone

from newsletter import tasks
from newsletter.celery import app as celery_app
from newsletter.models import Digest, Subscriber
from tests.newsletter.sending_helpers import (
    UNACKED_KEY,
    SinkServer,
    count_digests,
    enqueue,
    readers,
    wait_for,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.real_clock,  # the workers keep the real time: so do the dates here
    pytest.mark.django_db(transaction=True),
]
# Kill points and sink answers vary per run; FAULTS_SEED=<n> replays one.
SEED = int(os.environ.get("FAULTS_SEED", time.time_ns() % 1_000_000))


@pytest.fixture
def edition() -> dt.date:
    """A recent edition (the sweeper looks at the last week only) that a UTC midnight during
    the test cannot make "tomorrow's": yesterday, by the real clock the workers also read."""
    return timezone.localdate() - dt.timedelta(days=1)


def message_ids(**filters: object) -> set[str]:
    return set(Digest.objects.filter(**filters).values_list("message_id", flat=True))


def held_message_ids() -> set[str]:
    """Digests some worker holds: the only ones a killed worker can have had in flight."""
    return message_ids(status=Digest.Status.SENDING)


def assert_each_arrived_once(processes, *, expected: set[str], in_flight: set[str] = frozenset()):
    accepted = processes.accepted()
    doubled = {message_id for message_id, count in accepted.items() if count > 1}
    assert set(accepted) == expected, f"lost or unexpected (seed {SEED})"
    assert max(accepted.values()) <= 2, f"a digest arrived three times (seed {SEED})"
    assert doubled <= in_flight, f"doubled but never in flight (seed {SEED})"
    return doubled


def sweep_until_sent(processes, count: int, *, broker: str | None = None, timeout: float = 90):
    """What the beat and a process supervisor do after a fault: the sweeper (every 3 s here,
    5 min in production) re-enqueues digests whose task was lost, once their lease ran out,
    and a worker that exited is started again."""
    deadline = time.monotonic() + timeout
    while count_digests() < count and time.monotonic() < deadline:
        time.sleep(3)
        processes.revive_workers()
        enqueue(tasks.sweep_digests, broker=broker)
    assert count_digests() == count, f"seed {SEED}: {where_digests_are()}"
    processes.wait_until_settled()  # a straggling duplicate would reach the sink by then


def where_digests_are() -> str:
    """For a failure message: digests per status, and active readers with none at all."""
    statuses = Counter(Digest.objects.values_list("status", flat=True))
    unbuilt = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE, digests__isnull=True)
    return f"{dict(statuses)}, {unbuilt.count()} readers without a digest"


# --- 1. Workers killed ------------------------------------------------------------------------


def test_workers_killed_at_random_points_lose_nothing_and_double_only_what_was_in_flight(
    processes, edition
):
    count, kills, concurrency = 2000, 3, 2
    readers(count, edition=edition)
    processes.start_sink("--delay-ms", "5")  # a wider window between DATA and its 250
    processes.start_worker(concurrency=concurrency, DIGEST_BATCH_SIZE="50")
    enqueue(tasks.send_digests_for_date, edition.isoformat())
    rng = random.Random(SEED)
    kill_points = sorted(rng.sample(range(150, int(count * 0.8), 150), kills))
    in_flight: set[str] = set()

    for kill_after in kill_points:
        wait_for(
            lambda n=kill_after: sum(processes.accepted().values()) >= n,
            timeout=90,
            what=f"{kill_after} messages at the sink (seed {SEED})",
        )
        time.sleep(rng.uniform(0, 0.3))  # anywhere in a batch, mid-SMTP or mid-commit
        processes.kill_workers()
        in_flight |= held_message_ids()
        processes.start_worker(concurrency=concurrency, DIGEST_BATCH_SIZE="50")

    # The day's run again (a beat tick, an operator) builds what lost tasks never did; the
    # sweeper takes back the dead workers' digests once their leases (5 s here) run out.
    enqueue(tasks.send_digests_for_date, edition.isoformat())
    sweep_until_sent(processes, count, timeout=120)

    doubled = assert_each_arrived_once(processes, expected=message_ids(), in_flight=in_flight)
    assert len(doubled) <= kills * concurrency  # one message in flight per pool process


# --- 2. Redis restarted -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped cleanly", "crashed (SIGKILL)"]
)
def test_a_redis_restart_mid_run_loses_nothing_and_doubles_nothing(
    processes, redis_server, edition, how
):
    count = 600
    readers(count, edition=edition)
    processes.broker = redis_server.url()
    processes.start_sink("--delay-ms", "5")
    processes.start_worker()
    enqueue(tasks.send_digests_for_date, edition.isoformat(), broker=processes.broker)
    wait_for(lambda: count_digests() >= 150, timeout=60, what="150 digests sent")

    # SIGTERM lets Redis close its clients and flush; SIGKILL gives it no last word (its
    # append-only file is fsynced on every write, as in production).
    redis_server.stop(how=how)
    time.sleep(2)  # the outage: workers find the broker gone mid-batch
    redis_server.start()  # the same port and append-only file: queued tasks survive
    processes.forget_lost_acks()  # acks of the tasks running during the outage are lost

    sweep_until_sent(processes, count, broker=processes.broker)

    assert_each_arrived_once(processes, expected=message_ids())


# --- 3. Database connections cut ----------------------------------------------------------------


def cut_database_connections() -> int:
    """Terminate every other backend of the test database: workers, commands, all."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_database_connections_cut_mid_run_are_retried_and_nothing_doubles(processes, edition):
    count = 600
    readers(count, edition=edition)
    processes.start_sink("--delay-ms", "5")
    processes.start_worker(DB_CONN_MAX_AGE="60")  # kept between tasks, as in production
    enqueue(tasks.send_digests_for_date, edition.isoformat())
    cut = 0
    for _ in range(10):  # while the run fans out and the first batches build
        time.sleep(0.15)
        cut += cut_database_connections()
    for threshold in (200, 350, 500):  # and mid-batch, between a 250 and its sent mark
        wait_for(lambda n=threshold: count_digests() >= n, timeout=60, what=f"{threshold} sent")
        cut += cut_database_connections()

    sweep_until_sent(processes, count)  # no second run: the cut tasks retry on their own

    assert cut >= 3
    assert_each_arrived_once(processes, expected=message_ids())


# --- 4. The same day's run started three times at once -----------------------------------------


def test_the_same_days_run_started_three_times_at_once_sends_each_digest_once(processes, edition):
    count = 600
    readers(count, edition=edition)
    processes.start_sink("--delay-ms", "2")
    processes.start_worker(concurrency=2)
    processes.start_worker(concurrency=1)

    enqueue(tasks.send_digests_for_date, edition.isoformat())  # two beat ticks …
    enqueue(tasks.send_digests_for_date, edition.isoformat())
    command = processes.start_command(  # … and an operator, all at once
        "send_digests", "--date", edition.isoformat(), DIGEST_BATCH_SIZE="20"
    )
    stdout, stderr = command.communicate(timeout=120)
    wait_for(lambda: count_digests() == count, timeout=90, what=f"{count} digests sent")
    processes.wait_until_settled()

    assert command.returncode == 0, stderr
    assert stdout.startswith("built "), stdout
    assert Digest.objects.count() == count
    assert_each_arrived_once(processes, expected=message_ids())
    assert set(processes.accepted().values()) == {1}


# --- 5. An SMTP server that fails ----------------------------------------------------------------


def test_an_smtp_storm_of_4xx_drops_and_slowness_delivers_everything_once_with_back_off(
    processes, edition
):
    count, unknown = 400, ["reader7@example.com", "reader250@example.com"]
    readers(count, edition=edition)
    processes.start_sink(
        "--temp-fail-share", "0.15", "--drop-share", "0.05", "--delay-ms", "20",
        "--seed", str(SEED), "--hard-bounce", *unknown,
    )  # fmt: skip
    processes.start_worker(DIGEST_RETRY_SECONDS="1")
    enqueue(tasks.send_digests_for_date, edition.isoformat())

    delivered = count - len(unknown)
    wait_for(lambda: count_digests() == delivered, timeout=120, what=f"{delivered} sent")
    processes.wait_until_settled()

    bounced = Digest.objects.filter(subscriber__email__in=unknown)
    assert sorted(bounced.values_list("status", "attempts")) == [(Digest.Status.FAILED, 1)] * 2
    assert set(Subscriber.objects.filter(email__in=unknown).values_list("status", flat=True)) == {
        Subscriber.Status.SUPPRESSED
    }
    assert (
        assert_each_arrived_once(processes, expected=message_ids(status=Digest.Status.SENT))
        == set()
    )
    attempts = list(
        Digest.objects.filter(status=Digest.Status.SENT).values_list("attempts", flat=True)
    )
    assert sum(attempts) > delivered  # 4xx and drops were retried …
    assert max(attempts) <= 8  # … within the attempts there are


def test_soft_bounces_on_three_editions_suppress_the_address_and_the_others_go_on(
    processes, edition
):
    days = [edition - dt.timedelta(days=3 - offset) for offset in range(4)]  # in the week
    ids = readers(20, edition=days[0])
    for day in days[1:]:
        readers(0, edition=day)
    full = Subscriber.objects.get(pk=ids[3])
    with SinkServer() as smtp:  # a scripted sink: this mailbox is always full
        smtp.sink.rcpt_answers[full.email] = "552 5.2.2 mailbox full"
        processes.port = smtp.port
        processes.start_worker()
        for number, day in enumerate(days, start=1):
            enqueue(tasks.send_digests_for_date, day.isoformat())
            wait_for(
                lambda n=number: count_digests() == 19 * n,
                timeout=30,
                what=f"edition {number} sent",
            )
            processes.wait_until_settled()
        recipients = list(smtp.sink.recipients)

    full.refresh_from_db()
    assert full.status == Subscriber.Status.SUPPRESSED
    assert full.soft_bounce_count == 3
    assert (
        list(Digest.objects.filter(subscriber=full).order_by("edition_on").values_list("status"))
        == [(Digest.Status.FAILED,)] * 3
    )  # tried once per edition; the fourth was never built
    assert full.email not in recipients
    assert len(recipients) == 19 * 4


# --- 7. A fan-out task lost with its worker ------------------------------------------------------


def reserved_tasks(broker: redis.Redis, *, name: str) -> set[bytes]:
    """Delivery tags of the `name` tasks a worker has taken and not acknowledged."""
    return {
        tag
        for tag, value in broker.hgetall(UNACKED_KEY).items()
        if json.loads(value)[0]["headers"]["task"] == name
    }


def test_a_worker_killed_right_after_it_reserved_a_fan_out_task_loses_no_reader(processes, edition):
    count = 200
    readers(count, edition=edition)
    processes.start_sink("--delay-ms", "5")
    worker = processes.start_worker(concurrency=2, DIGEST_BATCH_SIZE="20")  # ten fan-out tasks
    broker = redis.Redis.from_url(processes.broker)
    enqueue(tasks.send_digests_for_date, edition.isoformat())
    deadline = time.monotonic() + 60
    taken: set[bytes] = set()
    while not taken:
        assert time.monotonic() < deadline, "no fan-out task was ever reserved"
        taken = reserved_tasks(broker, name=tasks.build_and_send_digests.name)
        time.sleep(0.002)

    os.kill(worker.pid, signal.SIGKILL)  # the main process; its pool children die with it
    worker.wait(10)
    in_flight = held_message_ids()
    # Its reservation stays in `unacked` until the visibility timeout (an hour), or is gone
    # altogether if Redis had popped it and the worker had not yet recorded it there.
    unacked = Counter(
        json.loads(value)[0]["headers"]["task"] for value in broker.hvals(UNACKED_KEY)
    )
    queued = broker.llen(celery_app.conf.task_default_queue)
    print(f"after the kill: unacked {dict(unacked)}, queued {queued}, held {len(in_flight)}")

    # No second run and no operator: the beat's sweeper and a supervisor restarting the worker.
    sweep_until_sent(processes, count, timeout=120)

    assert_each_arrived_once(processes, expected=message_ids(), in_flight=in_flight)
    assert Digest.objects.filter(edition_on=edition).count() == count
