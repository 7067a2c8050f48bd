"""Follow-ups: news of the papers a reader got in the last FOLLOWUP_DAYS days (its code came
out, it took off on Hugging Face, a new version changed its abstract), chosen for the reader's
next digest, most important first, and told once.

"Once" works as DigestItem's "never twice": the follow-ups a digest carries are FollowUp rows
written in the transaction that builds the digest, unique per (reader, paper, kind). A rerun
finds the digest built and adds nothing; a crash before sending resends the same digest with
the same rows; the next digest leaves out every (reader, paper, kind) already in the table.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from newsletter.models import FollowUp, Subscriber
from newsletter.selectors import (
    DigestFollowUp,
    digest_followups,
    followups_told,
    papers_got_before_news,
    sent_followups,
)
from papers.models import Paper
from papers.normalise import http_link
from papers.selectors import PaperNews, papers_with_news, papers_with_news_query, upvote_counts

Kind = FollowUp.Kind
# Most important first: what a reader can now run, then what the field is reading, then edits.
KIND_ORDER = (Kind.CODE, Kind.TRENDING, Kind.NEW_VERSION)


@dataclass(frozen=True)
class PlannedFollowUp:
    """One line a digest will carry: a paper's news of one kind, and what the line says."""

    paper_id: int
    kind: str
    detail: dict[str, object]


class _Item(Protocol):
    paper_id: int


class DigestPlan(Protocol):
    """What follow-ups read and fill of a digests.DigestPlan (named here, not imported: the
    digests import this module)."""

    subscriber: Subscriber
    items: Sequence[_Item]
    followups: list[PlannedFollowUp]


def kinds_wanted(subscriber: Subscriber) -> tuple[str, ...]:
    """The kinds of news the reader left on (manage page), most important first."""
    wanted = {
        Kind.CODE: subscriber.followup_code,
        Kind.TRENDING: subscriber.followup_trending,
        Kind.NEW_VERSION: subscriber.followup_new_version,
    }
    return tuple(kind for kind in KIND_ORDER if wanted[kind])


def is_trending(*, then: int, now: int) -> bool:
    """Upvotes that reached the threshold since, or grew by the factor (by a real amount:
    3 to 9 upvotes is no news)."""
    if now <= then:
        return False
    if now >= settings.FOLLOWUP_TRENDING_UPVOTES > then:
        return True
    return (
        now - then >= settings.FOLLOWUP_TRENDING_MIN_GAIN
        and now >= then * settings.FOLLOWUP_TRENDING_FACTOR
    )


def trending_floor() -> int:
    """Fewer upvotes than this are never trending, whatever they were before."""
    return max(0, min(settings.FOLLOWUP_TRENDING_UPVOTES, settings.FOLLOWUP_TRENDING_MIN_GAIN))


def upvotes_when(counts: Sequence[tuple[dt.date, int]], moment: dt.datetime) -> int:
    """The upvotes as last counted on or before `moment`'s (UTC) day; 0 before any count
    (not on Hugging Face yet)."""
    day = moment.astimezone(dt.UTC).date()
    then = 0
    for counted_on, upvotes in counts:
        if counted_on > day:
            break
        then = upvotes
    return then


def news_since(
    news: PaperNews, *, got_at: dt.datetime, counts: Sequence[tuple[dt.date, int]]
) -> list[tuple[str, dt.datetime, dict[str, object]]]:
    """(kind, when, detail) of what happened to a paper after the reader got it."""
    found: list[tuple[str, dt.datetime, dict[str, object]]] = []
    if news.code_link_seen_at and news.code_link_seen_at > got_at and news.code_url:
        found.append((Kind.CODE, news.code_link_seen_at, {"code_url": news.code_url}))
    if news.hf_upvotes_changed_at and news.hf_upvotes_changed_at > got_at:
        then = upvotes_when(counts, got_at)
        if is_trending(then=then, now=news.hf_upvotes):
            detail = {"upvotes_then": then, "upvotes_now": news.hf_upvotes}
            found.append((Kind.TRENDING, news.hf_upvotes_changed_at, detail))
    if news.abstract_changed_at and news.abstract_changed_at > got_at:
        detail = {"version": news.latest_version}
        found.append((Kind.NEW_VERSION, news.abstract_changed_at, detail))
    return found


def plans_add_followups(plans: Sequence[DigestPlan], *, now: dt.datetime | None = None) -> None:
    """Give each plan the follow-ups its digest will carry: at most FOLLOWUPS_PER_EMAIL
    papers, the most important news first, none already told. A plan without papers gets
    them only if its reader asked for emails of updates alone. Five queries a chunk of
    readers, whatever its size."""
    wanting = [
        plan
        for plan in plans
        if kinds_wanted(plan.subscriber) and (plan.items or plan.subscriber.followups_alone)
    ]
    if not wanting or settings.FOLLOWUPS_PER_EMAIL <= 0:
        return
    since = (now or timezone.now()) - dt.timedelta(days=settings.FOLLOWUP_DAYS)
    floor = trending_floor()
    news = papers_with_news(since=since, min_upvotes=floor)
    if not news:
        return
    # The same papers as a subquery: thousands of ids are not sent back three times.
    news_ids = papers_with_news_query(since=since, min_upvotes=floor).values("id")
    reader_ids = [plan.subscriber.pk for plan in wanting]
    got = papers_got_before_news(
        subscriber_ids=reader_ids, paper_ids=news_ids, since=since, min_upvotes=floor
    )
    if not got:
        return
    told = followups_told(subscriber_ids=reader_ids, paper_ids=news_ids)
    counts = upvote_counts(paper_ids=news_ids)
    got_by_reader: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)
    for (reader_id, paper_id), got_at in got.items():
        got_by_reader[reader_id].append((paper_id, got_at))

    for plan in wanting:
        reader_id = plan.subscriber.pk
        wanted = kinds_wanted(plan.subscriber)
        in_this_digest = {item.paper_id for item in plan.items}
        candidates = []
        for paper_id, got_at in got_by_reader.get(reader_id, ()):
            if paper_id in in_this_digest:
                continue
            found = [
                (kind, at, detail)
                for kind, at, detail in news_since(
                    news[paper_id], got_at=got_at, counts=counts.get(paper_id, ())
                )
                if kind in wanted and (reader_id, paper_id, kind) not in told
            ]
            if found:
                found.sort(key=lambda entry: KIND_ORDER.index(entry[0]))
                importance = KIND_ORDER.index(found[0][0])
                latest = max(at for _kind, at, _detail in found)
                candidates.append(((importance, -latest.timestamp(), paper_id), paper_id, found))
        candidates.sort(key=lambda candidate: candidate[0])
        plan.followups = [
            PlannedFollowUp(paper_id, kind, detail)
            for _key, paper_id, found in candidates[: settings.FOLLOWUPS_PER_EMAIL]
            for kind, _at, detail in found
        ]


# --- What the email and the web page show ---------------------------------------------------


@dataclass(frozen=True)
class News:
    """One line under a paper in "Updates on papers you got"; the templates word it."""

    kind: str
    code_url: str = ""
    upvotes_then: int = 0
    upvotes_now: int = 0
    version: int = 0


@dataclass(frozen=True)
class FollowUpCard:
    """A paper's block in "Updates on papers you got": its title, link, and its news."""

    url: str
    title: str
    news: tuple[News, ...]


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _news(kind: str, detail: dict[str, object]) -> News:
    code_url = detail.get("code_url")
    return News(
        kind=kind,
        code_url=code_url if isinstance(code_url, str) else "",
        upvotes_then=_count(detail.get("upvotes_then")),
        upvotes_now=_count(detail.get("upvotes_now")),
        version=_count(detail.get("version")),
    )


def followup_cards(lines: Iterable[DigestFollowUp]) -> list[FollowUpCard]:
    """One block per paper, in the order of its first line."""
    blocks: dict[int, tuple[DigestFollowUp, list[News]]] = {}
    for line in lines:
        block = blocks.setdefault(line.paper_id, (line, []))
        block[1].append(_news(line.kind, line.detail))
    return [
        FollowUpCard(
            url=f"https://arxiv.org/abs/{first.arxiv_id}",
            title=" ".join(first.title.split()),
            news=tuple(news),
        )
        for first, news in blocks.values()
    ]


def digest_followup_cards(*, digest_ids: Sequence[int]) -> dict[int, list[FollowUpCard]]:
    """Per built digest, the blocks of its follow-ups: one query for a whole batch."""
    return {
        digest_id: followup_cards(lines)
        for digest_id, lines in digest_followups(digest_ids=digest_ids).items()
    }


def plan_followup_cards(plans: Sequence[DigestPlan]) -> list[list[FollowUpCard]]:
    """The blocks of plans not saved (dry runs, test copies), one list per plan."""
    paper_ids = {followup.paper_id for plan in plans for followup in plan.followups}
    papers = {
        pid: (arxiv_id, title)
        for pid, arxiv_id, title in Paper.objects.filter(
            pk__in=paper_ids, is_hidden=False
        ).values_list("id", "arxiv_id", "title")
    }
    return [
        followup_cards(
            DigestFollowUp(f.paper_id, *papers[f.paper_id], f.kind, f.detail)
            for f in plan.followups
            if f.paper_id in papers
        )
        for plan in plans
    ]


# --- What the reader's private feed shows ---------------------------------------------------

FEED_FOLLOWUPS = 10
FEED_TITLES = {
    Kind.CODE: "Code released",
    Kind.TRENDING: "Trending",
    Kind.NEW_VERSION: "New version",
}


@dataclass(frozen=True)
class FollowUpFeedItem:
    """A follow-up the reader was told, as an item of their private feed."""

    guid: str
    title: str
    link: str
    news: News
    sent_at: dt.datetime


def followup_feed_items(*, subscriber_id: int) -> list[FollowUpFeedItem]:
    """The reader's latest FEED_FOLLOWUPS follow-ups of sent digests, newest first: one
    query. A code release links the code (when it is a real http link), the rest the paper."""
    items = []
    for sent in sent_followups(subscriber_id=subscriber_id, limit=FEED_FOLLOWUPS):
        news = _news(sent.kind, sent.detail)
        paper_url = f"https://arxiv.org/abs/{sent.arxiv_id}"
        items.append(
            FollowUpFeedItem(
                # (reader, paper, kind) is unique, so this stays the item's id across polls.
                guid=f"{paper_url}#update-{sent.kind}",
                title=f"{FEED_TITLES.get(sent.kind, sent.kind)}: {' '.join(sent.title.split())}",
                link=http_link(news.code_url) or paper_url,
                news=news,
                sent_at=sent.sent_at,
            )
        )
    return items
