"""Celery tasks of the newsletter app: thin wrappers that load rows by id and call one service,
and the helpers that enqueue them (the fan-out, the sweeper, the retries)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone

from newsletter import (
    address_requests,  # noqa: F401 - registers the sign-up tasks with workers
    edition_runs,
    services,
    tldrs,
)
from newsletter.digests.building import BuildResult
from newsletter.digests.claims import stale_digest_ids
from newsletter.digests.delivery import RunReport, SendReport, build_and_send, digests_send
from newsletter.digests.editions import active_subscriber_ids, chunked, due_subscriber_ids

# Re-exported: services enqueue the retrain, so it lives beside them (as sign-up emails do).
from newsletter.rating_tasks import (  # noqa: F401
    DB_RETRY,
    retrain_reader_models,
    schedule_reader_retrain,
    train_reader_models,
)
from newsletter.recommend import neighbours
from newsletter.recommend import training as recommend_training

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, **DB_RETRY)
def compute_similar_papers() -> None:
    """After a fetch that added papers, and on the beat: store every recent paper's "more
    like this" list. Twice is safe: the lists are recomputed from the catalogue and upserted."""
    report = neighbours.similar_papers_compute()
    logger.info(
        "similar papers: %s papers in %.1f s (%.0f papers/s)",
        report.papers,
        report.seconds,
        report.papers_per_second,
    )


@shared_task
def purge_unconfirmed_subscribers() -> int:
    """Twice is safe: the second run finds nothing left to delete."""
    deleted = services.subscribers_purge_unconfirmed()
    logger.info("purged %d unconfirmed sign-ups", deleted)
    return deleted


@shared_task
def purge_old_digest_items() -> int:
    """Retention (newsletter.digests.retention): twice is safe, the second run finds nothing."""
    from newsletter.digests.retention import digest_items_purge

    deleted = digest_items_purge(today=timezone.localdate())
    logger.info("purged %d digest items past retention", deleted)
    return deleted


@shared_task
def count_dashboard_days() -> int:
    """The dashboard's days that are over, counted again (newsletter.day_counts): twice is safe."""
    from newsletter.day_counts import day_counts_refresh

    return day_counts_refresh(today=timezone.localdate())


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
    recommend_training.background_pools_forget()  # training's, not needed by the run
    built, sent = build_and_send(
        subscriber_ids=subscriber_ids,
        token=self.request.id or "",
        run_at=dt.datetime.fromisoformat(run_at) if run_at else None,
        edition_on=dt.date.fromisoformat(edition_on) if edition_on else None,
    )
    schedule_retries(sent)
    enqueue_summaries(built)  # TL;DR hook: after the send, never before it
    report = RunReport()
    report.add(built, sent)
    return report.summary()


@shared_task(bind=True, **DIGEST_DB_RETRY)
def send_digest_batch(self, digest_ids: list[int]) -> str:
    """Twice is safe: a sent digest is not claimable again, a held one is skipped."""
    sent = digests_send(digest_ids=digest_ids, token=self.request.id or "")
    schedule_retries(sent)
    report = RunReport()
    report.add(send=sent)
    return report.summary()


# The fan-out and the sweeper too: a cut connection must not lose a whole run.
@shared_task(**DIGEST_DB_RETRY)
def send_due_digests() -> int:
    """The hourly tick. Twice is safe: due readers are those without this edition yet."""
    enqueue_stale_digests()
    now = timezone.now()
    return enqueue_digest_batches(due_subscriber_ids(now=now), run_at=now)


@shared_task(**DIGEST_DB_RETRY)
def send_digests_for_date(edition_on: str) -> int:
    """Every confirmed reader's digest for one day. Twice is safe, as above (a retry after
    part of the run was fanned out enqueues those readers again, and they are skipped)."""
    day = dt.date.fromisoformat(edition_on)
    edition_runs.edition_run_requested(edition_on=day)  # the sweeper finishes what dies
    return enqueue_digest_batches(active_subscriber_ids(edition_on=day), edition_on=day)


@shared_task(**DIGEST_DB_RETRY)
def sweep_digests() -> int:
    """Twice is safe: re-enqueued digests that someone holds are not claimable, and a
    reader's edition is built once."""
    swept = enqueue_stale_digests()
    for edition_on, reader_ids in edition_runs.unfinished_edition_runs():
        enqueue_digest_batches(reader_ids, edition_on=edition_on)
        swept += len(reader_ids)
    return swept


# --- Enqueueing digest work, after commit -----------------------------------------------------


def schedule_retries(report: SendReport) -> None:
    """Enqueue, after commit, one task per back-off delay for the digests that got a 4xx."""
    for countdown, ids in report.retry_groups.items():
        for chunk in chunked(ids, settings.DIGEST_BATCH_SIZE):
            transaction.on_commit(
                functools.partial(
                    send_digest_batch.apply_async,
                    kwargs={"digest_ids": chunk},
                    countdown=countdown,
                )
            )


def enqueue_digest_batches(
    subscriber_ids: Iterable[int],
    *,
    run_at: dt.datetime | None = None,
    edition_on: dt.date | None = None,
) -> int:
    """Fan a run out to the workers: one task per DIGEST_BATCH_SIZE readers, after commit."""
    count = 0
    for chunk in chunked(subscriber_ids, settings.DIGEST_BATCH_SIZE):
        transaction.on_commit(
            functools.partial(
                build_and_send_digests.delay,
                subscriber_ids=chunk,
                run_at=run_at.isoformat() if run_at else None,
                edition_on=edition_on.isoformat() if edition_on else None,
            )
        )
        count += 1
    return count


def enqueue_summaries(built: BuildResult) -> bool:
    """Ask, after commit, for the summaries the papers of a batch just sent lack. Only with a
    worker: run eagerly (the demo) it would hold up the next batch's send."""
    digest_ids = [*built.claimed_ids, *built.digest_ids]
    if not (digest_ids and settings.SUMMARY_API_URL) or settings.CELERY_TASK_ALWAYS_EAGER:
        return False
    transaction.on_commit(functools.partial(make_digest_summaries.delay, digest_ids=digest_ids))
    return True


def enqueue_stale_digests(*, now: dt.datetime | None = None) -> int:
    """The sweeper: hand digests whose task was lost to new tasks. Twice is harmless, since
    a digest someone holds is not claimable."""
    ids = stale_digest_ids(now=now)
    for chunk in chunked(ids, settings.DIGEST_BATCH_SIZE):
        transaction.on_commit(functools.partial(send_digest_batch.delay, digest_ids=chunk))
    if ids:
        logger.info("sweeper re-enqueued %d digests", len(ids))
    return len(ids)


# On its own queue (CELERY_TASK_ROUTES), served by its own worker: calls that take seconds
# never hold up a send.
@shared_task(**DIGEST_DB_RETRY)
def make_digest_summaries(digest_ids: list[int]) -> str:
    """Twice is safe: a paper and language with a summary, or tried today, is skipped."""
    return tldrs.digest_summaries_make(digest_ids=digest_ids)
