"""Reads of the newsletter app: subscribers behind signed links, and what a choice of filters
matches (the live preview and the digest share one definition)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from newsletter.matching import PaperIndex, filter_paper_ids
from newsletter.models import Digest, DigestItem, FollowUp, ImportedPaper, Rating, Subscriber, Topic
from newsletter.paper_index import recent_papers
from newsletter.signing import BadToken, Purpose, TokenClaims, read_token, row_named
from papers.models import Paper
from papers.selectors import papers_by_ids, visible_papers

PREVIEW_EXAMPLES = 5


def subscriber_from_token(token: str, *, purpose: Purpose) -> Subscriber:
    """The subscriber a signed link names, or BadToken if it is forged, expired or stale."""
    return _subscriber_named(read_token(token, purpose=purpose))


def _subscriber_named(claims: TokenClaims) -> Subscriber:
    return row_named(
        claims, rows=Subscriber.objects.all(), email_of=lambda subscriber: subscriber.email
    )


def subscribers_with_address(email: str) -> QuerySet[Subscriber]:
    """The subscriber of this address in any letter case, found through the lower(email)
    unique index (`iexact` compares UPPER() and would read the whole table)."""
    return Subscriber.objects.alias(mailbox=Lower("email")).filter(mailbox=email.lower())


def topic_paper_ids(*, topics: Iterable[Topic], index: PaperIndex) -> dict[int, frozenset[int]]:
    """Per topic id, the indexed papers it matches (see filter_paper_ids), strong matches only
    for a topic that demands them: the preview, topic pages, feeds and admin counts."""
    return {
        topic.pk: filter_paper_ids(
            query=topic.query,
            categories=topic.categories,
            index=index,
            strong_only=topic.require_strong_match,
        )
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
    claims = read_token(token, purpose=Purpose.CONFIRM)
    return _subscriber_named(claims), dt.datetime.fromtimestamp(claims.issued_at, tz=dt.UTC)


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


# --- Ratings and imported papers (issue 14) --------------------------------------------------
RATINGS_SHOWN = 50
IMPORTS_SHOWN = 50


def rating_target_from_token(token: str) -> tuple[Subscriber, Paper]:
    """The reader and paper a 👍/👎 link names; BadToken if forged, expired, made for
    another purpose or reader, or its paper is gone."""
    claims = read_token(token, purpose=Purpose.RATE)
    if claims.paper_id is None:
        raise BadToken("no paper")
    subscriber = Subscriber.objects.filter(pk=claims.subject_id).first()
    if subscriber is None or not claims.names(subscriber.email):
        raise BadToken("no such subscriber")
    paper = Paper.objects.filter(pk=claims.paper_id).first()
    if paper is None:
        raise BadToken("no such paper")
    return subscriber, paper


def rating_vote(*, subscriber: Subscriber, paper_id: int) -> int | None:
    """The reader's current vote on a paper (1, -1), or None."""
    return (
        Rating.objects.filter(subscriber=subscriber, paper_id=paper_id)
        .values_list("vote", flat=True)
        .first()
    )


@dataclass(frozen=True)
class ReaderData:
    """What the manage page shows of a reader's ratings and imported papers (newest first,
    capped), with the totals."""

    ratings: Sequence[Rating]
    rating_count: int
    imported: Sequence[ImportedPaper]
    imported_count: int


def subscriber_reader_data(*, subscriber: Subscriber) -> ReaderData:
    ratings = Rating.objects.filter(subscriber=subscriber)
    imported = ImportedPaper.objects.filter(subscriber=subscriber)
    return ReaderData(
        ratings=list(
            ratings.select_related("paper")
            .only("vote", "rated_at", "paper__arxiv_id", "paper__title")
            .order_by("-rated_at", "-pk")[:RATINGS_SHOWN]
        ),
        rating_count=ratings.count(),
        imported=list(
            imported.only("arxiv_id", "title", "origin", "imported_at", "paper_id").order_by(
                "-imported_at", "-pk"
            )[:IMPORTS_SHOWN]
        ),
        imported_count=imported.count(),
    )


def catalogue_papers_by_arxiv_id(*, arxiv_ids: Iterable[str]) -> dict[str, Paper]:
    """Catalogue papers (id, title, abstract) of these versionless arXiv ids, for linking
    imported papers and naming those given by id alone."""
    wanted = {arxiv_id for arxiv_id in arxiv_ids if arxiv_id}
    if not wanted:
        return {}
    papers = Paper.objects.filter(arxiv_id__in=wanted).only("arxiv_id", "title", "abstract")
    return {paper.arxiv_id: paper for paper in papers}


def visible_paper_ids(*, ids: Iterable[int]) -> list[int]:
    """Those of these ids that are visible catalogue papers (the preview's rated examples)."""
    wanted = set(ids)
    if not wanted:
        return []
    return sorted(visible_papers().filter(pk__in=wanted).values_list("pk", flat=True))


# --- Follow-ups (issue 15) ------------------------------------------------------------------


def papers_got_before_news(
    *,
    subscriber_ids: Sequence[int],
    paper_ids: QuerySet[Paper],
    since: dt.datetime,
    min_upvotes: int,
) -> dict[tuple[int, int], dt.datetime]:
    """Per (reader, paper) among these, when the reader first got the paper since `since` (in
    a digest's email that was sent, unless they 👎'd it, or by a 👍), kept only when the
    paper has news after that:
    a code link, an abstract, or upvotes (at least `min_upvotes`) newer than the moment. The
    comparison runs in the database, so only pairs with news leave it; two queries, each
    served by its (subscriber, paper) unique index. `paper_ids`: a subquery of paper ids."""
    got: dict[tuple[int, int], dt.datetime] = {}
    if not subscriber_ids:
        return got

    def news_after(moment: str, paper: str = "paper__") -> Q:
        return (
            Q(**{f"{paper}code_link_seen_at__gt": F(moment)})
            | Q(**{f"{paper}abstract_changed_at__gt": F(moment)})
            | Q(
                **{
                    f"{paper}hf_upvotes_changed_at__gt": F(moment),
                    f"{paper}hf_upvotes__gte": min_upvotes,
                }
            )
        )

    disliked = Rating.objects.filter(
        subscriber_id=OuterRef("subscriber_id"),
        paper_id=OuterRef("paper_id"),
        vote=Rating.Vote.DOWN,
    )
    sent = (
        DigestItem.objects.filter(
            news_after("digest__sent_at"),
            subscriber_id__in=list(subscriber_ids),
            paper_id__in=paper_ids,
            digest__status=Digest.Status.SENT,
            digest__sent_at__gte=since,
        )
        .exclude(Exists(disliked))
        .order_by()
        .values_list("subscriber_id", "paper_id", "digest__sent_at")
    )
    liked = (
        Rating.objects.filter(
            news_after("rated_at"),
            subscriber_id__in=list(subscriber_ids),
            paper_id__in=paper_ids,
            vote=Rating.Vote.UP,
            rated_at__gte=since,
        )
        .order_by()
        .values_list("subscriber_id", "paper_id", "rated_at")
    )
    for subscriber_id, paper_id, at in (*sent, *liked):
        key = (subscriber_id, paper_id)
        got[key] = min(got.get(key, at), at)
    return got


def followups_told(
    *, subscriber_ids: Sequence[int], paper_ids: QuerySet[Paper]
) -> set[tuple[int, int, str]]:
    """(reader, paper, kind) of the follow-ups these readers' digests already carry, for the
    papers of a subquery of paper ids."""
    return set(
        FollowUp.objects.filter(subscriber_id__in=list(subscriber_ids), paper_id__in=paper_ids)
        .order_by()
        .values_list("subscriber_id", "paper_id", "kind")
    )


@dataclass(frozen=True)
class DigestFollowUp:
    """One follow-up line of a built digest, with what its paper's block shows."""

    paper_id: int
    arxiv_id: str
    title: str
    kind: str
    detail: dict[str, object]


def digest_followups(*, digest_ids: Sequence[int]) -> dict[int, list[DigestFollowUp]]:
    """Per digest, its follow-ups in email order, less papers hidden since: one query."""
    found: dict[int, list[DigestFollowUp]] = {}
    for digest_id, paper_id, arxiv_id, title, kind, detail in (
        FollowUp.objects.filter(digest_id__in=list(digest_ids), paper__is_hidden=False)
        .order_by("digest_id", "position")
        .values_list("digest_id", "paper_id", "paper__arxiv_id", "paper__title", "kind", "detail")
    ):
        found.setdefault(digest_id, []).append(
            DigestFollowUp(paper_id, arxiv_id, title, kind, detail)
        )
    return found


@dataclass(frozen=True)
class SentFollowUp:
    """A follow-up a reader was told: the line, the paper it is about, and when it was sent."""

    pk: int
    arxiv_id: str
    title: str
    kind: str
    detail: dict[str, object]
    sent_at: dt.datetime


def sent_followups(*, subscriber_id: int, limit: int) -> list[SentFollowUp]:
    """The reader's latest `limit` follow-ups of sent digests, newest first, less papers
    hidden since: one query."""
    return [
        SentFollowUp(*row)
        for row in FollowUp.objects.filter(
            subscriber_id=subscriber_id,
            digest__status=Digest.Status.SENT,
            digest__sent_at__isnull=False,
            paper__is_hidden=False,
        )
        .order_by("-digest__sent_at", "position", "pk")
        .values_list("pk", "paper__arxiv_id", "paper__title", "kind", "detail", "digest__sent_at")[
            :limit
        ]
    ]
