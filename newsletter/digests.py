"""What each digest holds: who is due, which days it covers, what matches (each distinct filter
evaluated once per run over one index), how it ranks, why each paper is there, and the Digest
rows that make "one email per reader per edition" a database fact."""

from __future__ import annotations

import datetime as dt
import functools
import gc
import heapq
import json
import math
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from newsletter.matching import IndexedPaper, PaperIndex, Query, QuerySyntaxError, parse_query
from newsletter.models import Digest, DigestItem, Subscriber, Topic
from newsletter.selectors import filter_paper_ids
from papers.models import Paper
from papers.selectors import visible_papers

# A digest never reaches further back than this many days before its edition.
WINDOW_DAYS = 7
# Weekly readers get their digest on this local weekday (Monday).
WEEKLY_ON = 0
# Papers past the email's top N that the "K more" page lists; beyond that only counted.
MORE_PAGE_LIMIT = 50

NEW_KINDS = frozenset({Paper.AnnounceType.NEW})
CROSS_KINDS = frozenset({Paper.AnnounceType.CROSS})
REVISION_KINDS = frozenset({Paper.AnnounceType.REPLACE})
REVISED_CROSS_KINDS = frozenset({Paper.AnnounceType.REPLACE_CROSS})


# --- Who is due, and for which edition -------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def reader_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_edition(*, at: dt.datetime, time_zone: str) -> dt.date:
    """The edition a reader gets at `at`: their local calendar date."""
    return at.astimezone(reader_zone(time_zone)).date()


def due_subscriber_ids(*, now: dt.datetime) -> Iterator[int]:
    """Active readers whose local send hour has come today and whose edition is not built yet.

    "Has come" (not "is now") lets the next hourly tick catch up anyone a lost tick missed.
    Readers are grouped by what their time zone says about `now`, so this is one query per
    distinct (local date, hour, weekday), never one per reader; ids stream in chunks.
    """
    zones = (
        Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
        .order_by()
        .values_list("time_zone", flat=True)
        .distinct()
    )
    groups: dict[tuple[dt.date, int, bool], list[str]] = defaultdict(list)
    for name in zones:
        local = now.astimezone(reader_zone(name))
        groups[(local.date(), local.hour, local.weekday() == WEEKLY_ON)].append(name)
    for (local_date, hour, weekly_day), names in sorted(groups.items()):
        due = Subscriber.objects.filter(
            Q(last_digest_on__isnull=True) | Q(last_digest_on__lt=local_date),
            status=Subscriber.Status.ACTIVE,
            time_zone__in=names,
            send_hour_local__lte=hour,
        )
        if not weekly_day:
            due = due.filter(frequency=Subscriber.Frequency.DAILY)
        yield from due.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2000)


def active_subscriber_ids(*, email: str | None = None) -> Iterator[int]:
    """Every confirmed reader (or the one with `email`), streamed: `send_digests --date`."""
    readers = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
    if email:
        readers = readers.filter(email__iexact=email)
    yield from readers.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2000)


def chunked(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for item in ids:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def coverage(
    *,
    edition_on: dt.date,
    frequency: str,
    previous_covers_to: dt.date | None,
    latest_day: dt.date | None,
) -> tuple[dt.date, dt.date]:
    """The announcement days [from, to] a digest covers; from > to means nothing new.

    It ends at the latest announcement day on or before the edition (papers announced after
    a digest was built go into the next one), starts the day after the previous digest ended,
    and never reaches back more than WINDOW_DAYS. A first daily digest covers the latest
    announcement day; a weekly one, the last WINDOW_DAYS days.
    """
    floor = edition_on - dt.timedelta(days=WINDOW_DAYS - 1)
    covers_to = latest_day or edition_on
    if previous_covers_to is not None:
        covers_from = max(floor, previous_covers_to + dt.timedelta(days=1))
    elif frequency == Subscriber.Frequency.WEEKLY:
        covers_from = floor
    else:
        covers_from = covers_to
    return covers_from, covers_to


def message_id_for(*, subscriber_id: int, edition_on: dt.date) -> str:
    """Derived from the digest's identity, so a resend carries the same Message-ID."""
    return f"<digest.{edition_on:%Y%m%d}.{subscriber_id}@{settings.SITE_HOST}>"


# --- The papers of a run, indexed once per process --------------------------------------------


@dataclass(frozen=True)
class PaperFacts:
    announced_on: dt.date
    announce_type: str
    is_featured: bool
    hf_upvotes: int
    categories: tuple[str, ...]


@dataclass
class PaperWindow:
    """The visible papers announced in [since, until], their index, and every distinct filter
    evaluated so far (filters are keyed by meaning, so a run evaluates each once)."""

    since: dt.date
    until: dt.date
    index: PaperIndex
    facts: dict[int, PaperFacts]
    _filters: dict[tuple[str, tuple[str, ...]], tuple[Query | None, frozenset[int]]] = field(
        default_factory=dict
    )
    _queries: dict[str, Query | None] = field(default_factory=dict)
    _authors: dict[str, frozenset[int]] = field(default_factory=dict)
    _title_hits: dict[str, frozenset[int]] = field(default_factory=dict)
    _ranking_keys: dict[dt.date, dict[int, tuple[bool, float, int]]] = field(default_factory=dict)
    _edition_ranks: dict[dt.date, dict[int, int]] = field(default_factory=dict)
    _words: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)
    _windows: dict[tuple[dt.date, dt.date, bool, bool], frozenset[int]] = field(
        default_factory=dict
    )
    filter_evaluations: int = 0

    @classmethod
    def load(cls, *, since: dt.date, until: dt.date) -> PaperWindow:
        rows = (
            visible_papers()
            .filter(announced_on__gte=since, announced_on__lte=until)
            .order_by()
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
        text = text.strip()
        if not text:
            return None
        if text not in self._queries:
            try:
                self._queries[text] = parse_query(text)
            except QuerySyntaxError:
                self._queries[text] = None  # forms refuse these; an old row matches nothing
        return self._queries[text]

    def filter_matches(
        self, *, query: str, categories: Sequence[str]
    ) -> tuple[Query | None, frozenset[int]]:
        """Papers a (query, categories) filter matches, evaluated once per distinct filter.

        The very definition the sign-up preview uses (selectors.filter_paper_ids): the query
        AND one of the categories when both are given, either alone otherwise.
        """
        parsed = self.parsed(query)
        cats = tuple(sorted({category.casefold() for category in categories}))
        key = (parsed.canonical if parsed else ("!" if query.strip() else ""), cats)
        cached = self._filters.get(key)
        if cached is None:
            self.filter_evaluations += 1
            found = filter_paper_ids(query=query, categories=cats, index=self.index)
            cached = self._filters[key] = (parsed, found)
        return cached

    def author_matches(self, name: str) -> frozenset[int]:
        key = name.strip().casefold()
        if key not in self._authors:
            self._authors[key] = self.index.by_authors([name]) if key else frozenset()
        return self._authors[key]

    def title_hits(self, query: Query) -> frozenset[int]:
        hits = self._title_hits.get(query.canonical)
        if hits is None:
            hits = self._title_hits[query.canonical] = self.index.title_hit_papers(query)
        return hits

    def ranking_keys(self, edition_on: dt.date) -> dict[int, tuple[bool, float, int]]:
        """Per paper, once per edition: (not featured, its own score, a tie-break position by
        upvotes, then recency, then id), so ranking a reader adds only their part."""
        keys = self._ranking_keys.get(edition_on)
        if keys is None:
            order = sorted(
                self.facts,
                key=lambda pid: (
                    -self.facts[pid].hf_upvotes,
                    -self.facts[pid].announced_on.toordinal(),
                    pid,
                ),
            )
            keys = self._ranking_keys[edition_on] = {
                pid: (
                    not self.facts[pid].is_featured,
                    paper_score(
                        upvotes=self.facts[pid].hf_upvotes,
                        announced_on=self.facts[pid].announced_on,
                        edition_on=edition_on,
                    ),
                    position,
                )
                for position, pid in enumerate(order)
            }
        return keys

    def edition_ranks(self, edition_on: dt.date) -> dict[int, int]:
        """Per paper, its place in the edition's own order (featured first, then its score):
        the order of any set of papers that a reader's part does not tell apart."""
        ranks = self._edition_ranks.get(edition_on)
        if ranks is None:
            keys = self.ranking_keys(edition_on)
            order = sorted(keys, key=lambda pid: (keys[pid][0], -keys[pid][1], keys[pid][2]))
            ranks = self._edition_ranks[edition_on] = {pid: i for i, pid in enumerate(order)}
        return ranks

    def matched_words(self, query: Query, paper_id: int) -> tuple[str, ...]:
        key = (query.canonical, paper_id)
        words = self._words.get(key)
        if words is None:
            words = self._words[key] = tuple(self.index.matched_phrases(query, paper_id))
        return words

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


_window_lock = threading.Lock()
_window_cache: OrderedDict[tuple[object, ...], PaperWindow] = OrderedDict()


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
    key = (since, until, *state.values())
    with _window_lock:
        window = _window_cache.get(key)
        if window is None:
            window = PaperWindow.load(since=since, until=until)
            # The index is millions of long-lived objects: keep the cyclic GC from walking
            # them again on every collection while readers are planned (10-30 % of planning).
            gc.freeze()
            _window_cache[key] = window
            while len(_window_cache) > 2:  # two editions may run side by side across midnight
                _window_cache.popitem(last=False)
        else:
            _window_cache.move_to_end(key)
    return window


def forget_paper_windows() -> None:
    with _window_lock:
        _window_cache.clear()


# --- Matching, ranking and reasons for one reader -------------------------------------------


@dataclass
class ReaderMatches:
    """A reader's matches as sets, cheap to combine; reasons are spelled out only for the
    papers that make it into the digest."""

    filters: list[tuple[Query | None, frozenset[int], dict[str, object]]]
    authors: list[tuple[str, frozenset[int]]]
    agreeing: Counter[int]  # how many of the reader's filters (not authors) match each paper
    several: set[int]  # matched by more than one of the reader's filters
    text_hits: set[int]  # matched by a query, in the title or the abstract
    title_hits: set[int]  # matched by a query in the title
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
                    found.append({**reason, "words": list(window.matched_words(query, paper_id))})
        found += [
            {"kind": "author", "label": name} for name, ids in self.authors if paper_id in ids
        ]
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

    @property
    def paper_count(self) -> int:
        return sum(1 for item in self.items if item.in_email)

    @property
    def more_count(self) -> int:
        return len(self.items) - self.paper_count

    @property
    def is_empty(self) -> bool:
        return not self.items


def paper_score(*, upvotes: int, announced_on: dt.date, edition_on: dt.date) -> float:
    """The reader-independent part of a paper's score: Hugging Face upvotes (log: trending,
    not only famous) and recency."""
    age_days = max(0, (edition_on - announced_on).days)
    return 0.25 * math.log2(1 + upvotes) - 0.5 * age_days


def reader_score(
    *, title_hit: bool, text_hit: bool, author_hit: bool, agreeing_filters: int
) -> float:
    """The reader's part: where the words hit (title over abstract), a followed author, and
    how many of the reader's filters agree."""
    return (
        (3.0 if title_hit else 1.0 if text_hit else 0.0)
        + (3.0 if author_hit else 0.0)
        + 1.0 * (agreeing_filters - 1)
    )


def match_reader(
    *,
    window: PaperWindow,
    topics: Sequence[Topic],
    own_query: str,
    categories: Sequence[str],
    authors: Sequence[str],
    eligible: frozenset[int],
) -> ReaderMatches:
    """Every eligible paper a reader's choice matches, with what matched it.

    Any followed topic, OR the reader's own filter (query AND categories when both are
    given), OR any followed author: the definition the sign-up preview shows. Set operations
    only: a reader costs a few intersections, whatever the number of matching papers.
    """
    filters: list[tuple[Query | None, frozenset[int], dict[str, object]]] = []
    for topic in topics:
        query, ids = window.filter_matches(query=topic.query, categories=topic.categories)
        filters.append((query, ids & eligible, {"kind": "topic", "label": topic.name}))
    if own_query.strip() or categories:
        query, ids = window.filter_matches(query=own_query, categories=categories)
        kind = "query" if own_query.strip() else "category"
        label = "" if own_query.strip() else ", ".join(categories)
        filters.append((query, ids & eligible, {"kind": kind, "label": label}))
    author_matches = [(name, window.author_matches(name) & eligible) for name in authors]
    agreeing: Counter[int] = Counter()
    seen: set[int] = set()
    several: set[int] = set()
    text_hits: set[int] = set()
    title_hits: set[int] = set()
    for query, ids, _reason in filters:
        agreeing.update(ids)
        several |= seen & ids
        seen |= ids
        if query is not None:
            text_hits |= ids
            title_hits |= ids & window.title_hits(query)
    return ReaderMatches(
        filters=filters,
        authors=author_matches,
        agreeing=agreeing,
        several=several,
        text_hits=text_hits,
        title_hits=title_hits,
        author_hits=set().union(*(ids for _name, ids in author_matches)),
    )


def contenders(
    matches: ReaderMatches, candidates: set[int], ranks: dict[int, int], limit: int
) -> list[int]:
    """The only candidates that can make a reader's top `limit`, without scoring them all.

    Most candidates get the same reader part (one filter's words in the abstract, or a
    category alone), so within each such group the edition's order decides: its best
    `limit` are enough. Papers with more (a title hit, an author, agreeing filters) all
    compete. Sorting by a dict lookup runs in C; scoring each candidate in Python cost
    ~0.4 ms per reader.
    """
    boosted = matches.title_hits | matches.author_hits | matches.several
    rest = candidates - boosted
    in_text = rest & matches.text_hits
    return [
        *boosted,
        *sorted(in_text, key=ranks.__getitem__)[:limit],
        *sorted(rest - in_text, key=ranks.__getitem__)[:limit],
    ]


def plan_digest(
    *,
    subscriber: Subscriber,
    topics: Sequence[Topic],
    edition_on: dt.date,
    window: PaperWindow,
    previous_covers_to: dt.date | None,
    latest_day: dt.date | None,
    already_sent: frozenset[int] | set[int] = frozenset(),
) -> DigestPlan:
    """One reader's ranked papers for one edition: top max_papers in the email, the next
    MORE_PAGE_LIMIT on the "more" page, minus anything an earlier digest already sent."""
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
    if already_sent:
        eligible = eligible - frozenset(already_sent)
    matches = match_reader(
        window=window,
        topics=topics,
        own_query=subscriber.own_query,
        categories=subscriber.categories or (),
        authors=subscriber.authors or (),
        eligible=eligible,
    )
    static = window.ranking_keys(edition_on)
    agreeing, title_hits, text_hits = matches.agreeing, matches.title_hits, matches.text_hits
    author_hits = matches.author_hits

    def order(pid: int) -> tuple[bool, float, int]:
        not_featured, base, tie_break = static[pid]
        mine = reader_score(
            title_hit=pid in title_hits,
            text_hit=pid in text_hits,
            author_hit=pid in author_hits,
            agreeing_filters=agreeing.get(pid, 0),
        )
        return not_featured, -(base + mine), tie_break

    candidates = matches.paper_ids
    limit = subscriber.max_papers + MORE_PAGE_LIMIT
    shortlist = contenders(matches, candidates, window.edition_ranks(edition_on), limit)
    kept = heapq.nsmallest(limit, shortlist, key=order)
    items = [
        PlannedItem(
            paper_id=pid,
            rank=position,
            in_email=position <= subscriber.max_papers,
            reasons=matches.reasons(pid, window, with_words=position <= subscriber.max_papers),
        )
        for position, pid in enumerate(kept, start=1)
    ]
    return DigestPlan(subscriber, edition_on, covers_from, covers_to, items, len(candidates))


# --- Plans for a chunk of readers, and the rows that record them -----------------------------


def plan_digests(
    *, subscribers: Sequence[Subscriber], editions: dict[int, dt.date]
) -> list[DigestPlan]:
    """Plans for a chunk of readers in a constant number of queries (never one per reader)."""
    if not subscribers:
        return []
    ids = [subscriber.pk for subscriber in subscribers]
    distinct_editions = sorted(set(editions.values()))
    newest = distinct_editions[-1]
    since = distinct_editions[0] - dt.timedelta(days=WINDOW_DAYS)
    window = paper_window(since=since, until=newest)

    topics_by_id = {topic.pk: topic for topic in Topic.objects.filter(is_active=True)}
    followed: dict[int, list[Topic]] = defaultdict(list)
    for subscriber_id, topic_id in (
        Subscriber.topics.through.objects.filter(subscriber_id__in=ids)
        .order_by("topic_id")
        .values_list("subscriber_id", "topic_id")
    ):
        if topic_id in topics_by_id:
            followed[subscriber_id].append(topics_by_id[topic_id])

    latest_day: dict[dt.date, dt.date | None] = {}
    previous: dict[tuple[int, dt.date], dt.date] = {}
    for edition in distinct_editions:
        latest_day[edition] = (
            visible_papers()
            .filter(announced_on__lte=edition, announced_on__gt=edition - dt.timedelta(days=60))
            .aggregate(day=Max("announced_on"))["day"]
        )
        rows = (
            Digest.objects.filter(subscriber_id__in=ids, edition_on__lt=edition)
            .values("subscriber_id")
            .annotate(covers_to=Max("covers_to"))
            .values_list("subscriber_id", "covers_to")
        )
        for subscriber_id, covers_to in rows:
            previous[(subscriber_id, edition)] = covers_to

    # "Never twice": papers of earlier emails and of their "more" pages. A digest that
    # showed a paper of the window was made on or after the window's first day.
    sent: dict[int, set[int]] = defaultdict(set)
    for subscriber_id, paper_id in DigestItem.objects.filter(
        subscriber_id__in=ids,
        paper__announced_on__gte=window.since,
        paper__announced_on__lte=window.until,
    ).values_list("subscriber_id", "paper_id"):
        sent[subscriber_id].add(paper_id)
    for subscriber_id, more_paper_ids in Digest.objects.filter(
        subscriber_id__in=ids, edition_on__gte=window.since
    ).values_list("subscriber_id", "more_paper_ids"):
        sent[subscriber_id].update(more_paper_ids)

    return [
        plan_digest(
            subscriber=subscriber,
            topics=followed.get(subscriber.pk, ()),
            edition_on=editions[subscriber.pk],
            window=window,
            previous_covers_to=previous.get((subscriber.pk, editions[subscriber.pk])),
            latest_day=latest_day[editions[subscriber.pk]],
            already_sent=sent.get(subscriber.pk, frozenset()),
        )
        for subscriber in subscribers
    ]


@dataclass
class BuildResult:
    built: int = 0
    skipped: int = 0
    digest_ids: list[int] = field(default_factory=list)  # unsent: to be claimed
    claimed_ids: list[int] = field(default_factory=list)  # built already held by `claimed_by`


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.DIGEST_LEASE_SECONDS)


def reader_editions(
    subscribers: Iterable[Subscriber],
    *,
    run_at: dt.datetime | None = None,
    edition_on: dt.date | None = None,
) -> dict[int, dt.date]:
    if edition_on is not None:
        return {subscriber.pk: edition_on for subscriber in subscribers}
    at = run_at or timezone.now()
    return {
        subscriber.pk: local_edition(at=at, time_zone=subscriber.time_zone)
        for subscriber in subscribers
    }


def digests_build(
    *,
    subscriber_ids: Sequence[int],
    run_at: dt.datetime | None = None,
    edition_on: dt.date | None = None,
    claimed_by: str = "",
) -> BuildResult:
    """Build the missing digests of a chunk of readers and list those still to send.

    Safe to run twice, and at the same time as another run: readers are locked with SKIP
    LOCKED (a concurrent run leaves them to the one that holds them), a reader whose edition
    exists is not rebuilt, and the unique (subscriber, edition) constraint has the last word.
    With `claimed_by` (a send task's token), new digests are born claimed by it, with a lease,
    as sending.claim_digests would leave them: one UPDATE of every digest fewer per run.
    """
    result = BuildResult()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Don't wait for the disk flush at commit (~7 % of a worker's time): a database
            # crash can only lose the newest digests together with everything after them,
            # and the next run builds them again, with the same Message-IDs.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        subscribers = list(
            Subscriber.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=list(subscriber_ids), status=Subscriber.Status.ACTIVE)
            .order_by("pk")
        )
        if not subscribers:
            return result
        editions = reader_editions(subscribers, run_at=run_at, edition_on=edition_on)
        existing = {
            (subscriber_id, edition): (digest_id, status)
            for subscriber_id, edition, digest_id, status in Digest.objects.filter(
                subscriber_id__in=list(editions), edition_on__in=set(editions.values())
            ).values_list("subscriber_id", "edition_on", "pk", "status")
        }
        for (subscriber_id, edition), (digest_id, status) in existing.items():
            if editions.get(subscriber_id) == edition and status in (
                Digest.Status.PENDING,
                Digest.Status.SENDING,
            ):
                result.digest_ids.append(digest_id)
        missing = [s for s in subscribers if (s.pk, editions[s.pk]) not in existing]
        plans = plan_digests(subscribers=missing, editions=editions)
        saved = save_plans(plans, claimed_by=claimed_by)
        result.built = sum(1 for plan in plans if not plan.is_empty)
        result.skipped = len(plans) - result.built
        fresh = [digest.pk for digest in saved if digest.status != Digest.Status.SKIPPED_EMPTY]
        if claimed_by:
            result.claimed_ids = fresh
        else:
            result.digest_ids += fresh
    return result


def save_plans(plans: Sequence[DigestPlan], *, claimed_by: str = "") -> list[Digest]:
    """Digest rows (pending, or sending under `claimed_by`'s lease, or skipped when empty),
    their items, and each reader's last_digest_on, in a handful of bulk statements."""
    if not plans:
        return []
    unsent = Digest.Status.SENDING if claimed_by else Digest.Status.PENDING
    lease_expires_at = timezone.now() + lease_length() if claimed_by else None
    digests = [
        Digest(
            subscriber_id=plan.subscriber.pk,
            edition_on=plan.edition_on,
            covers_from=plan.covers_from,
            covers_to=plan.covers_to,
            status=Digest.Status.SKIPPED_EMPTY if plan.is_empty else unsent,
            claimed_by="" if plan.is_empty else claimed_by,
            lease_expires_at=None if plan.is_empty else lease_expires_at,
            attempts=1 if claimed_by and not plan.is_empty else 0,
            paper_count=plan.paper_count,
            more_count=plan.more_count,
            matched_count=plan.matched_count,
            message_id=message_id_for(subscriber_id=plan.subscriber.pk, edition_on=plan.edition_on),
            more_paper_ids=[item.paper_id for item in plan.items if not item.in_email],
            more_reasons=[item.reasons for item in plan.items if not item.in_email],
        )
        for plan in plans
    ]
    copy_insert(digests, with_ids=True)
    copy_rows(
        DigestItem,
        ("digest_id", "subscriber_id", "paper_id", "rank", "reasons"),
        (
            (digest.pk, plan.subscriber.pk, item.paper_id, item.rank, item.reasons)
            for digest, plan in zip(digests, plans, strict=True)
            for item in plan.items
            if item.in_email
        ),
    )
    by_edition: dict[dt.date, list[int]] = defaultdict(list)
    for plan in plans:
        by_edition[plan.edition_on].append(plan.subscriber.pk)
    for edition, ids in by_edition.items():
        Subscriber.objects.filter(
            Q(last_digest_on__isnull=True) | Q(last_digest_on__lt=edition), pk__in=ids
        ).update(last_digest_on=edition)
    return digests


def copy_insert(objects: Sequence[models.Model], *, with_ids: bool = False) -> None:
    """New model instances in bulk (see copy_rows). With `with_ids`, ids are taken from the
    table's sequence first, so the objects know their pk as bulk_create's would."""
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=1000)
        return
    if with_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, len(objects)],
            )
            for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
                obj.pk = pk
    fields = [f for f in model._meta.concrete_fields if with_ids or not f.primary_key]
    copy_rows(
        model,
        [f.attname for f in fields],
        ([f.pre_save(obj, add=True) for f in fields] for obj in objects),
    )
    for obj in objects:
        obj._state.adding, obj._state.db = False, connection.alias


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert rows (values in `columns` order) in bulk: PostgreSQL's COPY in production,
    bulk_create elsewhere. A run writes ~10 rows a reader; COPY is 3x cheaper than INSERT,
    and Django's client-side quoting of the digests' JSON lists cost ~0.8 ms a reader."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=1000
        )
        return
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = [by_attname[column] for column in columns]
    is_json = [isinstance(f, models.JSONField) for f in fields]
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {model._meta.db_table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [json.dumps(value) if j else value for value, j in zip(row, is_json, strict=True)]
            )


def preview_plans(
    *,
    subscriber_ids: Sequence[int],
    run_at: dt.datetime | None = None,
    edition_on: dt.date | None = None,
) -> list[DigestPlan]:
    """Plans for readers without writing anything: dry runs and test copies."""
    subscribers = list(
        Subscriber.objects.filter(pk__in=list(subscriber_ids), status=Subscriber.Status.ACTIVE)
    )
    editions = reader_editions(subscribers, run_at=run_at, edition_on=edition_on)
    return plan_digests(subscribers=subscribers, editions=editions)
