"""`{{ digest|digest_days:"long" }}`: the day a digest is of, or the week of a weekly one."""

from __future__ import annotations

from django import template

from newsletter.models import Digest, Subscriber
from papers.dates import local_date, week_span

register = template.Library()


@register.filter
def digest_days(digest: Digest, style: str) -> str:
    if digest.subscriber.frequency == Subscriber.Frequency.WEEKLY:
        return week_span(digest.covers_from, digest.covers_to)
    return local_date(digest.edition_on, style)
