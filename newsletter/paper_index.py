"""The one per-process index of recent papers, rebuilt only when the papers change: the
sign-up preview, the feeds and topic pages (recent_papers) and digest runs (paper_window)
read the same kind of index from one cache under one lock."""

from __future__ import annotations

import datetime as dt
import functools
import gc
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from newsletter.matching import (
    IndexedPaper,
    PaperIndex,
    ParsedQueries,
    Query,
    filter_paper_ids,
)
from newsletter.models import Topic
from papers.models import Paper
from papers.selectors import RECENT_ORDER, visible_papers

NEW_KINDS = frozenset({Paper.AnnounceType.NEW})


CROSS_KINDS = frozenset({Paper.AnnounceType.CROSS})


REVISION_KINDS = frozenset({Paper.AnnounceType.REPLACE})


REVISED_CROSS_KINDS = frozenset({Paper.AnnounceType.REPLACE_CROSS})


def paper_score(
    *, upvotes: int, announced_on: dt.date, edition_on: dt.date, per_week: bool = False
) -> float:
    """The reader-independent part of a paper's score: Hugging Face upvotes (log: trending,
    not only famous) and recency, counted in whole weeks for a weekly digest so every day of
    its week competes alike (by days, the newest day filled the email)."""
    age_days = max(0, (edition_on - announced_on).days)
    age = age_days // 7 if per_week else age_days
    return 0.25 * math.log2(1 + upvotes) - 0.5 * age


@dataclass(frozen=True)
class PaperFacts:
    announced_on: dt.date
    announce_type: str
    is_featured: bool
    hf_upvotes: int
    categories: tuple[str, ...]


class RankingColumns(NamedTuple):
    """ranking_keys as arrays over the window's papers in ascending id order: a reader's
    candidates are looked up all at once."""

    paper_ids: np.ndarray
    not_featured: np.ndarray
    score: np.ndarray
    tie_break: np.ndarray


# A filter's papers as a run keeps them: a day's run holds one per distinct filter (~9,000 at
# 100,000 readers), and a tuple of ids takes a quarter of a frozenset's memory.
PaperIds = tuple[int, ...]
# (query, paper) pairs whose matched words a window remembers: ~50 bytes each.
MATCHED_WORDS_KEPT = 100_000


@dataclass
class PaperWindow:
    """The visible papers announced in [since, until], their index, and every distinct filter
    evaluated so far (filters are keyed by meaning, so a run evaluates each once)."""

    since: dt.date
    until: dt.date
    index: PaperIndex
    facts: dict[int, PaperFacts]
    _filters: dict[tuple[str, tuple[str, ...], bool], tuple[Query | None, PaperIds]] = field(
        default_factory=dict
    )
    _queries: ParsedQueries = field(default_factory=ParsedQueries)
    _authors: dict[str, frozenset[int]] = field(default_factory=dict)
    _strong_hits: dict[str, PaperIds] = field(default_factory=dict)
    _ranking_keys: dict[tuple[dt.date, bool], dict[int, tuple[bool, float, int]]] = field(
        default_factory=dict
    )
    _ranking_columns: dict[tuple[dt.date, bool], RankingColumns] = field(default_factory=dict)
    _words: dict[tuple[str, int], tuple[tuple[str, ...], str]] = field(default_factory=dict)
    _windows: dict[tuple[dt.date, dt.date, bool, bool], frozenset[int]] = field(
        default_factory=dict
    )
    filter_evaluations: int = 0

    @functools.cached_property
    def days(self) -> tuple[dt.date, ...]:
        """The announcement days that have papers, oldest first."""
        return tuple(sorted({facts.announced_on for facts in self.facts.values()}))

    @functools.cached_property
    def cross_list_ids(self) -> frozenset[int]:
        return frozenset(
            pid
            for pid, facts in self.facts.items()
            if facts.announce_type in CROSS_KINDS | REVISED_CROSS_KINDS
        )

    @property
    def ids_in_display_order(self) -> tuple[int, ...]:
        """Newest day first, then featured, trending and a stable order (as loaded)."""
        return tuple(self.facts)

    @classmethod
    def load(cls, *, since: dt.date, until: dt.date) -> PaperWindow:
        rows = (
            visible_papers()
            .filter(announced_on__gte=since, announced_on__lte=until)
            .order_by(*RECENT_ORDER)  # the display order of the preview, feeds and topic pages
            .values_list(
                "id",
                "title",
                "abstract",
                "categories",
                "authors",
                "announced_on",
                "announce_type",
                "is_featured",
                "hf_upvotes",
            )
        )
        index = PaperIndex()
        facts: dict[int, PaperFacts] = {}
        for pid, title, abstract, cats, authors, day, kind, featured, upvotes in rows.iterator(
            chunk_size=2000
        ):
            index.add(
                IndexedPaper(
                    id=pid,
                    title=title,
                    abstract=abstract,
                    categories=cats or (),
                    authors=authors or (),
                )
            )
            facts[pid] = PaperFacts(day, kind, featured, upvotes, tuple(cats or ()))
        return cls(since=since, until=until, index=index, facts=facts)

    def parsed(self, text: str) -> Query | None:
        return self._queries(text)

    def filter_matches(
        self, *, query: str, categories: Sequence[str], strong_only: bool = False
    ) -> tuple[Query | None, PaperIds]:
        """Papers a (query, categories) filter matches, evaluated once per distinct filter.

        The very definition the sign-up preview uses (matching.filter_paper_ids): the query
        AND one of the categories when both are given, either alone otherwise; only strong
        matches for a topic that demands them. The ids come as a tuple (see PaperIds): combine
        them with a set's methods (`eligible.intersection(ids)`).
        """
        parsed = self.parsed(query)
        cats = tuple(sorted({category.casefold() for category in categories}))
        strong_only = strong_only and parsed is not None
        key = (parsed.canonical if parsed else ("!" if query.strip() else ""), cats, strong_only)
        cached = self._filters.get(key)
        if cached is None:
            self.filter_evaluations += 1
            found = filter_paper_ids(
                query=parsed or query, categories=cats, index=self.index, strong_only=strong_only
            )
            cached = self._filters[key] = (parsed, tuple(found))
        return cached

    def author_matches(self, name: str) -> frozenset[int]:
        key = name.strip().casefold()
        if key not in self._authors:
            self._authors[key] = self.index.by_authors([name]) if key else frozenset()
        return self._authors[key]

    def strong_hits(self, query: Query) -> PaperIds:
        """The query's strong matches (title, opening words, repeated): they rank higher."""
        hits = self._strong_hits.get(query.canonical)
        if hits is None:
            hits = self._strong_hits[query.canonical] = tuple(self.index.matches(query).strong)
        return hits

    def ranking_keys(
        self, edition_on: dt.date, *, per_week: bool = False
    ) -> dict[int, tuple[bool, float, int]]:
        """Per paper, once per edition: (not featured, its own score, a tie-break position by
        upvotes, then recency, then id), so ranking a reader adds only their part."""
        keys = self._ranking_keys.get((edition_on, per_week))
        if keys is None:
            order = sorted(
                self.facts,
                key=lambda pid: (
                    -self.facts[pid].hf_upvotes,
                    -self.facts[pid].announced_on.toordinal(),
                    pid,
                ),
            )
            keys = self._ranking_keys[(edition_on, per_week)] = {
                pid: (
                    not self.facts[pid].is_featured,
                    paper_score(
                        upvotes=self.facts[pid].hf_upvotes,
                        announced_on=self.facts[pid].announced_on,
                        edition_on=edition_on,
                        per_week=per_week,
                    ),
                    position,
                )
                for position, pid in enumerate(order)
            }
        return keys

    def ranking_columns(self, edition_on: dt.date, *, per_week: bool = False) -> RankingColumns:
        columns = self._ranking_columns.get((edition_on, per_week))
        if columns is None:
            keys = self.ranking_keys(edition_on, per_week=per_week)
            ids = sorted(keys)
            columns = self._ranking_columns[(edition_on, per_week)] = RankingColumns(
                paper_ids=np.asarray(ids, dtype=np.int64),
                not_featured=np.asarray([keys[pid][0] for pid in ids], dtype=bool),
                score=np.asarray([keys[pid][1] for pid in ids], dtype=np.float64),
                tie_break=np.asarray([keys[pid][2] for pid in ids], dtype=np.int64),
            )
        return columns

    def matched_words(self, query: Query, paper_id: int) -> tuple[tuple[str, ...], str]:
        """The words that matched (see PaperMatch.found_words) and how strongly."""
        key = (query.canonical, paper_id)
        found = self._words.get(key)
        if found is None:
            if len(self._words) >= MATCHED_WORDS_KEPT:
                self._words.clear()
            match = self.index.explain(query, paper_id)
            found = self._words[key] = (
                ((), "") if match is None
                else (tuple(match.found_words()), match.strength.name.lower())
            )  # fmt: skip
        return found

    def eligible(
        self, *, since: dt.date, until: dt.date, cross_lists: bool, revisions: bool
    ) -> frozenset[int]:
        """Papers announced in [since, until] of the kinds a reader takes."""
        key = (since, until, cross_lists, revisions)
        cached = self._windows.get(key)
        if cached is None:
            kinds = set(NEW_KINDS)
            if cross_lists:
                kinds |= CROSS_KINDS
            if revisions:
                kinds |= REVISION_KINDS
            if revisions and cross_lists:
                kinds |= REVISED_CROSS_KINDS
            cached = frozenset(
                pid
                for pid, facts in self.facts.items()
                if since <= facts.announced_on <= until and facts.announce_type in kinds
            )
            self._windows[key] = cached
        return cached


RECENT_DAYS = 7
# How far back the preview looks for the newest announcement day (fetches may pause).
PREVIEW_LOOKBACK_DAYS = 30
# Two editions may run side by side across midnight, beside the recent papers' index.
INDEXES_KEPT = 3

_lock = threading.Lock()
_window_cache: OrderedDict[tuple[object, ...], PaperWindow] = OrderedDict()


def _cached_window(key: tuple[object, ...], *, since: dt.date, until: dt.date) -> PaperWindow:
    with _lock:
        window = _window_cache.get(key)
        if window is None:
            window = PaperWindow.load(since=since, until=until)
            _match_active_topics(window.index)
            # The index is millions of long-lived objects: keep the cyclic GC from walking
            # them again on every collection while readers are planned (10-30 % of planning).
            gc.freeze()
            _window_cache[key] = window
            while len(_window_cache) > INDEXES_KEPT:
                _window_cache.popitem(last=False)
        else:
            _window_cache.move_to_end(key)
    return window


def _match_active_topics(index: PaperIndex) -> None:
    """Every reader's preview, topic page, feed and digest asks for the active topics: match
    them once per build (their phrases and strengths stay in the index's cache), not per
    request."""
    topics = Topic.objects.filter(is_active=True).only(
        "query", "categories", "require_strong_match"
    )
    for topic in topics:
        filter_paper_ids(
            query=topic.query,
            categories=topic.categories,
            index=index,
            strong_only=topic.require_strong_match,
        )


def paper_window(*, since: dt.date, until: dt.date) -> PaperWindow:
    """The run's index, built once per process and reused by every batch of the same run.

    One aggregate decides whether the papers changed (new ones fetched, an editor hiding or
    featuring one, fresh upvotes), so a stale index is never used.
    """
    state = Paper.objects.filter(announced_on__gte=since, announced_on__lte=until).aggregate(
        count=Count("id"),
        newest_id=Max("id"),
        newest_update=Max("updated_at"),
        hidden=Count("id", filter=Q(is_hidden=True)),
        featured=Count("id", filter=Q(is_featured=True)),
        upvotes=Sum("hf_upvotes"),
    )
    return _cached_window(("run", since, until, *state.values()), since=since, until=until)


def recent_papers() -> PaperWindow:
    """The visible papers of the last RECENT_DAYS announcement days (preview, feeds, topic
    pages), rebuilt only when a paper in the window changed.

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
    until = state["newest_day"]
    if until is None:
        return PaperWindow(since=today, until=today, index=PaperIndex(), facts={})
    since = until - dt.timedelta(days=RECENT_DAYS - 1)
    return _cached_window(("recent", *state.values()), since=since, until=until)


def forget_paper_indexes() -> None:
    with _lock:
        _window_cache.clear()
