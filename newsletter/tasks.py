"""Celery tasks of the newsletter app: thin wrappers that load rows by id and call one service."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone

from newsletter import digests, emails, sending, services
from newsletter.models import Subscriber

logger = logging.getLogger(__name__)

MAIL_RETRY = {"autoretry_for": (OSError,), "retry_backoff": 30, "max_retries": 5}


@shared_task(**MAIL_RETRY)
def send_confirmation_email(subscriber_id: int) -> bool:
    """Twice is safe: a second copy holds an equally valid link, and a confirmed or deleted
    subscriber gets nothing."""
    subscriber = Subscriber.objects.filter(
        pk=subscriber_id,
        status__in=[Subscriber.Status.PENDING, Subscriber.Status.UNSUBSCRIBED],
    ).first()
    if subscriber is None:
        return False
    emails.send_confirmation(subscriber)
    return True


@shared_task(**MAIL_RETRY)
def send_manage_link_email(subscriber_id: int) -> bool:
    """Twice is safe: a second copy of a settings link changes nothing."""
    subscriber = Subscriber.objects.filter(
        pk=subscriber_id,
        status__in=[
            Subscriber.Status.ACTIVE,
            Subscriber.Status.PAUSED,
            Subscriber.Status.UNSUBSCRIBED,
        ],
    ).first()
    if subscriber is None:
        return False
    emails.send_manage_link(subscriber)
    return True


@shared_task
def purge_unconfirmed_subscribers() -> int:
    """Twice is safe: the second run finds nothing left to delete."""
    deleted = services.subscribers_purge_unconfirmed()
    logger.info("purged %d unconfirmed sign-ups", deleted)
    return deleted


# --- Digests ---------------------------------------------------------------------------------
# A lost database connection (a restarted server) is retried soon; countdowns stay far below
# CELERY_VISIBILITY_TIMEOUT, past which Redis would deliver the task a second time.
DIGEST_DB_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 30,
}


@shared_task(bind=True, **DIGEST_DB_RETRY)
def build_and_send_digests(
    self, subscriber_ids: list[int], run_at: str | None = None, edition_on: str | None = None
) -> str:
    """Twice is safe: a reader's edition is built once (row lock + unique constraint) and
    only digests nobody holds are sent; a redelivered copy resumes its own claim."""
    built, sent = sending.build_and_send(
        subscriber_ids=subscriber_ids,
        token=self.request.id or "",
        run_at=dt.datetime.fromisoformat(run_at) if run_at else None,
        edition_on=dt.date.fromisoformat(edition_on) if edition_on else None,
    )
    report = sending.RunReport()
    report.add(built, sent)
    return report.summary()


@shared_task(bind=True, **DIGEST_DB_RETRY)
def send_digest_batch(self, digest_ids: list[int]) -> str:
    """Twice is safe: a sent digest is not claimable again, a held one is skipped."""
    sent = sending.digests_send(digest_ids=digest_ids, token=self.request.id or "")
    sending.schedule_retries(sent)
    report = sending.RunReport()
    report.add(send=sent)
    return report.summary()


# The fan-out and the sweeper too: a cut connection must not lose a whole run.
@shared_task(**DIGEST_DB_RETRY)
def send_due_digests() -> int:
    """The hourly tick. Twice is safe: due readers are those without this edition yet."""
    sending.enqueue_stale_digests()
    now = timezone.now()
    return sending.enqueue_digest_batches(digests.due_subscriber_ids(now=now), run_at=now)


@shared_task(**DIGEST_DB_RETRY)
def send_digests_for_date(edition_on: str) -> int:
    """Every confirmed reader's digest for one day. Twice is safe, as above (a retry after
    part of the run was fanned out enqueues those readers again, and they are skipped)."""
    return sending.enqueue_digest_batches(
        digests.active_subscriber_ids(), edition_on=dt.date.fromisoformat(edition_on)
    )


@shared_task(**DIGEST_DB_RETRY)
def sweep_digests() -> int:
    """Twice is safe: re-enqueued digests that someone holds are not claimable."""
    return sending.enqueue_stale_digests()
