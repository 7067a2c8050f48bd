"""Template tags for feed links: a reader's private feed address, signed."""

from __future__ import annotations

from django import template

from newsletter.models import Subscriber
from papers.feeds import subscriber_feed_url

register = template.Library()


@register.simple_tag
def private_feed_url(subscriber: Subscriber) -> str:
    return subscriber_feed_url(subscriber)
