"""Reads of the newsletter app: subscribers behind signed links, and what a choice of filters
matches (the live preview and the digest share one definition)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core import signing
from django.db.models import Count, Max, Q
from django.utils import timezone

from newsletter.matching import IndexedPaper, PaperIndex, QuerySyntaxError, parse_query
from newsletter.models import Subscriber, Topic
from newsletter.signing import BadToken, Purpose, read_token
from papers.models import Paper
from papers.selectors import RECENT_ORDER, papers_by_ids, visible_papers

RECENT_DAYS = 7
PREVIEW_EXAMPLES = 5
# How far back the preview looks for the newest announcement day (fetches may pause).
PREVIEW_LOOKBACK_DAYS = 30


def subscriber_from_token(token: str, *, purpose: Purpose) -> Subscriber:
    """The subscriber a signed link names, or BadToken if it is forged, expired or stale."""
    claims = read_token(token, purpose=purpose)
    subscriber = Subscriber.objects.filter(pk=claims.subject_id).first()
    if subscriber is None or subscriber.email.lower() != claims.email:
        raise BadToken("no such subscriber")
    return subscriber


def filter_paper_ids(*, query: str, categories: Sequence[str], index: PaperIndex) -> frozenset[int]:
    """The papers one (query, categories) filter matches: a topic's, or a reader's own.

    Query and categories together: papers satisfying the query AND in one of the categories;
    only categories: every paper in them; only a query: every paper satisfying it.
    """
    found: frozenset[int] | None = None
    if query.strip():
        try:
            found = index.search(parse_query(query))
        except QuerySyntaxError:
            found = frozenset()  # forms and admin refuse such queries; an old row matches nothing
    if categories:
        in_categories = index.in_categories(categories)
        found = in_categories if found is None else found & in_categories
    return found or frozenset()


def topic_paper_ids(*, topics: Iterable[Topic], index: PaperIndex) -> dict[int, frozenset[int]]:
    """Per topic id, the indexed papers it matches (see filter_paper_ids)."""
    return {
        topic.pk: filter_paper_ids(query=topic.query, categories=topic.categories, index=index)
        for topic in topics
    }


def topic_recent_paper_ids(*, topic: Topic) -> list[int]:
    """A topic's matches in the recent papers, newest day first, featured and trending first."""
    recent = recent_papers()
    matched = topic_paper_ids(topics=[topic], index=recent.index)[topic.pk]
    return [paper_id for paper_id in recent.ids_in_display_order if paper_id in matched]


def confirmation_from_token(token: str) -> tuple[Subscriber, dt.datetime]:
    """The subscriber a confirmation link names and when the link was made (BadToken if bad).

    The time makes a link single-use across an unsubscribe: a link made before the reader
    left cannot bring them back.
    """
    subscriber = subscriber_from_token(token, purpose=Purpose.CONFIRM)
    try:
        issued = signing.b62_decode(token.rsplit(":", 2)[1])
    except (IndexError, ValueError) as error:
        raise BadToken("no timestamp") from error
    return subscriber, dt.datetime.fromtimestamp(issued, tz=dt.UTC)


def subscription_paper_ids(
    *,
    topics: Iterable[Topic],
    query: str,
    categories: Sequence[str],
    authors: Sequence[str],
    index: PaperIndex,
) -> frozenset[int]:
    """The indexed papers a reader's choice matches: the one definition of "what I asked for".

    Any followed topic (see topic_paper_ids), or the reader's own filter — their query AND
    their categories when both are given, either alone otherwise — or any listed author.
    """
    found: set[int] = set()
    for topic_ids in topic_paper_ids(topics=topics, index=index).values():
        found |= topic_ids
    found |= filter_paper_ids(query=query, categories=categories, index=index)
    if authors:
        found |= index.by_authors(authors)
    return frozenset(found)


@dataclass(frozen=True)
class RecentPapers:
    """The visible papers of the last RECENT_DAYS announcement window, indexed once."""

    index: PaperIndex
    days: tuple[dt.date, ...]
    cross_list_ids: frozenset[int]
    ids_in_display_order: tuple[int, ...]


_EMPTY = RecentPapers(PaperIndex(), (), frozenset(), ())
_recent_lock = threading.Lock()
_recent_cache: dict[tuple[object, ...], RecentPapers] = {}


def recent_papers() -> RecentPapers:
    """The recent papers, rebuilt only when a paper in the window changed (kept per process).

    One cheap aggregate decides: the newest visible announcement day, and the newest update,
    id and count of every paper since the lookback (hiding a paper bumps its updated_at).
    """
    today = timezone.localdate()
    state = Paper.objects.filter(
        announced_on__gte=today - dt.timedelta(days=PREVIEW_LOOKBACK_DAYS),
        announced_on__lte=today,
    ).aggregate(
        newest_day=Max("announced_on", filter=Q(is_hidden=False)),
        newest_update=Max("updated_at"),
        # Ids are never reused, so a frozen clock (or equal timestamps) cannot alias two states.
        newest_id=Max("id"),
        count=Count("id"),
    )
    newest_day = state["newest_day"]
    if newest_day is None:
        return _EMPTY
    key = (newest_day, state["newest_update"], state["newest_id"], state["count"])
    with _recent_lock:
        cached = _recent_cache.get(key)
        if cached is None:
            cached = _build_recent_papers(until=newest_day)
            _recent_cache.clear()
            _recent_cache[key] = cached
    return cached


def forget_recent_papers() -> None:
    with _recent_lock:
        _recent_cache.clear()


def _build_recent_papers(*, until: dt.date) -> RecentPapers:
    since = until - dt.timedelta(days=RECENT_DAYS - 1)
    rows = (
        visible_papers()
        .filter(announced_on__gte=since, announced_on__lte=until)
        .order_by(*RECENT_ORDER)
        .values_list(
            "id", "title", "abstract", "categories", "authors", "announced_on", "announce_type"
        )
    )
    index = PaperIndex()
    days: set[dt.date] = set()
    cross_lists: set[int] = set()
    order: list[int] = []
    for paper_id, title, abstract, categories, authors, day, announce_type in rows.iterator(
        chunk_size=2000
    ):
        index.add(
            IndexedPaper(
                id=paper_id,
                title=title,
                abstract=abstract,
                categories=categories or (),
                authors=authors or (),
            )
        )
        days.add(day)
        order.append(paper_id)
        if announce_type in (Paper.AnnounceType.CROSS, Paper.AnnounceType.REPLACE_CROSS):
            cross_lists.add(paper_id)
    return RecentPapers(
        index=index,
        days=tuple(sorted(days)),
        cross_list_ids=frozenset(cross_lists),
        ids_in_display_order=tuple(order),
    )


@dataclass(frozen=True)
class Preview:
    """What a choice of filters would have sent over the recent announcement days."""

    matched: int
    day_count: int
    examples: Sequence[Paper]

    @property
    def per_day(self) -> float:
        return self.matched / self.day_count if self.day_count else 0.0

    @property
    def per_day_rounded(self) -> int:
        return round(self.per_day)


def subscription_preview(
    *,
    topics: Iterable[Topic],
    query: str,
    categories: Sequence[str],
    authors: Sequence[str],
    include_cross_lists: bool = True,
    examples: int = PREVIEW_EXAMPLES,
) -> Preview:
    """About how many papers a day a choice matches, and a few real examples (best first)."""
    recent = recent_papers()
    matched = subscription_paper_ids(
        topics=topics, query=query, categories=categories, authors=authors, index=recent.index
    )
    if not include_cross_lists:
        matched -= recent.cross_list_ids
    example_ids = [paper_id for paper_id in recent.ids_in_display_order if paper_id in matched]
    return Preview(
        matched=len(matched),
        day_count=len(recent.days),
        examples=list(papers_by_ids(ids=example_ids[:examples])) if example_ids else [],
    )


def topic_papers_per_day(*, topics: Iterable[Topic]) -> dict[int, float]:
    """Per topic id, about how many recent papers a day it matches (shown beside each box)."""
    recent = recent_papers()
    if not recent.days:
        return {}
    return {
        topic_id: len(ids) / len(recent.days)
        for topic_id, ids in topic_paper_ids(topics=topics, index=recent.index).items()
    }
