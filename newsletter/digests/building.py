"""Building digests: plans for a chunk of readers in a constant number of queries, and the
rows that record them."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from newsletter.digests.bulk_sql import copy_rows, next_ids, relax_commit_durability
from newsletter.digests.claims import lease_length
from newsletter.digests.editions import WINDOW_DAYS, message_id_for, reader_editions
from newsletter.digests.ranking import DigestPlan, plan_digest
from newsletter.followups import plans_add_followups
from newsletter.models import Digest, DigestItem, Subscriber, Topic
from newsletter.paper_index import paper_window
from newsletter.recommend.scoring import reader_scores
from newsletter.services import followups_record
from papers.selectors import visible_papers

# Ranges of paper ids "never twice" reads per batch: each is one index probe a reader.
ID_RANGES = 8


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
        for subscriber_id, covers_to in previous_covers_to(ids, edition=edition):
            previous[(subscriber_id, edition)] = covers_to

    # "Never twice": papers of earlier emails and of their "more" pages. A digest that
    # showed a paper of the window was made on or after the window's first day; an email's
    # paper may be older and announced again, so items are looked up by the window's papers
    # (ids, not a join: the join with its ordering went parallel over the whole table).
    sent: dict[int, set[int]] = defaultdict(set)
    for subscriber_id, paper_id in already_sent_items(ids, paper_ids=window.facts):
        sent[subscriber_id].add(paper_id)
    for subscriber_id, more_paper_ids in Digest.objects.filter(
        subscriber_id__in=ids, edition_on__gte=window.since
    ).values_list("subscriber_id", "more_paper_ids"):
        sent[subscriber_id].update(more_paper_ids)

    personal = reader_scores(subscriber_ids=ids, window=window)  # personalisation
    plans = [
        plan_digest(
            subscriber=subscriber,
            topics=followed.get(subscriber.pk, ()),
            edition_on=editions[subscriber.pk],
            window=window,
            previous_covers_to=previous.get((subscriber.pk, editions[subscriber.pk])),
            latest_day=latest_day[editions[subscriber.pk]],
            already_sent=sent.get(subscriber.pk, frozenset()),
            personal=personal.get(subscriber.pk),
        )
        for subscriber in subscribers
    ]
    plans_add_followups(plans)  # follow-ups hook
    return plans


def already_sent_items(ids: Sequence[int], *, paper_ids: Collection[int]) -> list[tuple[int, int]]:
    """(reader, paper) of the readers' kept items whose paper is one of `paper_ids`.

    The (subscriber, paper) index holds a reader's items in paper order, and paper ids grow
    as papers arrive, so the window's papers are a few ranges of ids (the recent ones, and
    any older paper announced again): bounded to them, a batch reads the items of the last
    days' papers, not every item kept (DIGEST_ITEM_RETENTION_DAYS) for each reader.
    """
    wanted = set(paper_ids)
    ranges = id_ranges(wanted)
    if not ranges:
        return []
    in_ranges = reduce(or_, (Q(paper_id__gte=low, paper_id__lte=high) for low, high in ranges))
    rows = (
        DigestItem.objects.filter(in_ranges, subscriber_id__in=list(ids))
        .order_by()
        .values_list("subscriber_id", "paper_id")
    )
    return [(subscriber_id, paper_id) for subscriber_id, paper_id in rows if paper_id in wanted]


def id_ranges(ids: Collection[int], *, most: int = ID_RANGES) -> list[tuple[int, int]]:
    """At most `most` closed ranges that cover every id, split at the widest gaps."""
    ordered = sorted(set(ids))
    if not ordered:
        return []
    widest = sorted(
        (n for n in range(1, len(ordered)) if ordered[n] - ordered[n - 1] > 1),
        key=lambda n: ordered[n] - ordered[n - 1],
        reverse=True,
    )
    cuts = sorted(widest[: most - 1])
    starts, ends = [0, *cuts], [*cuts, len(ordered)]
    return [(ordered[a], ordered[b - 1]) for a, b in zip(starts, ends, strict=True)]


def previous_covers_to(ids: Sequence[int], *, edition: dt.date) -> list[tuple[int, dt.date]]:
    """(reader, the last day their earlier digests covered), for readers who had one.

    Two index probes a reader, however long their history: the latest covers_to of the
    digests within WINDOW_DAYS (only those can move where the next one starts, see
    editions.coverage), else that of their latest digest, which only says "not the first".
    A Max over every earlier digest read a year of rows per reader by day 366.
    """
    earlier = Digest.objects.filter(subscriber_id=OuterRef("pk"), edition_on__lt=edition)
    recent = (
        earlier.filter(edition_on__gte=edition - dt.timedelta(days=WINDOW_DAYS))
        .order_by()
        .values("subscriber_id")
        .annotate(covers_to=Max("covers_to"))
        .values("covers_to")
    )
    latest = earlier.order_by("-edition_on").values("covers_to")[:1]
    rows = (
        Subscriber.objects.filter(pk__in=list(ids))
        .annotate(previous=Coalesce(Subquery(recent), Subquery(latest)))
        .values_list("pk", "previous")
    )
    return [(pk, covers_to) for pk, covers_to in rows if covers_to is not None]


@dataclass
class BuildResult:
    built: int = 0
    skipped: int = 0
    digest_ids: list[int] = field(default_factory=list)  # unsent: to be claimed
    claimed_ids: list[int] = field(default_factory=list)  # built already held by `claimed_by`


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
        # Don't wait for the disk flush at commit (~7 % of a worker's time): a database crash
        # can only lose the newest digests together with everything after them, and the
        # next run builds them again, with the same Message-IDs.
        relax_commit_durability()
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


def save_plans(plans: Sequence[DigestPlan], *, claimed_by: str = "") -> list[SavedDigest]:
    """Digest rows (pending, or sending under `claimed_by`'s lease, or skipped when empty),
    their items, and each reader's last_digest_on, in a handful of bulk statements. Rows go
    out as plain tuples: a model instance per digest cost more than the COPY that writes it."""
    if not plans:
        return []
    if connection.vendor != "postgresql":
        return _save_plans_by_orm(plans, claimed_by=claimed_by)
    unsent = Digest.Status.SENDING if claimed_by else Digest.Status.PENDING
    now = timezone.now()
    lease_expires_at = now + lease_length() if claimed_by else None
    saved = [
        SavedDigest(pk, Digest.Status.SKIPPED_EMPTY if plan.is_empty else unsent)
        for pk, plan in zip(next_ids(Digest, len(plans)), plans, strict=True)
    ]
    copy_rows(
        Digest,
        DIGEST_COLUMNS,
        (
            (
                digest.pk,
                plan.subscriber.pk,
                plan.edition_on,
                plan.covers_from,
                plan.covers_to,
                digest.status,
                "" if plan.is_empty else claimed_by,
                None if plan.is_empty else lease_expires_at,
                1 if claimed_by and not plan.is_empty else 0,
                plan.paper_count,
                plan.more_count,
                plan.matched_count,
                message_id_for(subscriber_id=plan.subscriber.pk, edition_on=plan.edition_on),
                [item.paper_id for item in plan.items if not item.in_email],
                [item.reasons for item in plan.items if not item.in_email],
                "",
                "",
                now,
            )
            for digest, plan in zip(saved, plans, strict=True)
        ),
    )
    _save_items_and_marks(plans, saved)
    return saved


DIGEST_COLUMNS = (
    "id",
    "subscriber_id",
    "edition_on",
    "covers_from",
    "covers_to",
    "status",
    "claimed_by",
    "lease_expires_at",
    "attempts",
    "paper_count",
    "more_count",
    "matched_count",
    "message_id",
    "more_paper_ids",
    "more_reasons",
    "subject",
    "last_error",
    "created_at",
)


class SavedDigest(NamedTuple):
    pk: int
    status: str


def _save_plans_by_orm(plans: Sequence[DigestPlan], *, claimed_by: str) -> list[SavedDigest]:
    """The same rows through the ORM, where there is no COPY (SQLite)."""
    unsent = Digest.Status.SENDING if claimed_by else Digest.Status.PENDING
    lease_expires_at = timezone.now() + lease_length() if claimed_by else None
    digests = Digest.objects.bulk_create(
        [
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
                message_id=message_id_for(
                    subscriber_id=plan.subscriber.pk, edition_on=plan.edition_on
                ),
                more_paper_ids=[item.paper_id for item in plan.items if not item.in_email],
                more_reasons=[item.reasons for item in plan.items if not item.in_email],
            )
            for plan in plans
        ],
        batch_size=1000,
    )
    saved = [SavedDigest(digest.pk, digest.status) for digest in digests]
    _save_items_and_marks(plans, saved)
    return saved


def _save_items_and_marks(plans: Sequence[DigestPlan], saved: Sequence[SavedDigest]) -> None:
    copy_rows(
        DigestItem,
        ("digest_id", "subscriber_id", "paper_id", "rank", "reasons"),
        (
            (digest.pk, plan.subscriber.pk, item.paper_id, item.rank, item.reasons)
            for digest, plan in zip(saved, plans, strict=True)
            for item in plan.items
            if item.in_email
        ),
    )
    followups_record(digests=saved, plans=plans)  # follow-ups hook: same transaction
    by_edition: dict[dt.date, list[int]] = defaultdict(list)
    for plan in plans:
        by_edition[plan.edition_on].append(plan.subscriber.pk)
    for edition, ids in by_edition.items():
        Subscriber.objects.filter(
            Q(last_digest_on__isnull=True) | Q(last_digest_on__lt=edition), pk__in=ids
        ).update(last_digest_on=edition)


def unsaved_plans(
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
