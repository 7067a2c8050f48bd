"""Readers' 👍/👎 in numbers for the editors' dashboard: per day, per topic, most 👎'd papers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from newsletter.day_counts import (
    DAYS,
    LIVE_DAYS,
    counted_days,
    start_of,
    vote_counts,
    votes_per_day,
)
from newsletter.models import DayCount, DigestItem, Rating
from papers.models import Paper

WEEK = 7
MOST_DISLIKED = 10
# Each vote's topic is one index probe into the digest items; a big audience casts tens of
# thousands a week, so the per-topic table reads the latest this many (and says so).
TOPIC_VOTES_READ = 5000


@dataclass(frozen=True)
class VoteCounts:
    up: int = 0
    down: int = 0

    @property
    def total(self) -> int:
        return self.up + self.down

    @property
    def down_percent(self) -> int | None:
        """👎 as a share of the votes: the number to act on (None without votes)."""
        return round(100 * self.down / self.total) if self.total else None


@dataclass(frozen=True)
class DislikedPaper:
    paper_id: int
    arxiv_id: str
    title: str
    votes: VoteCounts


@dataclass(frozen=True)
class RatingStats:
    days: list[tuple[dt.date, VoteCounts]]  # newest first
    # (topic name, votes) over the week, most votes first; "" (last) holds votes on papers that were
    # not in an email (the "more" page, sign-up's preview) or matched no topic.
    topics: list[tuple[str, VoteCounts]]
    most_disliked: list[DislikedPaper]
    topics_from_latest: int | None = None  # the per-topic table read only this many votes

    @property
    def week(self) -> VoteCounts:
        return VoteCounts(
            up=sum(votes.up for _day, votes in self.days[:WEEK]),
            down=sum(votes.down for _day, votes in self.days[:WEEK]),
        )


def rating_stats(*, today: dt.date, counted: dict[dt.date, DayCount] | None = None) -> RatingStats:
    """The votes per day (today's and yesterday's counted, older days' stored: `counted`, as
    the dashboard read them, see newsletter.day_counts), two aggregate queries and the most
    👎'd papers' titles, whatever the number of ratings."""
    week_start = start_of(today - dt.timedelta(days=WEEK - 1))
    per_day = {
        day: VoteCounts(up=row.votes_up, down=row.votes_down)
        for day, row in (counted if counted is not None else counted_days(today=today)).items()
    }
    live = votes_per_day(today - dt.timedelta(days=LIVE_DAYS - 1), today)
    per_day.update({day: VoteCounts(up=up, down=down) for day, (up, down) in live.items()})
    days = [
        (day, per_day.get(day, VoteCounts()))
        for day in (today - dt.timedelta(days=offset) for offset in range(DAYS))
    ]
    topics, capped = _per_topic(since=week_start)
    return RatingStats(
        days=days,
        topics=topics,
        most_disliked=_most_disliked(week_start),
        topics_from_latest=TOPIC_VOTES_READ if capped else None,
    )


def _per_topic(*, since: dt.datetime) -> tuple[list[tuple[str, VoteCounts]], bool]:
    """A vote counts for the topics its paper matched in that reader's email (the digest
    item's reasons): the topic the reader was sent it for, not every topic they follow."""
    # No ordering: (subscriber, paper) is unique, and the model's ordering would join and
    # sort the digests for each of a week's votes.
    reasons = (
        DigestItem.objects.filter(
            subscriber_id=OuterRef("subscriber_id"), paper_id=OuterRef("paper_id")
        )
        .order_by()
        .values("reasons")[:1]
    )
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = list(
        Rating.objects.filter(rated_at__gte=since)
        .annotate(reasons=Subquery(reasons))
        .order_by("-rated_at")
        .values_list("vote", "reasons")[: TOPIC_VOTES_READ + 1]
    )
    capped = len(rows) > TOPIC_VOTES_READ
    for vote, item_reasons in rows[:TOPIC_VOTES_READ]:
        topics = {
            str(reason.get("label") or "")
            for reason in item_reasons or []
            if isinstance(reason, dict) and reason.get("kind") == "topic"
        } or {""}
        for topic in topics:
            tally[topic][0 if vote == Rating.Vote.UP else 1] += 1
    counted = [(topic, VoteCounts(up=up, down=down)) for topic, (up, down) in tally.items()]
    ranked = sorted(counted, key=lambda entry: (entry[0] == "", -entry[1].total, entry[0]))
    return ranked, capped


def _most_disliked(since: dt.datetime) -> list[DislikedPaper]:
    # Counted on the ratings alone (the (rated_at, vote, paper) index answers it without the
    # table), then the ten winners' titles: joining a week of votes to papers first made the
    # join, not the count, the cost.
    counted = list(
        Rating.objects.filter(rated_at__gte=since)
        .order_by()
        .values_list("paper_id")
        .annotate(**vote_counts())
        .filter(down__gt=0)
        .order_by("-down", "up", "paper_id")
        .values_list("paper_id", "up", "down")[:MOST_DISLIKED]
    )
    papers = Paper.objects.in_bulk([paper_id for paper_id, _up, _down in counted])
    return [
        DislikedPaper(paper_id, paper.arxiv_id, paper.title, VoteCounts(up=up, down=down))
        for paper_id, up, down in counted
        if (paper := papers.get(paper_id)) is not None
    ]
