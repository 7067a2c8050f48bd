"""Template tags for feed links: a reader's private feed address, signed."""

from __future__ import annotations

from django import template

from newsletter.feeds import subscriber_feed_url
from newsletter.models import Subscriber

register = template.Library()


@register.simple_tag
def private_feed_url(subscriber: Subscriber) -> str:
    return subscriber_feed_url(subscriber)
