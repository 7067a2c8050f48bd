"""Writes of the newsletter app: subscription lifecycle and digests."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from newsletter.models import Subscriber


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: Subscriber) -> bool:
    """Stop all mail to this subscriber. Returns False when they had already left."""
    changed = (
        Subscriber.objects.filter(pk=subscriber.pk)
        .exclude(status=Subscriber.Status.UNSUBSCRIBED)
        .update(status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    )
    return bool(changed)
