"""Matching, ranking and reasons for one reader: the plan of one digest."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from django.conf import settings

from newsletter.digests.editions import coverage
from newsletter.followups import PlannedFollowUp
from newsletter.matching import Query
from newsletter.models import Subscriber, Topic
from newsletter.paper_index import PaperWindow, RankingColumns
from newsletter.recommend import recommendations
from newsletter.recommend.scoring import ReaderScores

# Papers past the email's top N that the "K more" page lists; beyond that only counted.
MORE_PAGE_LIMIT = 50


@dataclass
class ReaderMatches:
    """A reader's matches as sets, cheap to combine; reasons are spelled out only for the
    papers that make it into the digest."""

    filters: list[tuple[Query | None, frozenset[int], dict[str, object]]]
    authors: list[tuple[str, frozenset[int]]]
    agreeing: Counter[int]  # how many of the reader's filters (not authors) match each paper
    text_hits: set[int]  # matched by a query, in the title or the abstract
    strong_hits: set[int]  # matched strongly by a query (title, opening words, repeated)
    author_hits: set[int]

    @property
    def paper_ids(self) -> set[int]:
        return set(self.agreeing) | self.author_hits

    def reasons(
        self, paper_id: int, window: PaperWindow, *, with_words: bool = True
    ) -> list[dict[str, object]]:
        """Why a paper is there: the topics and filters that matched it, and (for the cards
        in the email) the words that matched; the "more" page names only the topics."""
        found: list[dict[str, object]] = []
        for query, ids, reason in self.filters:
            if paper_id in ids:
                if query is None or not with_words:
                    found.append(reason)
                else:
                    words, strength = window.matched_words(query, paper_id)
                    found.append({**reason, "words": list(words), "strength": strength})
        found += [
            {"kind": "author", "label": name} for name, ids in self.authors if paper_id in ids
        ]
        return found

    def labels(self, paper_ids: Sequence[int]) -> dict[int, list[dict[str, object]]]:
        """reasons(with_words=False) of many papers at once (the "more" page's ~50 a reader):
        one set intersection per filter and author instead of a Python loop per paper."""
        found: dict[int, list[dict[str, object]]] = {pid: [] for pid in paper_ids}
        wanted = set(found)
        for _query, ids, reason in self.filters:
            for pid in ids & wanted:
                found[pid].append(reason)
        for name, ids in self.authors:
            reason = {"kind": "author", "label": name}
            for pid in ids & wanted:
                found[pid].append(reason)
        return found


class PlannedItem(NamedTuple):
    """A paper's place in a planned digest (a tuple: a run makes ~60 a reader)."""

    paper_id: int
    rank: int
    in_email: bool
    reasons: list[dict[str, object]]


@dataclass
class DigestPlan:
    """One reader's digest for one edition, before it is saved (or written as a dry run)."""

    subscriber: Subscriber
    edition_on: dt.date
    covers_from: dt.date
    covers_to: dt.date
    items: list[PlannedItem]
    matched_count: int
    # News of papers the reader got before (newsletter.followups), at the end of the email.
    followups: list[PlannedFollowUp] = field(default_factory=list)

    @property
    def paper_count(self) -> int:
        return sum(1 for item in self.items if item.in_email)

    @property
    def more_count(self) -> int:
        return len(self.items) - self.paper_count

    @property
    def is_empty(self) -> bool:
        return not self.items and not self.followups


def reader_score(
    *, strong_hit: bool, text_hit: bool, author_hit: bool, agreeing_filters: int
) -> float:
    """The reader's part: how the words hit (a strong match over a passing mention), a
    followed author, and how many of the reader's filters agree."""
    return (
        (3.0 if strong_hit else 1.0 if text_hit else 0.0)
        + (3.0 if author_hit else 0.0)
        + 1.0 * (agreeing_filters - 1)
    )


def reader_score_columns(
    *,
    strong_hit: np.ndarray,
    text_hit: np.ndarray,
    author_hit: np.ndarray,
    agreeing_filters: np.ndarray,
) -> np.ndarray:
    """reader_score of many papers at once (its arguments as arrays): the same values."""
    return (
        np.where(strong_hit, 3.0, np.where(text_hit, 1.0, 0.0))
        + np.where(author_hit, 3.0, 0.0)
        + 1.0 * (agreeing_filters - 1)
    )


def rule_order(
    matches: ReaderMatches, columns: RankingColumns
) -> tuple[np.ndarray, recommendations.RuleOrder]:
    """Every candidate of a reader (as ids) and its key in the digest's order, as arrays: not
    featured, minus (the paper's score + reader_score), the tie-break. Ranking all of a
    reader's candidates costs a few array operations, not a Python call per candidate."""
    authors_only = matches.author_hits - matches.agreeing.keys()
    ids = np.fromiter(
        itertools.chain(matches.agreeing, authors_only),
        dtype=np.int64,
        count=len(matches.agreeing) + len(authors_only),
    )
    agreeing_filters = np.zeros(ids.size, dtype=np.int64)
    agreeing_filters[: len(matches.agreeing)] = np.fromiter(
        matches.agreeing.values(), dtype=np.int64, count=len(matches.agreeing)
    )
    at = np.searchsorted(columns.paper_ids, ids)
    mine = reader_score_columns(
        strong_hit=_among(matches.strong_hits, columns, at),
        text_hit=_among(matches.text_hits, columns, at),
        author_hit=_among(matches.author_hits, columns, at),
        agreeing_filters=agreeing_filters,
    )
    return ids, recommendations.RuleOrder(
        columns.not_featured[at], -(columns.score[at] + mine), columns.tie_break[at]
    )


def _among(found: Collection[int], columns: RankingColumns, at: np.ndarray) -> np.ndarray:
    """Whether each paper (`at`: its place in `columns`) is in `found`, a set of the window's
    papers: a table over the window, cheaper than np.isin's sort for a few hundred."""
    table = np.zeros(columns.paper_ids.size, dtype=bool)
    table[np.searchsorted(columns.paper_ids, np.fromiter(found, np.int64, len(found)))] = True
    return table[at]


def match_reader(
    *,
    window: PaperWindow,
    topics: Sequence[Topic],
    own_query: str,
    categories: Sequence[str],
    authors: Sequence[str],
    eligible: frozenset[int],
    language: str = "en",
) -> ReaderMatches:
    """Every eligible paper a reader's choice matches, with what matched it.

    Any followed topic, OR the reader's own filter (query AND categories when both are
    given), OR any followed author: the definition the sign-up preview shows. Set operations
    only: a reader costs a few intersections, whatever the number of matching papers.
    """
    filters: list[tuple[Query | None, frozenset[int], dict[str, object]]] = []
    for topic in topics:
        query, ids = window.filter_matches(
            query=topic.query,
            categories=topic.categories,
            strong_only=topic.require_strong_match,
        )
        label = topic.name_in(language)
        filters.append((query, eligible.intersection(ids), {"kind": "topic", "label": label}))
    if own_query.strip() or categories:
        query, ids = window.filter_matches(query=own_query, categories=categories)
        kind = "query" if own_query.strip() else "category"
        label = "" if own_query.strip() else ", ".join(categories)
        filters.append((query, eligible.intersection(ids), {"kind": kind, "label": label}))
    author_matches = [(name, window.author_matches(name) & eligible) for name in authors]
    agreeing: Counter[int] = Counter()
    text_hits: set[int] = set()
    strong_hits: set[int] = set()
    for query, ids, _reason in filters:
        agreeing.update(ids)
        if query is not None:
            text_hits |= ids
            strong_hits |= ids.intersection(window.strong_hits(query))
    return ReaderMatches(
        filters=filters,
        authors=author_matches,
        agreeing=agreeing,
        text_hits=text_hits,
        strong_hits=strong_hits,
        author_hits=set().union(*(ids for _name, ids in author_matches)),
    )


def plan_digest(
    *,
    subscriber: Subscriber,
    topics: Sequence[Topic],
    edition_on: dt.date,
    window: PaperWindow,
    previous_covers_to: dt.date | None,
    latest_day: dt.date | None,
    already_sent: frozenset[int] | set[int] = frozenset(),
    personal: ReaderScores | None = None,
) -> DigestPlan:
    """One reader's ranked papers for one edition: top max_papers in the email, the next
    MORE_PAGE_LIMIT on the "more" page, minus anything an earlier digest already sent; with
    a trained model (`personal`), re-ranked by it and with a few recommendations."""
    covers_from, covers_to = coverage(
        edition_on=edition_on,
        frequency=subscriber.frequency,
        previous_covers_to=previous_covers_to,
        latest_day=latest_day,
    )
    if covers_from > covers_to:
        return DigestPlan(subscriber, edition_on, covers_from, covers_to, [], 0)
    eligible = window.eligible(
        since=covers_from,
        until=covers_to,
        cross_lists=subscriber.include_cross_lists,
        revisions=subscriber.include_revisions,
    )
    window_eligible = eligible
    if already_sent:
        eligible = eligible - frozenset(already_sent)
    matches = match_reader(
        window=window,
        topics=topics,
        own_query=subscriber.own_query,
        categories=subscriber.categories or (),
        authors=subscriber.authors or (),
        eligible=eligible,
        language=subscriber.language,
    )
    per_week = subscriber.frequency == Subscriber.Frequency.WEEKLY
    candidates = matches.paper_ids
    limit = subscriber.max_papers + MORE_PAGE_LIMIT
    ids, rule = rule_order(matches, window.ranking_columns(edition_on, per_week=per_week))
    if personal is None:
        kept = rule.best(ids, limit)  # every candidate, as arrays (~130 us a reader)
    else:  # personalisation (newsletter/recommend): the reader's model re-ranks
        kept = recommendations.reranked(personal, candidates=ids, order=rule, limit=limit)
    in_email = subscriber.max_papers
    more_labels = matches.labels(kept[in_email:])
    items = [
        PlannedItem(
            paper_id=pid,
            rank=position,
            in_email=position <= in_email,
            reasons=matches.reasons(pid, window) if position <= in_email else more_labels[pid],
        )
        for position, pid in enumerate(kept, start=1)
    ]
    if personal is not None and subscriber.recommendations_enabled:
        items = with_recommendations(
            items,
            recommendations.recommended(
                personal,
                eligible=window_eligible,
                excluded=itertools.chain(candidates, already_sent),
                count=settings.RECOMMEND_MAX_RECOMMENDED,
            ),
        )
    return DigestPlan(subscriber, edition_on, covers_from, covers_to, items, len(candidates))


def with_recommendations(
    items: list[PlannedItem], recommended: Sequence[tuple[int, str]]
) -> list[PlannedItem]:
    """The email's matched papers, then the recommended ones (labelled, with the liked paper
    each is like), then the "more" page's."""
    if not recommended:
        return items
    in_email = [item for item in items if item.in_email]
    more = [item for item in items if not item.in_email]
    extra = [
        PlannedItem(pid, 0, True, [{"kind": recommendations.RECOMMENDED, "label": like}])
        for pid, like in recommended
    ]
    # The constructor, not _replace: ~60 items a reader, and _replace costs ~4 us each.
    return [
        PlannedItem(item.paper_id, position, item.in_email, item.reasons)
        for position, item in enumerate([*in_email, *extra, *more], start=1)
    ]
