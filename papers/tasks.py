"""Celery tasks that fetch papers: thin; papers.services decides what is due and does it."""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from celery import current_app, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from papers import services
from papers.models import FetchRun

logger = logging.getLogger(__name__)


def enqueue_after_papers_added(runs: list[FetchRun | None]) -> bool:
    """The post-fetch hook: when a successful run stored new papers, enqueue the tasks named
    in PAPERS_ADDED_TASKS (by Celery name: papers/ imports nothing from newsletter/)."""
    added = any(
        run is not None and run.status in FetchRun.SUCCESSFUL_STATUSES and run.created_count
        for run in runs
    )
    if added:
        for name in settings.PAPERS_ADDED_TASKS:
            transaction.on_commit(current_app.tasks[name].delay)
    return added


@shared_task(ignore_result=True)
def fetch_arxiv_listings() -> None:
    """Hourly beat tick: fetch arXiv's listing once it is due in New York time, retry the
    API lookups its index was not ready for. Safe twice: a stored listing is skipped."""
    for due in services.arxiv_listings_due(now=timezone.now()):
        if due.lookup_only:
            task = partial(lookup_listing_metadata.delay, day=due.day.isoformat())
        else:
            task = partial(
                fetch_source.delay, source_id=due.source_id, on=due.day.isoformat(), scheduled=True
            )
        transaction.on_commit(task)


@shared_task(ignore_result=True)
def fetch_hf_daily_papers() -> None:
    """Beat tick: refresh the Hugging Face lists that are due (today's and yesterday's, and
    the last two weeks' once a day), one task per source. Safe twice: the upsert leaves
    unchanged papers alone."""
    days: dict[int, list[str]] = {}
    for due in services.hf_lists_due(now=timezone.now()):
        days.setdefault(due.source_id, []).append(due.day.isoformat())
    for source_id, listed in days.items():
        transaction.on_commit(partial(fetch_hf_lists.delay, source_id=source_id, days=listed))


@shared_task(ignore_result=True)
def fetch_hf_lists(source_id: int, days: list[str]) -> None:
    """Read one source's Hugging Face lists of `days`. Safe twice: the upsert leaves
    unchanged papers alone, and a concurrent Hugging Face fetch is refused."""
    try:
        runs = services.hf_lists_fetch(
            source_id=source_id, days=[dt.date.fromisoformat(day) for day in days]
        )
    except services.SourceBusy as busy:
        logger.info("Hugging Face lists of source %s not fetched: %s", source_id, busy)
        return
    enqueue_after_papers_added(runs)


@shared_task(ignore_result=True)
def fetch_source(source_id: int, on: str | None = None, scheduled: bool = False) -> None:
    """Fetch one source for one day. Safe twice: ingestion is an idempotent upsert, a
    scheduled listing already stored is skipped, and a concurrent fetch is refused."""
    try:
        runs = services.source_fetch(
            source_id=source_id,
            on=dt.date.fromisoformat(on) if on else None,
            scheduled=scheduled,
        )
    except services.SourceBusy as busy:
        logger.info("source %s not fetched: %s", source_id, busy)
        return
    enqueue_after_papers_added(runs)


@shared_task(ignore_result=True)
def lookup_listing_metadata(day: str) -> None:
    """API lookups for the papers of one listing day still without metadata. Safe twice:
    a paper the API has described is not looked up again."""
    try:
        services.metadata_lookup(day=dt.date.fromisoformat(day))
    except services.SourceBusy as busy:
        logger.info("lookups for %s not run: %s", day, busy)
