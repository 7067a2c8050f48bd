"""Test helpers for digests: a real SMTP sink on 127.0.0.1 (aiosmtpd, in a thread) that can
answer like a real server does, and real processes for the fault tests: the sink process
(`bench.smtp_sink`), Celery prefork workers, a Redis server of the test's own, and the
`send_digests` command."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from celery import Task
from django.conf import settings
from django.core.mail.backends import locmem
from django.utils import timezone

from bench.smtp_sink import read_log
from newsletter.celery import app as celery_app
from newsletter.models import Digest, Subscriber, Topic
from papers.models import Paper
from tests.factories import PaperFactory

ROOT = Path(__file__).resolve().parents[2]

# Where kombu's Redis transport keeps the tasks workers took and have not acknowledged.
UNACKED_KEY = "unacked"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Sink:
    """Accepted messages, and scripted answers: `answers[address]` is a list of SMTP replies
    given to that recipient's next DATA commands (then 250)."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    rcpt_answers: dict[str, str] = field(default_factory=dict)
    accepted: list[bytes] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: int = 0
    pipelining: bool = True

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.rcpt_answers:
            return self.rcpt_answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        address = envelope.rcpt_tos[0]
        with self.lock:
            scripted = self.answers.get(address)
            if scripted:
                answer = scripted.pop(0)
                if answer == "drop":
                    server.transport.close()
                    return "421 4.4.2 dropped"
                return answer
            self.accepted.append(envelope.original_content)
            self.recipients.append(address)
        return "250 2.0.0 queued"

    @property
    def message_ids(self) -> Counter[str]:
        found = (MESSAGE_ID.search(raw) for raw in self.accepted)
        return Counter(match.group(1).decode() for match in found if match)

    def parsed(self, index: int = -1) -> EmailMessage:
        return message_from_bytes(self.accepted[index], policy=policy.default)


class SinkServer:
    def __init__(self, *, pipelining: bool = True) -> None:
        self.sink = Sink(pipelining=pipelining)
        self.port = free_port()
        self.controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.port, decode_data=False
        )

    def __enter__(self) -> SinkServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class ScriptedOutbox(locmem.EmailBackend):
    """Django's memory outbox (mail.outbox) behind a mail server the test scripts: as each
    message goes out `before_each` runs, the server takes `seconds_each`, accepts it, and
    `after_each` runs. Set with the `scripted_outbox` fixture, which resets it."""

    before_each: Callable[[], None] | None = None
    seconds_each: float = 0.0
    after_each: Callable[[], None] | None = None

    def send_messages(self, messages) -> int:
        sent = 0
        for message in messages:
            if ScriptedOutbox.before_each is not None:
                ScriptedOutbox.before_each()
            time.sleep(ScriptedOutbox.seconds_each)
            sent += super().send_messages([message])
            if ScriptedOutbox.after_each is not None:
                ScriptedOutbox.after_each()
        return sent


def use_smtp(settings, port: int) -> None:
    """Point Django's mail settings at the sink, as EMAIL_URL=smtp://127.0.0.1:port would."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


# --- Real processes ---------------------------------------------------------------------------


def database_url() -> str:
    """The test database, as a worker process started by the test reaches it."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _stop(process: subprocess.Popen | None, *, how: int = signal.SIGTERM) -> None:
    """Stop a process group started with start_new_session, escalating to SIGKILL."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, how)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


class RedisServer:
    """A redis-server of the test's own on a free port, persisting like a production one
    (append-only file, fsync on every write) into the test's folder, so it can be stopped and
    started again with the queues it held."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url(), socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), timeout=10, what="redis-server to answer")

    def stop(self, *, how: int = signal.SIGTERM) -> None:
        _stop(self.process, how=how)
        self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class Processes:
    """The sink process, Celery prefork workers and `send_digests` commands, each in its own
    process group, all stopped at the end. Workers read the test database and `broker`."""

    def __init__(self, folder: Path, *, broker: str) -> None:
        self.folder = folder
        self.broker = broker
        self.log = folder / "sink.log"
        self.port = free_port()
        self.sink: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.worker_options: dict[int, dict] = {}
        self.started = 0
        self.commands: list[subprocess.Popen] = []
        self.lost_acks: set[bytes] = set()

    def start_sink(self, *extra: str) -> None:
        """`python -m bench.smtp_sink`: logs the Message-ID of every message it accepts;
        `extra` are its fault options (--temp-fail-share, --drop-share, --delay-ms, …)."""
        self.sink = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", "--port", str(self.port),
             "--log", str(self.log), *extra],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        assert self.sink.stdout is not None
        assert self.sink.stdout.readline().startswith("READY")

    def environment(self, **env: str) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            # The code of this tree, not whatever is installed (a scratch copy under test).
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url(),
            "DB_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": self.broker,
            "CELERY_RESULT_BACKEND": self.broker,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CACHE_URL": os.environ.get("CACHE_URL", "locmemcache://"),
            "SECRET_KEY": settings.SECRET_KEY,
            "EMAIL_URL": f"smtp://127.0.0.1:{self.port}",
            "DIGEST_BATCH_SIZE": "20",
            "DIGEST_LEASE_SECONDS": "5",
            "LOG_LEVEL": "WARNING",
            **env,
        }

    def start_worker(self, *, concurrency: int = 2, **env: str) -> subprocess.Popen:
        name = f"digest-test-{os.getpid()}-{self.started}@%h"
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "newsletter", "worker",
             "--pool", "prefork", "--concurrency", str(concurrency), "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", name],
            cwd=ROOT, env=self.environment(**env),
            stdout=(self.folder / "worker.log").open("a"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        print(f"worker {worker.pid} logs to {self.folder / 'worker.log'}")  # shown on failure
        self.started += 1
        self.workers.append(worker)
        self.worker_options[worker.pid] = {"concurrency": concurrency, **env}
        return worker

    def kill_workers(self) -> None:
        """SIGKILL every worker's main process and its pool children at once."""
        for worker in self.workers:
            _stop(worker, how=signal.SIGKILL)
        self.workers = []
        self.forget_lost_acks()

    def revive_workers(self) -> int:
        """What a process supervisor (systemd, a container's restart policy) does: start again,
        with the same options, any worker that exited. Returns how many it restarted."""
        dead = [worker for worker in self.workers if worker.poll() is not None]
        if dead:
            self.forget_lost_acks()
        for worker in dead:
            self.workers.remove(worker)
            with contextlib.suppress(ProcessLookupError):  # as a container restart would,
                os.killpg(worker.pid, signal.SIGKILL)  # end pool children left behind
            self.start_worker(**self.worker_options.pop(worker.pid))
        return len(dead)

    def start_command(self, *args: str, **env: str) -> subprocess.Popen:
        """`python manage.py <args>` against the same database and sink."""
        command = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.environment(**env), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        self.commands.append(command)
        return command

    def stop(self) -> None:
        for process in [*self.commands, *self.workers, self.sink]:
            _stop(process)

    def forget_lost_acks(self) -> None:
        """Tasks the broker still counts as running but that nobody runs any more: a killed
        worker's, and those whose acknowledgement a broker restart lost. Redis holds them
        for the visibility timeout (an hour); waiting for them would never end."""
        client = redis.Redis.from_url(self.broker)
        self.lost_acks |= set(client.hkeys(UNACKED_KEY))

    def busy(self) -> str:
        """What is still going on ("" when nothing): tasks queued in the broker or running in
        a worker (taken, not yet acknowledged: tasks acknowledge late), a command running,
        digests not settled yet (pending or sending)."""
        client = redis.Redis.from_url(self.broker)
        queue = celery_app.conf.task_default_queue  # one list per priority step in Redis
        queued = sum(
            client.llen(key) for key in client.scan_iter(f"{queue}*") if client.type(key) == b"list"
        )
        if queued:
            return f"{queued} tasks queued"
        running = set(client.hkeys(UNACKED_KEY)) - self.lost_acks
        if running:
            return f"{len(running)} tasks taken by a worker and not finished"
        if any(command.poll() is None for command in self.commands):
            return "a command is running"
        unsettled = Digest.objects.filter(
            status__in=[Digest.Status.PENDING, Digest.Status.SENDING]
        ).count()
        return f"{unsettled} digests pending or sending" if unsettled else ""

    def wait_until_settled(self, *, timeout: float = 60) -> None:
        """Wait until nothing is going on (see busy) three times in a row, 0.3 s apart (a
        task is out of the queue a moment before it is marked taken): then counting what
        arrived tells what a run did, with no fixed sleep standing in for "nothing more"."""
        deadline = time.monotonic() + timeout
        calm, state = 0, "not checked"
        while calm < 3:
            if time.monotonic() > deadline:
                pytest.fail(f"not settled after {timeout:g} s: {state}")
            state = self.busy()
            calm = 0 if state else calm + 1
            time.sleep(0.3)

    def accepted(self) -> Counter[str]:
        """How many times the sink accepted each Message-ID."""
        return Counter(message_id for message_id, _size, _rcpt in read_log(self.log))


def enqueue(task: Task, *args: object, broker: str | None = None) -> None:
    """Publish a task to the default broker, or to `broker` (a Redis the test started)."""
    if broker is None:
        task.apply_async(args)
        return
    with celery_app.connection_for_write(broker) as connection:
        task.apply_async(args, connection=connection)


def readers(count: int, *, edition: dt.date, **fields: object) -> list[int]:
    """`count` confirmed readers of one topic, and a paper announced on `edition` that the
    topic matches, so each reader has a digest to get. Bulk-created: thousands in a second."""
    topic, _created = Topic.objects.get_or_create(
        slug="faults", defaults={"name": "Diffusion", "query": "diffusion"}
    )
    if not Paper.objects.filter(announced_on=edition).exists():
        PaperFactory(title=f"Diffusion for everyone, {edition}", announced_on=edition)
    start = Subscriber.objects.count()
    created = Subscriber.objects.bulk_create(
        Subscriber(
            email=f"reader{start + n}@example.com",
            status=Subscriber.Status.ACTIVE,
            confirmed_at=timezone.now(),
            **fields,
        )
        for n in range(count)
    )
    Subscriber.topics.through.objects.bulk_create(
        Subscriber.topics.through(subscriber_id=reader.pk, topic_id=topic.pk) for reader in created
    )
    return [reader.pk for reader in created]


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def count_digests(status: str = Digest.Status.SENT) -> int:
    return Digest.objects.filter(status=status).count()
