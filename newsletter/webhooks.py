"""Bounces and complaints reported by an email provider through django-anymail's tracking
webhooks: they feed the same suppression as the SMTP answers. Calls without the shared secret
(ANYMAIL_WEBHOOK_SECRET, HTTP basic auth) are refused with 403, and so is every call while
no secret is configured."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from anymail import urls as anymail_urls
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from anymail.utils import get_request_basic_auth
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import URLPattern
from django.utils.crypto import constant_time_compare

from newsletter.mail.outcomes import is_bad_mailbox
from newsletter.selectors import subscribers_with_address
from newsletter.services import subscriber_record_bounce
from newsletter.webhook_events import webhook_event_record

logger = logging.getLogger(__name__)


def is_permanent(event: AnymailTrackingEvent) -> bool | None:
    """True: suppress now (complaint, address does not exist); False: a soft bounce, counted;
    None: not a failure (deliveries, opens, deferrals)."""
    if event.event_type in (EventType.COMPLAINED, EventType.UNSUBSCRIBED):
        return True
    if event.event_type not in (EventType.BOUNCED, EventType.REJECTED):
        return None
    if event.reject_reason == RejectReason.INVALID:
        return True
    return is_bad_mailbox(f"{event.mta_response or ''} {event.description or ''}")


def bounce_received(sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    permanent = is_permanent(event)
    if permanent is None or not event.recipient:
        return
    subscriber = subscribers_with_address(event.recipient).only("pk").first()
    if subscriber is None:
        return
    with transaction.atomic():
        if webhook_event_record(
            provider=esp_name,
            event_id=event.event_id,
            event_type=str(event.event_type),
            message_id=event.message_id,
            soft=not permanent,
        ):
            _act_on_bounce(event, esp_name, subscriber_id=subscriber.pk, permanent=permanent)
        else:
            logger.info("%s event %s seen before: ignored", esp_name, event.event_id)


def _act_on_bounce(
    event: AnymailTrackingEvent, esp_name: str, *, subscriber_id: int, permanent: bool
) -> None:
    reason = " ".join(
        str(part)
        for part in (esp_name, event.event_type, event.reject_reason, event.mta_response)
        if part
    )
    suppressed = subscriber_record_bounce(
        subscriber_id=subscriber_id, permanent=permanent, reason=reason
    )
    logger.info(
        "%s for subscriber %s (suppressed: %s)", event.event_type, subscriber_id, suppressed
    )


tracking.connect(bounce_received, dispatch_uid="paperboy-bounces")


def _secret_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)  # keeps csrf_exempt: providers cannot send a CSRF token
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        secret = settings.ANYMAIL.get("WEBHOOK_SECRET") or ""
        given = get_request_basic_auth(request) or ""
        if not secret or not constant_time_compare(given, secret):
            return HttpResponseForbidden("webhook secret missing or wrong")
        return view(request, *args, **kwargs)

    return guarded


# Only the tracking (bounce/complaint) webhooks: Paperboy receives no inbound mail.
urlpatterns = [
    URLPattern(
        pattern.pattern, _secret_required(pattern.callback), pattern.default_args, pattern.name
    )
    for pattern in anymail_urls.urlpatterns
    if isinstance(pattern, URLPattern) and "tracking" in (pattern.name or "")
]
