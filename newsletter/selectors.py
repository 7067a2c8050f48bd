"""Reads of the newsletter app."""

from __future__ import annotations

from newsletter.models import Subscriber
from newsletter.signing import BadToken, Purpose, read_token


def subscriber_from_token(token: str, *, purpose: Purpose) -> Subscriber:
    """The subscriber a signed link names, or BadToken if it is forged, expired or stale."""
    claims = read_token(token, purpose=purpose)
    subscriber = Subscriber.objects.filter(pk=claims.subject_id).first()
    if subscriber is None or subscriber.email.lower() != claims.email:
        raise BadToken("no such subscriber")
    return subscriber
