"""The template side of papers.normalise.http_link: every paper link made an href passes it."""

from __future__ import annotations

from django import template

from papers.normalise import http_link as checked_http_link

register = template.Library()


@register.filter
def http_link(url: object) -> str:
    """`{{ paper.code_url|http_link }}`: the link if it is http(s), else "" (nothing shown)."""
    return checked_http_link(url)
