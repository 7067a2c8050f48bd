"""The task a reader's new vote or import enqueues (services call it; keeping it out of
tasks.py keeps services and tasks from importing each other). Its Celery name stays
"newsletter.tasks.schedule_reader_retrain"; the batched retrain it schedules lives here too."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db.utils import InterfaceError, OperationalError

from newsletter.digests.editions import chunked
from newsletter.recommend import training as recommend_training

logger = logging.getLogger(__name__)


RETRAIN_SCHEDULED_KEY = "recommend:retrain-scheduled"


@shared_task(name="newsletter.tasks.schedule_reader_retrain")
def schedule_reader_retrain(subscriber_id: int) -> bool:
    """Called on commit after a reader's ratings or imported papers change: mark the reader's
    model stale and make sure one batched retrain runs soon (debounced: every reader asking
    meanwhile shares that run). Twice is safe: the mark is a timestamp and the run is
    scheduled once per delay."""
    if not recommend_training.reader_retrain_request(subscriber_id=subscriber_id):
        return False
    delay = settings.RECOMMEND_RETRAIN_DELAY_SECONDS
    if cache.add(RETRAIN_SCHEDULED_KEY, subscriber_id, timeout=max(1, delay)):
        retrain_reader_models.apply_async(countdown=delay, expires=delay + 3600)
    return True


# Like the digest tasks': a lost database connection is retried soon.
DB_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 30,
}
RETRAIN_CHUNK = 200


@shared_task(name="newsletter.tasks.retrain_reader_models", **DB_RETRY)
def retrain_reader_models() -> int:
    """Fan the stale readers out in chunks to the workers; returns how many. Twice is safe:
    a chunk trained already is no longer stale, and training a reader again gives the same
    model."""
    cache.delete(RETRAIN_SCHEDULED_KEY)  # votes from now on schedule the next run
    stale = recommend_training.stale_reader_ids()
    for ids in chunked(stale, RETRAIN_CHUNK):
        train_reader_models.delay(ids)
    return len(stale)


@shared_task(name="newsletter.tasks.train_reader_models", **DB_RETRY)
def train_reader_models(subscriber_ids: list[int]) -> int:
    """Twice is safe: the same examples train the same model (fixed seeds), stored in place."""
    trained = recommend_training.reader_models_train(subscriber_ids=subscriber_ids)
    logger.info("trained %d reader models", trained)
    return trained
