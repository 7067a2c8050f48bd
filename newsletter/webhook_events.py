"""Which provider webhook events were acted on: each event once, one soft bounce per message."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from newsletter.models import ProcessedWebhookEvent


def webhook_event_record(
    *, provider: str, event_id: str | None, event_type: str, message_id: str | None, soft: bool
) -> bool:
    """Note an event as processed; False if it (or, for a soft bounce, another soft bounce
    of the same message) was processed before and must not count again.

    Run it in the transaction that acts on the event: if acting fails, the note goes too,
    and the provider's retry is processed.
    """
    message_id = (message_id or "")[:255]
    key = event_id or (f"{event_type}:{message_id}" if message_id else "")
    if not key:
        return True  # nothing names the event: it cannot be told from a new one
    try:
        with transaction.atomic():
            ProcessedWebhookEvent.objects.create(
                provider=provider[:30],
                event_key=key[:255],
                message_id=message_id,
                soft_bounce=soft,
                received_at=timezone.now(),
            )
    except IntegrityError:
        return False
    return True
