"""`{{ day|local_date:"long" }}`: papers.dates in templates, in the page's language."""

from __future__ import annotations

import datetime as dt

from django import template

from papers.dates import local_date as formatted

register = template.Library()


@register.filter
def local_date(day: dt.date | None, style: str) -> str:
    return formatted(day, style) if day else ""
