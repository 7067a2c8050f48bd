"""The tasks that send a sign-up's transactional emails (services enqueue them; keeping them
out of tasks.py keeps services and tasks from importing each other). Their Celery names stay
"newsletter.tasks.*", so tasks already queued under those names still run."""

from __future__ import annotations

from celery import shared_task

from newsletter import emails
from newsletter.models import Subscriber

MAIL_RETRY = {"autoretry_for": (OSError,), "retry_backoff": 30, "max_retries": 5}


@shared_task(name="newsletter.tasks.send_confirmation_email", **MAIL_RETRY)
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


@shared_task(name="newsletter.tasks.send_manage_link_email", **MAIL_RETRY)
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
