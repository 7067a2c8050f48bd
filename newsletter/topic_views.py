"""Public topic pages: the list of topics, and each topic's recent papers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from newsletter.models import Topic
from newsletter.paper_index import RECENT_DAYS
from newsletter.selectors import topic_recent_paper_ids
from papers.public_cache import cached_public_page
from papers.selectors import papers_in_order
from papers.views import paper_page


@require_safe
@cached_public_page(paged=False)
def topic_list(request: HttpRequest) -> HttpResponse:
    topics = Topic.objects.filter(is_active=True).only("name", "slug", "description")
    return render(request, "pages/topics.html", {"topics": topics})


@require_safe
@cached_public_page
def topic_papers(request: HttpRequest, slug: str) -> HttpResponse:
    topic = get_object_or_404(Topic, slug=slug, is_active=True)
    # Paged over the index's own display order: only the shown page's papers are read.
    ordered = topic_recent_paper_ids(topic=topic)
    page = paper_page(request, ordered)
    context = {
        "topic": topic,
        "page": page,
        "papers": papers_in_order(ids=page.object_list),
        "days": RECENT_DAYS,
        "match_count": len(ordered),
    }
    return render(request, "pages/topic.html", context)
