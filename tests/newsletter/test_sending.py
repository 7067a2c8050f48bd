"""Sending exactly once: claims and leases, one connection per batch, what each SMTP answer
does (retry, bounce, suppress), the sweeper, and the MIME that goes on the wire."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import threading
import time
from email import message_from_bytes, policy

import psycopg
import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django.utils import timezone

from newsletter import tasks
from newsletter.digests.building import digests_build
from newsletter.digests.claims import claim_digests, stale_digest_ids
from newsletter.digests.delivery import (
    MAX_SEND_ATTEMPTS,
    RunReport,
    SendReport,
    digests_send,
    made_ahead,
    retry_countdown,
)
from newsletter.digests.runs import run_digests
from newsletter.mail.backend import BackendMailer
from newsletter.mail.dkim import _dkim_key
from newsletter.mail.message import DigestEmail
from newsletter.mail.mime import HeaderInjection, mime_bytes
from newsletter.mail.outcomes import Outcome, classify
from newsletter.mail.smtp import SmtpMailer, dot_stuffed
from newsletter.models import Digest, DigestItem, Subscriber
from newsletter.tasks import schedule_retries
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory
from tests.newsletter.sending_helpers import free_port, use_smtp, wait_for
from tests.product_settings import product_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(monkeypatch):
    """Retries the send path schedules, as (digest ids, countdown), instead of running them."""
    calls: list[tuple[list[int], int]] = []
    monkeypatch.setattr(
        tasks.send_digest_batch,
        "apply_async",
        lambda kwargs, countdown: calls.append((kwargs["digest_ids"], countdown)),
    )
    return calls


def ready_digests(*emails: str, **reader_fields) -> list[Digest]:
    paper = PaperFactory(title="Diffusion for everyone")
    topic = TopicFactory(query="diffusion")
    readers = [SubscriberFactory(email=email, topics=[topic], **reader_fields) for email in emails]
    built = digests_build(subscriber_ids=[r.pk for r in readers], edition_on=paper.announced_on)
    return list(Digest.objects.filter(pk__in=built.digest_ids).order_by("pk"))


def send(digests_to_send: list[Digest], token: str = "task-1") -> SendReport:
    report = digests_send(digest_ids=[d.pk for d in digests_to_send], token=token)
    schedule_retries(report)
    return report


def status_of(digest: Digest) -> str:
    digest.refresh_from_db()
    return digest.status


# --- Claims and leases ----------------------------------------------------------------------


def test_a_claimed_digest_cannot_be_claimed_by_another_worker():
    digest = ready_digests("a@example.com")[0]

    first = claim_digests(digest_ids=[digest.pk], token="worker-a")
    second = claim_digests(digest_ids=[digest.pk], token="worker-b")

    assert (first, second) == ([digest.pk], [])
    digest.refresh_from_db()
    assert (digest.status, digest.claimed_by, digest.attempts) == ("sending", "worker-a", 1)


def test_a_send_task_holds_the_digests_it_builds_from_the_start():
    paper = PaperFactory(title="Diffusion for everyone")
    reader = SubscriberFactory(topics=[TopicFactory(query="diffusion")])

    built = digests_build(
        subscriber_ids=[reader.pk], edition_on=paper.announced_on, claimed_by="task-1"
    )

    digest = Digest.objects.get(subscriber=reader)
    assert (built.claimed_ids, built.digest_ids) == ([digest.pk], [])
    assert (digest.status, digest.claimed_by, digest.attempts) == ("sending", "task-1", 1)
    assert digest.lease_expires_at > timezone.now()
    assert claim_digests(digest_ids=[digest.pk], token="task-2") == []

    report = digests_send(digest_ids=[], token="task-1", claimed_ids=built.claimed_ids)

    digest.refresh_from_db()
    assert report.sent == 1
    assert (digest.status, digest.attempts) == ("sent", 1)


def test_a_dead_workers_digest_is_free_again_when_its_lease_runs_out(settings):
    settings.DIGEST_LEASE_SECONDS = 600
    digest = ready_digests("a@example.com")[0]
    claim_digests(digest_ids=[digest.pk], token="worker-a")

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=601)):
        retaken = claim_digests(digest_ids=[digest.pk], token="worker-b")

    assert retaken == [digest.pk]


def test_a_batch_that_outlasts_its_lease_keeps_every_digest_until_it_is_sent(
    settings, scripted_outbox
):
    settings.DIGEST_LEASE_SECONDS = 2
    batch = ready_digests(*(f"r{n}@example.com" for n in range(4)))
    taken_by_another_worker: list[int] = []
    # As each message goes out, another worker (the sweeper's task) tries to take the batch.
    scripted_outbox.before_each = lambda: taken_by_another_worker.extend(
        claim_digests(digest_ids=[digest.pk for digest in batch], token="worker-b")
    )
    scripted_outbox.seconds_each = 0.8  # a slow mail server: the batch takes ~3.2 s

    started = time.monotonic()
    report = send(batch)

    assert time.monotonic() - started > settings.DIGEST_LEASE_SECONDS  # the first lease ran out
    assert taken_by_another_worker == []  # … but was renewed while the batch ran
    assert report.sent == 4
    assert [message.to for message in mail.outbox] == [[d.subscriber.email] for d in batch]


def test_a_redelivered_task_resumes_its_own_claim_at_once():
    digest = ready_digests("a@example.com")[0]
    claim_digests(digest_ids=[digest.pk], token="task-1")

    assert claim_digests(digest_ids=[digest.pk], token="task-1") == [digest.pk]


@pytest.mark.django_db(transaction=True)
def test_claiming_skips_rows_another_transaction_has_locked_instead_of_waiting():
    locked, free = ready_digests("a@example.com", "b@example.com")
    holding, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                Digest.objects.select_for_update().filter(pk=locked.pk).get()
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert holding.wait(10)
    try:
        claimed = claim_digests(digest_ids=[locked.pk, free.pk], token="worker-b")
    finally:
        release.set()
        thread.join(10)

    assert not thread.is_alive()
    assert claimed == [free.pk]
    assert status_of(locked) == Digest.Status.PENDING


def test_a_sent_digest_is_never_claimed_again():
    digest = ready_digests("a@example.com")[0]
    send([digest])

    assert claim_digests(digest_ids=[digest.pk], token="task-2") == []
    assert len(mail.outbox) == 1


# --- Sending through a Django backend (memory in tests, files or an ESP in production) ---------


def test_a_digest_is_sent_once_and_recorded_with_its_subject():
    digest = ready_digests("a@example.com")[0]

    report = send([digest])
    again = send([digest], token="task-2")

    digest.refresh_from_db()
    assert (report.sent, again.sent) == (1, 0)
    assert digest.status == Digest.Status.SENT
    assert digest.sent_at is not None and digest.lease_expires_at is None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["a@example.com"]
    assert message.subject == digest.subject
    assert message.extra_headers["Message-ID"] == digest.message_id
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_reader_who_left_before_sending_gets_nothing():
    digest = ready_digests("a@example.com")[0]
    Subscriber.objects.filter(pk=digest.subscriber_id).update(status=Subscriber.Status.UNSUBSCRIBED)

    report = send([digest])

    assert report.cancelled == 1
    assert status_of(digest) == Digest.Status.CANCELLED
    assert mail.outbox == []


def test_a_digest_whose_papers_were_all_hidden_since_is_skipped_not_sent():
    digest = ready_digests("a@example.com")[0]
    DigestItem.objects.get(digest=digest).paper.__class__.objects.update(is_hidden=True)

    report = send([digest])

    assert report.skipped == 1
    assert status_of(digest) == Digest.Status.SKIPPED_EMPTY
    assert mail.outbox == []


def test_each_digest_is_marked_sent_before_the_next_is_tried(monkeypatch):
    first, second = ready_digests("a@example.com", "b@example.com")
    original = BackendMailer.deliver
    calls = []

    def crash_on_second(self, email, data=None):
        calls.append(email.to)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return original(self, email, data)

    monkeypatch.setattr(BackendMailer, "deliver", crash_on_second)
    with pytest.raises(RuntimeError):
        send([first, second], token="task-1")
    assert (status_of(first), status_of(second)) == ("sent", "sending")

    monkeypatch.setattr(BackendMailer, "deliver", original)
    send([first, second], token="task-1")  # the redelivered task resumes its own claim

    assert (status_of(first), status_of(second)) == ("sent", "sent")
    assert [message.to for message in mail.outbox] == [["a@example.com"], ["b@example.com"]]


def cut_this_database_connection() -> int:
    """What a restarted or failed-over PostgreSQL does to this process: its connection is
    gone (terminated, and waited for until the server has dropped it). Returns its pid."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    params = connection.get_connection_params()
    with psycopg.connect(**{**params, "autocommit": True}) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        wait_for(
            lambda: (
                not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            ),
            timeout=10,
            what="PostgreSQL to drop the connection",
        )
    return pid


@pytest.mark.django_db(transaction=True)
def test_a_sent_mark_cut_off_by_a_lost_database_connection_is_retried_and_nothing_is_resent(
    scripted_outbox,
):
    first, second = ready_digests("a@example.com", "b@example.com")
    cuts: list[int] = []

    def cut_once_after_the_server_accepted() -> None:  # between the 250 and the sent mark
        if not cuts:
            cuts.append(cut_this_database_connection())

    scripted_outbox.after_each = cut_once_after_the_server_accepted

    report = send([first, second])
    again = send([first, second], token="task-2")

    assert cuts and report.sent == 2 and again.sent == 0
    assert (status_of(first), status_of(second)) == ("sent", "sent")
    assert [message.to for message in mail.outbox] == [["a@example.com"], ["b@example.com"]]


# --- Sending over SMTP ------------------------------------------------------------------------


def test_a_batch_goes_over_one_smtp_connection_with_tcp_nodelay(sink, monkeypatch):
    batch = ready_digests(*(f"r{n}@example.com" for n in range(5)))
    nodelay = []
    connect = SmtpMailer._connect

    def spy(self):
        connection = connect(self)
        nodelay.append(connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return connection

    monkeypatch.setattr(SmtpMailer, "_connect", spy)

    report = send(batch)

    assert report.sent == 5
    assert sink.sessions == 1
    assert nodelay == [1]
    assert sorted(sink.message_ids) == sorted(d.message_id for d in batch)
    assert set(Digest.objects.values_list("status", flat=True)) == {"sent"}


def test_a_temporary_failure_is_retried_later_with_back_off(
    sink, settings, scheduled, django_capture_on_commit_callbacks
):
    settings.DIGEST_RETRY_SECONDS = 60
    busy, fine = ready_digests("busy@example.com", "fine@example.com")
    sink.answers["busy@example.com"] = ["451 4.3.0 try again later"]

    with django_capture_on_commit_callbacks(execute=True):
        report = send([busy, fine])

    busy.refresh_from_db()
    assert (report.sent, report.retrying) == (1, 1)
    assert busy.status == Digest.Status.PENDING and busy.attempts == 1
    assert "451" in busy.last_error
    assert scheduled == [([busy.pk], 60)]
    assert claim_digests(digest_ids=[busy.pk], token="too-early") == []

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=60)):
        again = send([busy], token="retry-1")

    assert again.sent == 1
    assert status_of(busy) == Digest.Status.SENT
    assert sorted(sink.recipients) == ["busy@example.com", "fine@example.com"]


def test_back_off_doubles_and_never_exceeds_half_the_visibility_timeout(settings):
    settings.DIGEST_RETRY_SECONDS = 60
    settings.CELERY_VISIBILITY_TIMEOUT = 3600

    assert [retry_countdown(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [
        60, 120, 240, 480, 960, 1800, 1800,
    ]  # fmt: skip
    settings.CELERY_VISIBILITY_TIMEOUT = 300
    assert retry_countdown(7) == 150


def test_temporary_failures_give_up_after_the_last_attempt_as_a_soft_bounce(sink, scheduled):
    digest = ready_digests("full@example.com")[0]
    Digest.objects.filter(pk=digest.pk).update(attempts=MAX_SEND_ATTEMPTS - 1)
    sink.answers["full@example.com"] = ["452 4.2.2 mailbox full"]

    report = send([digest])

    digest.refresh_from_db()
    assert (report.failed, digest.status) == (1, Digest.Status.FAILED)
    assert digest.subscriber.soft_bounce_count == 1
    assert scheduled == []


def test_550_5_1_1_suppresses_the_address_at_once_and_the_batch_goes_on(sink, scheduled):
    gone, fine = ready_digests("gone@example.com", "fine@example.com")
    sink.rcpt_answers["gone@example.com"] = "550 5.1.1 <gone@example.com>: User unknown"

    report = send([gone, fine])

    gone.refresh_from_db()
    assert (report.sent, report.failed, report.suppressed) == (1, 1, 1)
    assert gone.status == Digest.Status.FAILED and "5.1.1" in gone.last_error
    assert gone.subscriber.status == Subscriber.Status.SUPPRESSED
    assert sink.recipients == ["fine@example.com"]
    assert scheduled == []


def test_soft_bounces_suppress_after_the_documented_threshold(sink, settings):
    # The product's default, whatever SOFT_BOUNCE_LIMIT this run's environment may set.
    settings.SOFT_BOUNCE_LIMIT = product_settings()["SOFT_BOUNCE_LIMIT"]
    digest = ready_digests("picky@example.com")[0]
    reader = digest.subscriber
    day = digest.edition_on

    for n in range(3):
        sink.answers["picky@example.com"] = ["554 5.7.1 message refused"]
        if n:
            PaperFactory(title="Diffusion again", announced_on=day + dt.timedelta(days=n))
            digests_build(subscriber_ids=[reader.pk], edition_on=day + dt.timedelta(days=n))
        reader.refresh_from_db()
        assert reader.status == Subscriber.Status.ACTIVE
        send(list(Digest.objects.filter(subscriber=reader, status="pending")), token=f"t{n}")

    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.SUPPRESSED
    assert reader.soft_bounce_count == 3
    assert "soft bounces" in reader.suppressed_reason


def test_a_delivered_digest_resets_the_soft_bounce_count(sink):
    digest = ready_digests("ok@example.com")[0]
    Subscriber.objects.filter(pk=digest.subscriber_id).update(soft_bounce_count=2)

    send([digest])

    digest.subscriber.refresh_from_db()
    assert digest.subscriber.soft_bounce_count == 0


def test_a_connection_dropped_mid_data_is_retried_and_the_rest_of_the_batch_goes_on(
    sink, scheduled
):
    dropped, after = ready_digests("dropped@example.com", "after@example.com")
    sink.answers["dropped@example.com"] = ["drop"]

    report = send([dropped, after])

    assert (report.sent, report.retrying) == (1, 1)
    assert status_of(dropped) == Digest.Status.PENDING
    assert sink.recipients == ["after@example.com"]
    assert sink.sessions == 2  # reconnected once after the drop


def test_an_unreachable_mail_server_hands_the_batch_back_without_counting_attempts(
    settings, scheduled, django_capture_on_commit_callbacks
):
    batch = ready_digests("a@example.com", "b@example.com")
    use_smtp(settings, free_port())  # nothing listens there

    with django_capture_on_commit_callbacks(execute=True):
        report = send(batch)

    assert report.retrying == 2
    for digest in batch:
        digest.refresh_from_db()
        assert (digest.status, digest.attempts) == (Digest.Status.PENDING, 0)
    assert scheduled == [([d.pk for d in batch], retry_countdown(1))]


# --- The sweeper --------------------------------------------------------------------------------


def test_the_sweeper_resends_what_a_killed_worker_held_and_nothing_else(
    settings, django_capture_on_commit_callbacks
):
    settings.DIGEST_LEASE_SECONDS = 60
    held, sent = ready_digests("held@example.com", "sent@example.com")
    claim_digests(digest_ids=[held.pk], token="killed-worker")
    send([sent])
    mail.outbox.clear()

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        fresh = ready_digests("new@example.com")[0]
        stale = stale_digest_ids()
        with django_capture_on_commit_callbacks(execute=True):
            swept = tasks.sweep_digests.delay().get()

    assert stale == [held.pk] and swept == 1
    assert status_of(held) == Digest.Status.SENT
    assert status_of(fresh) == Digest.Status.PENDING  # built a moment ago: its task is alive
    assert [message.to for message in mail.outbox] == [["held@example.com"]]


def test_the_sweeper_takes_built_digests_whose_task_never_ran(settings):
    settings.DIGEST_LEASE_SECONDS = 60
    orphan = ready_digests("orphan@example.com")[0]

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        assert stale_digest_ids() == [orphan.pk]


# --- Tasks --------------------------------------------------------------------------------------


def test_the_hourly_tick_sends_each_due_reader_one_digest(django_capture_on_commit_callbacks):
    paper = PaperFactory(title="Diffusion", announced_on=dt.date(2025, 3, 25))
    topic = TopicFactory(query="diffusion")
    due = SubscriberFactory(email="due@example.com", topics=[topic], send_hour_local=7)
    SubscriberFactory(email="later@example.com", topics=[topic], send_hour_local=9)

    with time_machine.travel(dt.datetime(2025, 3, 25, 7, 5, tzinfo=dt.UTC)):
        for _tick in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                tasks.send_due_digests.delay()

    assert [message.to for message in mail.outbox] == [["due@example.com"]]
    digest = Digest.objects.get()
    assert (digest.subscriber, digest.edition_on, digest.status) == (
        due,
        paper.announced_on,
        "sent",
    )


def test_a_days_run_by_task_sends_every_confirmed_reader_once(django_capture_on_commit_callbacks):
    ready = ready_digests("a@example.com")  # built; tasks below must not resend it
    PaperFactory(title="Diffusion today")
    SubscriberFactory(email="b@example.com", topics=[TopicFactory(query="diffusion")])

    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_digests_for_date.delay(ready[0].edition_on.isoformat())
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_digests_for_date.delay(ready[0].edition_on.isoformat())

    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]


# --- MIME --------------------------------------------------------------------------------------


def sample_email(**overrides) -> DigestEmail:
    fields = {
        "to": "reader@example.com",
        "subject": "8 new papers on Diffusion models and 2 more topics — Tue 25 Mar",
        "text": "Plain words: café & <tags>\nsecond line =3D not encoded\n" + "x" * 200,
        "html": "<html><head><title>t</title></head><body><p>Caf\u00e9 &amp; =</p></body></html>",
        "message_id": "<digest.20250325.7@papers.example.org>",
        "headers": {
            "List-Unsubscribe": "<https://papers.example.org/unsubscribe/t/>, "
            "<mailto:unsubscribe@papers.example.org?subject=unsubscribe>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "Paperboy <digest.papers.example.org>",
        },
        "cards_in_email": 1,
    }
    return DigestEmail(**{**fields, **overrides})


def test_hand_built_mime_is_a_well_formed_multipart_alternative():
    email = sample_email()

    raw = mime_bytes(email)

    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF everywhere
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed.defects == []
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == email.subject
    assert parsed["To"] == "reader@example.com"
    assert parsed["Message-ID"] == email.message_id
    assert len(parsed.get_all("Date")) == 1
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(parsed["List-Unsubscribe"]).split(", ") == [
        "<https://papers.example.org/unsubscribe/t/>",
        "<mailto:unsubscribe@papers.example.org?subject=unsubscribe>",
    ]
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text.get_content().replace("\r\n", "\n") == email.text
    assert html.get_content().strip() == email.html
    assert text["Content-Transfer-Encoding"] == "quoted-printable"
    assert all(len(line) <= 78 for line in raw.split(b"\r\n")[12:])


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b".a\r\nb\r\n.\r\n..c\r\nd.\r\n", b"..a\r\nb\r\n..\r\n...c\r\nd.\r\n"),
        (b"no dot starts a line.\r\n", b"no dot starts a line.\r\n"),
    ],
)
def test_every_line_starting_with_a_dot_gets_another_on_the_wire(data, wire):
    assert dot_stuffed(data) == wire


@pytest.mark.parametrize("field", ["to", "subject", "message_id"])
def test_a_line_break_in_any_header_value_is_refused(field):
    with pytest.raises(HeaderInjection):
        mime_bytes(sample_email(**{field: "x@example.com\r\nBcc: victim@example.com"}))


def test_dkim_signs_both_unsubscribe_headers_and_verifies(settings, tmp_path):
    import dkim

    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    settings.DKIM_PRIVATE_KEY_PATH = str(key)
    settings.DKIM_SELECTOR, settings.DKIM_DOMAIN = "paperboy", "papers.example.org"
    _dkim_key.cache_clear()

    raw = mime_bytes(sample_email())

    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    assert raw.startswith(b"DKIM-Signature:")
    signed = raw.split(b"\r\n\r\n", 1)[0].split(b" h=", 1)[1].split(b";", 1)[0]
    signed_headers = signed.replace(b"\r\n", b"").replace(b" ", b"").split(b":")
    assert {b"list-unsubscribe", b"list-unsubscribe-post", b"from", b"subject"} <= set(
        signed_headers
    )
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)


def test_classify_tells_bad_mailboxes_from_other_refusals():
    assert classify(550, b"5.1.1 <x@example.com>: User unknown").outcome is (Outcome.BAD_MAILBOX)
    assert classify(550, b"5.7.1 spam").outcome is Outcome.REJECTED
    assert classify(421, b"4.7.0 busy").outcome is Outcome.TEMPORARY
    assert classify(250, b"ok").outcome is Outcome.ACCEPTED


# --- Two runs at once -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_the_same_day_at_once_send_each_digest_once(settings):
    settings.DIGEST_BATCH_SIZE = 5  # eight batches each, so the two runs take turns
    PaperFactory(title="Diffusion", announced_on=dt.date(2025, 3, 25))
    topic = TopicFactory(query="diffusion")
    ids = [SubscriberFactory(topics=[topic]).pk for _ in range(40)]
    start = threading.Barrier(2)
    reports: list[RunReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(5)
            reports.append(run_digests(edition_on=dt.date(2025, 3, 25)))
        except BaseException as error:  # noqa: BLE001 - asserted below, not lost in a thread
            errors.append(error)
        finally:
            connections.close_all()

    runners = [threading.Thread(target=run) for _ in range(2)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(60)
    rerun = run_digests(edition_on=dt.date(2025, 3, 25))  # and once more, afterwards

    assert [runner.is_alive() for runner in runners] == [False, False]
    assert errors == [] and len(reports) == 2
    assert sum(report.send.sent for report in reports) == 40
    assert (rerun.built, rerun.send.sent) == (0, 0)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        Subscriber.objects.filter(pk__in=ids).values_list("email", flat=True)
    )
    assert Digest.objects.filter(status=Digest.Status.SENT).count() == 40


# --- Rendering ahead of the connection -----------------------------------------------------


def test_emails_made_ahead_arrive_in_order_and_a_rendering_error_reaches_the_sender():
    def emails():
        yield from ("first", "second")
        raise ValueError("template broke")

    received = []
    with pytest.raises(ValueError, match="template broke"):
        for email in made_ahead(emails(), depth=1):
            received.append(email)

    assert received == ["first", "second"]


def test_a_sender_that_stops_early_stops_the_renderer_too():
    rendered = []

    def emails():
        for n in range(1000):
            rendered.append(n)
            yield n

    for email in made_ahead(emails(), depth=2):
        if email == 3:
            break

    assert len(rendered) < 10
    assert not [thread for thread in threading.enumerate() if thread.name == "made-ahead"]
