"""The task a reader's new vote or import enqueues (services call it; keeping it out of
tasks.py keeps services and tasks from importing each other). Its Celery name stays
"newsletter.tasks.schedule_reader_retrain", the name newsletter.recommend fills in."""

from __future__ import annotations

import logging

from celery import shared_task

from newsletter.models import Subscriber

logger = logging.getLogger(__name__)


@shared_task(name="newsletter.tasks.schedule_reader_retrain")
def schedule_reader_retrain(subscriber_id: int) -> bool:
    """Called on commit after a reader's ratings or imported papers change. Twice is safe:
    it only marks the reader for the next batched retrain (newsletter.recommend fills this
    in; until then it records nothing)."""
    logger.debug("reader %s rated or imported papers: due for a retrain", subscriber_id)
    return Subscriber.objects.filter(pk=subscriber_id).exists()
