"""Celery tasks of the newsletter app: thin wrappers that load rows by id and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from newsletter import emails, services
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
