"""A sent digest on the web: "view in browser" and the "and K more" page, behind signed links."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from newsletter.digests.cards import why_text
from newsletter.followups import digest_followup_cards
from newsletter.models import Digest, DigestItem
from newsletter.ratings import RatingLinks, rating_links
from newsletter.recommend.neighbours import similar_papers
from newsletter.signing import BadToken, Purpose, row_from_token
from newsletter.tldrs import tldr
from newsletter.views import bad_link
from papers.models import Paper
from papers.selectors import CARD_FIELDS, papers_in_order
from papers.summaries import summaries_by_paper


@dataclass(frozen=True)
class DigestEntry:
    paper: Paper
    why: str
    feedback: RatingLinks | None = None
    tldr: str = ""
    similar: tuple[Paper, ...] = ()


def digest_from_token(token: str) -> Digest:
    """The digest a VIEW_DIGEST link names; BadToken if forged, expired, or its reader left."""
    return row_from_token(
        token,
        purpose=Purpose.VIEW_DIGEST,
        rows=Digest.objects.select_related("subscriber"),
        email_of=lambda digest: digest.subscriber.email,
    )


def digest_entries(digest: Digest, *, in_email: bool) -> list[DigestEntry]:
    """The visible papers of the email (or of its "more" page) in rank order, with why each
    is there and its TL;DR in the reader's language: two queries."""
    if not in_email:
        why = dict(zip(digest.more_paper_ids, digest.more_reasons, strict=False))
        found = [
            (paper, why.get(paper.pk, [])) for paper in papers_in_order(ids=digest.more_paper_ids)
        ]
    else:
        items = (
            DigestItem.objects.filter(digest=digest, paper__is_hidden=False)
            .select_related("paper")
            .only("rank", "reasons", *(f"paper__{name}" for name in CARD_FIELDS))
            .order_by("rank")
        )
        found = [(item.paper, item.reasons) for item in items]
    made = summaries_by_paper(paper_ids=[paper.pk for paper, _reasons in found])
    language = digest.subscriber.language
    return [
        DigestEntry(
            paper,
            why_text(reasons),
            tldr=tldr(
                ai_summary=paper.ai_summary, summaries=made.get(paper.pk, ()), language=language
            ),
        )
        for paper, reasons in found
    ]


def with_similar(entries: list[DigestEntry]) -> list[DigestEntry]:
    """Each entry with its "more like this" papers (newsletter.recommend.neighbours)."""
    similar = similar_papers(papers=[entry.paper for entry in entries])
    return [replace(entry, similar=tuple(similar.get(entry.paper.pk, ()))) for entry in entries]


def _page(request: HttpRequest, token: str, *, in_email: bool, template: str) -> HttpResponse:
    try:
        digest = digest_from_token(token)
    except BadToken:
        return bad_link(request)
    subscriber = digest.subscriber
    entries = [
        replace(
            entry,
            feedback=rating_links(
                subscriber_id=subscriber.pk,
                email=subscriber.email,
                paper_id=entry.paper.pk,
                absolute=False,
            ),
        )
        for entry in digest_entries(digest, in_email=in_email)
    ]
    entries = with_similar(entries)
    followups = digest_followup_cards(digest_ids=[digest.pk]).get(digest.pk, []) if in_email else []
    response = render(
        request,
        template,
        {"digest": digest, "entries": entries, "followups": followups, "token": token},
    )
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_safe
def view_digest(request: HttpRequest, token: str) -> HttpResponse:
    """The email's papers and updates, as the reader got them."""
    return _page(request, token, in_email=True, template="pages/digest.html")


@never_cache
@require_safe
def digest_more(request: HttpRequest, token: str) -> HttpResponse:
    """The matching papers that did not fit in the email."""
    return _page(request, token, in_email=False, template="pages/digest_more.html")
