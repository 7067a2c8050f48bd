"""The task a reader's new vote or import enqueues (services call it; keeping it out of
tasks.py keeps services and tasks from importing each other). Its Celery name stays
"newsletter.tasks.schedule_reader_retrain", the name newsletter.recommend fills in."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from newsletter.recommend import training as recommend_training

logger = logging.getLogger(__name__)


RETRAIN_SCHEDULED_KEY = "recommend:retrain-scheduled"


@shared_task(name="newsletter.tasks.schedule_reader_retrain")
def schedule_reader_retrain(subscriber_id: int) -> bool:
    """Called on commit after a reader's ratings or imported papers change: mark the reader's
    model stale and make sure one batched retrain runs soon (debounced: every reader asking
    meanwhile shares that run). Twice is safe: the mark is a timestamp and the run is
    scheduled once per delay."""
    from newsletter.tasks import retrain_reader_models  # tasks.py imports this module

    if not recommend_training.reader_retrain_request(subscriber_id=subscriber_id):
        return False
    delay = settings.RECOMMEND_RETRAIN_DELAY_SECONDS
    if cache.add(RETRAIN_SCHEDULED_KEY, subscriber_id, timeout=max(1, delay)):
        retrain_reader_models.apply_async(countdown=delay, expires=delay + 3600)
    return True
