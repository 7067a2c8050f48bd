"""Public paper pages: one announcement day's papers, and each topic's recent papers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from papers.public_cache import cached_public_page, page_number
from papers.selectors import (
    latest_announcement_day,
    neighbour_announcement_days,
    papers_of_day,
)

PAGE_SIZE = 25


@require_safe
@cached_public_page
def latest_day(request: HttpRequest) -> HttpResponse:
    """Today's papers, or the latest announcement day's when nothing was announced today."""
    day = latest_announcement_day(on_or_before=timezone.localdate())
    if day is None:
        return render(request, "papers/day.html", {"day": None, "page": None})
    return _day_page(request, day=day, is_latest=True)


@require_safe
@cached_public_page
def day_papers(request: HttpRequest, day: dt.date) -> HttpResponse:
    if day > timezone.localdate():
        raise Http404("That day has not come yet.")
    return _day_page(request, day=day, is_latest=False)


def _day_page(request: HttpRequest, *, day: dt.date, is_latest: bool) -> HttpResponse:
    page = paper_page(request, papers_of_day(day=day))
    earlier, later = neighbour_announcement_days(day=day)
    context = {"day": day, "page": page, "earlier": earlier, "later": later, "is_latest": is_latest}
    # A day without papers (a weekend, or all hidden) is not a page search engines should keep.
    return render(request, "papers/day.html", context, status=200 if page.object_list else 404)


def paper_page(request: HttpRequest, items: Sequence[object] | QuerySet) -> Page:
    """The page asked for; 404 past the last one (never the last page again under a new URL)."""
    try:
        return Paginator(items, PAGE_SIZE).page(page_number(request))
    except InvalidPage as error:
        raise Http404("No such page.") from error
