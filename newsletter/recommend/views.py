"""The public "more like this" page of a paper."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from newsletter.recommend.neighbours import more_like_this
from papers.public_cache import cached_public_page
from papers.selectors import CARD_FIELDS, visible_papers


@require_safe
@cached_public_page(paged=False)
def paper_like_this(request: HttpRequest, paper_id: int) -> HttpResponse:
    paper = get_object_or_404(visible_papers().only(*CARD_FIELDS), pk=paper_id)
    return render(
        request,
        "papers/more_like_this.html",
        {"paper": paper, "similar": more_like_this(paper=paper)},
    )
