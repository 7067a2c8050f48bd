"""Real processes: a Celery prefork worker (`celery -A newsletter worker`) and an aiosmtpd sink
on 127.0.0.1, both started here. Each digest reaches the sink once, and a worker killed with
SIGKILL mid-run loses nothing and doubles only what was in flight, with the same Message-ID."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from django.conf import settings

from bench.smtp_sink import read_log
from newsletter import tasks
from newsletter.celery import app as celery_app
from newsletter.models import Digest
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory
from tests.newsletter.sending_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
EDITION = dt.date(2025, 3, 25)


def database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Processes:
    """The sink and the worker, each in its own process group, always stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "sink.log"
        self.port = free_port()
        self.sink: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def start_sink(self, *extra: str) -> None:
        self.sink = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", "--port", str(self.port),
             "--log", str(self.log), *extra],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        assert self.sink.stdout is not None
        assert self.sink.stdout.readline().startswith("READY")

    def start_worker(self, **env: str) -> None:
        environment = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "DATABASE_URL": database_url(),
            "DB_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_RESULT_BACKEND": settings.CELERY_BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CACHE_URL": os.environ.get("CACHE_URL", "locmemcache://"),
            "SECRET_KEY": settings.SECRET_KEY,
            "EMAIL_URL": f"smtp://127.0.0.1:{self.port}",
            "DIGEST_BATCH_SIZE": "20",
            "DIGEST_LEASE_SECONDS": "5",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "newsletter", "worker",
             "--pool", "prefork", "--concurrency", "2", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", f"digest-test-{os.getpid()}@%h"],
            cwd=ROOT, env=environment, stdout=(self.folder / "worker.log").open("a"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def kill_worker(self) -> None:
        """SIGKILL the worker's main process and its pool children at once."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(10)
        self.worker = None

    def stop(self) -> None:
        for process in (self.worker, self.sink):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)

    def accepted(self) -> Counter[str]:
        return Counter(message_id for message_id, _size, _rcpt in read_log(self.log))


@pytest.fixture
def processes(tmp_path):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # this run's own Redis db
    celery_app.conf.task_always_eager = False
    running = Processes(tmp_path)
    yield running
    running.stop()
    celery_app.conf.task_always_eager = True


def readers(count: int) -> list[int]:
    topic = TopicFactory(query="diffusion")
    PaperFactory(title="Diffusion for everyone", announced_on=EDITION)
    return [SubscriberFactory(topics=[topic]).pk for _ in range(count)]


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def sent_count() -> int:
    return Digest.objects.filter(status=Digest.Status.SENT).count()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_each_digest_once_to_a_real_smtp_server(processes):
    ids = readers(60)
    processes.start_sink()
    processes.start_worker()

    tasks.send_digests_for_date.delay(EDITION.isoformat())
    wait_for(lambda: sent_count() == 60, timeout=60, what="60 digests sent")
    tasks.send_digests_for_date.delay(EDITION.isoformat())  # a second run sends nothing more
    time.sleep(1.5)

    expected = set(Digest.objects.values_list("message_id", flat=True))
    accepted = processes.accepted()
    assert len(expected) == len(ids) == 60
    assert set(accepted) == expected
    assert set(accepted.values()) == {1}


@pytest.mark.faults
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_loses_nothing_and_doubles_only_what_was_in_flight(processes):
    readers(300)
    processes.start_sink("--delay-ms", "15")
    processes.start_worker()
    tasks.send_digests_for_date.delay(EDITION.isoformat())
    in_flight: set[str] = set()

    for kill_after in (60, 160):
        wait_for(lambda n=kill_after: len(processes.accepted()) >= n, timeout=90, what="sends")
        processes.kill_worker()
        in_flight |= set(
            Digest.objects.filter(status=Digest.Status.SENDING).values_list("message_id", flat=True)
        )
        processes.start_worker()

    time.sleep(6)  # leases of the killed worker's batches run out (DIGEST_LEASE_SECONDS=5)
    tasks.sweep_digests.delay()
    tasks.send_digests_for_date.delay(EDITION.isoformat())  # the operator's rerun
    wait_for(lambda: sent_count() == 300, timeout=120, what="all 300 digests sent")
    time.sleep(1)

    expected = set(Digest.objects.values_list("message_id", flat=True))
    accepted = processes.accepted()
    doubled = {message_id for message_id, count in accepted.items() if count > 1}
    assert len(expected) == 300
    assert set(accepted) == expected  # nothing lost
    assert max(accepted.values()) <= 2
    assert doubled <= in_flight  # only what a killed worker held, resent with the same id
