"""Reads of the papers app: the visible papers the public pages, feeds and editors see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Max, Min, Q, QuerySet

from papers.models import Paper, UpvoteCount

# Featured papers first, then trending (Hugging Face upvotes), then a stable order.
DAY_ORDER = ("-is_featured", "-hf_upvotes", "arxiv_id")
RECENT_ORDER = ("-announced_on", *DAY_ORDER)

# What a public card shows; the rest (sources, keywords, timestamps) stays in the database.
CARD_FIELDS = (
    "id",
    "arxiv_id",
    "latest_version",
    "title",
    "abstract",
    "authors",
    "primary_category",
    "categories",
    "published_at",
    "announced_on",
    "announce_type",
    "comment",
    "journal_ref",
    "doi",
    "code_url",
    "project_url",
    "hf_upvotes",
    "ai_summary",
    "is_featured",
    "editor_note",
)


def visible_papers() -> QuerySet[Paper]:
    """Every paper the public may see: an editor's hide removes a paper from all of them."""
    return Paper.objects.filter(is_hidden=False)


def latest_announcement_day(*, on_or_before: dt.date) -> dt.date | None:
    return (
        visible_papers()
        .filter(announced_on__lte=on_or_before)
        .aggregate(day=Max("announced_on"))["day"]
    )


def neighbour_announcement_days(*, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The announcement days just before and just after `day` that have visible papers."""
    earlier = visible_papers().filter(announced_on__lt=day).aggregate(day=Max("announced_on"))
    later = visible_papers().filter(announced_on__gt=day).aggregate(day=Min("announced_on"))
    return earlier["day"], later["day"]


def papers_of_day(*, day: dt.date) -> QuerySet[Paper]:
    return visible_papers().filter(announced_on=day).only(*CARD_FIELDS).order_by(*DAY_ORDER)


def papers_by_ids(*, ids: Iterable[int]) -> QuerySet[Paper]:
    """Visible papers among `ids`, newest day first, featured and trending first within a day."""
    return visible_papers().filter(pk__in=list(ids)).only(*CARD_FIELDS).order_by(*RECENT_ORDER)


def papers_in_order(*, ids: Sequence[int]) -> list[Paper]:
    """The visible papers among `ids`, in the order given: one query for a page of cards."""
    by_id = {paper.pk: paper for paper in visible_papers().filter(pk__in=ids).only(*CARD_FIELDS)}
    return [by_id[paper_id] for paper_id in ids if paper_id in by_id]


@dataclass(frozen=True)
class PaperNews:
    """When a visible paper's code link appeared, its upvotes moved and its abstract changed
    (None: not since tracking began), with what it shows now."""

    paper_id: int
    code_link_seen_at: dt.datetime | None
    hf_upvotes_changed_at: dt.datetime | None
    abstract_changed_at: dt.datetime | None
    code_url: str
    hf_upvotes: int
    latest_version: int


def papers_with_news_query(*, since: dt.datetime, min_upvotes: int = 0) -> QuerySet[Paper]:
    """Visible papers with a code link, an abstract or upvotes (at least `min_upvotes`) new
    since `since`, served by the three change indexes; also a subquery (`.values("id")`),
    which spares sending thousands of ids back to the database."""
    return (
        visible_papers()
        .filter(
            Q(code_link_seen_at__gt=since)
            | Q(hf_upvotes_changed_at__gt=since, hf_upvotes__gte=min_upvotes)
            | Q(abstract_changed_at__gt=since)
        )
        .order_by()
    )


def papers_with_news(*, since: dt.datetime, min_upvotes: int = 0) -> dict[int, PaperNews]:
    """The papers of papers_with_news_query and their news, in one query."""
    rows = papers_with_news_query(since=since, min_upvotes=min_upvotes).values_list(
        "id",
        "code_link_seen_at",
        "hf_upvotes_changed_at",
        "abstract_changed_at",
        "code_url",
        "hf_upvotes",
        "latest_version",
    )
    return {row[0]: PaperNews(*row) for row in rows}


def upvote_counts(
    *, paper_ids: Iterable[int] | QuerySet[Paper]
) -> dict[int, list[tuple[dt.date, int]]]:
    """Per paper, its daily upvote counts, oldest first."""
    counts: dict[int, list[tuple[dt.date, int]]] = {}
    if not isinstance(paper_ids, QuerySet):
        paper_ids = list(paper_ids)
    for paper_id, day, upvotes in (
        UpvoteCount.objects.filter(paper_id__in=paper_ids)
        .order_by("paper_id", "counted_on")
        .values_list("paper_id", "counted_on", "upvotes")
    ):
        counts.setdefault(paper_id, []).append((day, upvotes))
    return counts
