"""Writes of the newsletter app: subscription lifecycle, digests and their follow-ups."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from celery import Task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from newsletter import ratelimits, selectors
from newsletter.email_tasks import send_confirmation_email, send_manage_link_email
from newsletter.followups import DigestPlan
from newsletter.forms import FOLLOWUP_FIELDS, Preferences
from newsletter.models import Digest, FollowUp, ImportedPaper, Rating, Subscriber
from newsletter.paper_imports import ImportRecord
from newsletter.rating_tasks import schedule_reader_retrain
from newsletter.signing import MAX_AGE, Purpose

logger = logging.getLogger(__name__)


class SignupOutcome(StrEnum):
    """What a sign-up did; never shown to the visitor (the page is the same for all)."""

    CONFIRMATION_SENT = "confirmation-sent"
    MANAGE_LINK_SENT = "manage-link-sent"
    MAIL_CAPPED = "mail-capped"
    IGNORED = "ignored"


class ConfirmOutcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already-confirmed"
    REFUSED = "refused"


def _apply_preferences(subscriber: Subscriber, preferences: Preferences) -> None:
    filters = preferences.filters
    subscriber.own_query = filters.own_query
    subscriber.categories = list(filters.categories)
    subscriber.authors = list(filters.authors)
    subscriber.include_cross_lists = filters.include_cross_lists
    subscriber.frequency = preferences.frequency
    subscriber.send_hour_local = preferences.send_hour_local
    subscriber.time_zone = preferences.time_zone
    subscriber.max_papers = preferences.max_papers
    subscriber.language = preferences.language
    if preferences.followups is not None:
        subscriber.followup_code = preferences.followups.code
        subscriber.followup_trending = preferences.followups.trending
        subscriber.followup_new_version = preferences.followups.new_version
        subscriber.followups_alone = preferences.followups.alone


def _by_mailbox(email: str) -> QuerySet[Subscriber]:
    """The subscriber of this address in any letter case, locked (the lower(email) unique
    index finds it, and makes a concurrent sign-up of the same mailbox wait, then fail)."""
    return (
        Subscriber.objects.select_for_update()
        .alias(mailbox=Lower("email"))
        .filter(mailbox=email.lower())
    )


def _enqueue_mail(task: Task, *, subscriber: Subscriber) -> SignupOutcome:
    if not ratelimits.mail_to_address_allowed(email=subscriber.email):
        logger.info("mail cap reached for subscriber %s", subscriber.pk)
        return SignupOutcome.MAIL_CAPPED
    subscriber_id = subscriber.pk
    transaction.on_commit(lambda: task.delay(subscriber_id))
    return (
        SignupOutcome.MANAGE_LINK_SENT
        if task is send_manage_link_email
        else SignupOutcome.CONFIRMATION_SENT
    )


@transaction.atomic
def subscriber_subscribe(
    *, email: str, preferences: Preferences, liked: LikedPapers | None = None
) -> SignupOutcome:
    """Start (or restart) a subscription; the address proves itself by the confirmation link.

    New or pending: store the choice as pending and send a confirmation. Unsubscribed: keep
    them out, store the choice, and send a confirmation to come back. Active or paused: change
    nothing, send a link to their settings. Suppressed (bounced, complained): send nothing.
    """
    subscriber = _by_mailbox(email).first()
    if subscriber is None:
        try:
            with transaction.atomic():
                subscriber = Subscriber(email=email, status=Subscriber.Status.PENDING)
                _apply_preferences(subscriber, preferences)
                subscriber.save()
        except IntegrityError:
            # The same mailbox (in any letter case) signed up at the same moment: one row,
            # one confirmation.
            return SignupOutcome.IGNORED
        subscriber.topics.set(preferences.filters.topics)
        _store_liked(subscriber, liked)  # issue 14: cold start
        return _enqueue_mail(send_confirmation_email, subscriber=subscriber)
    if subscriber.status in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED):
        return _enqueue_mail(send_manage_link_email, subscriber=subscriber)
    if subscriber.status == Subscriber.Status.SUPPRESSED:
        return SignupOutcome.IGNORED
    _apply_preferences(subscriber, preferences)
    if subscriber.status == Subscriber.Status.PENDING:
        # A pending sign-up restarts: the purge counts its 48 hours from now.
        subscriber.created_at = timezone.now()
    subscriber.save()
    subscriber.topics.set(preferences.filters.topics)
    _store_liked(subscriber, liked)  # issue 14: cold start
    return _enqueue_mail(send_confirmation_email, subscriber=subscriber)


@transaction.atomic
def subscriber_request_manage_link(*, email: str) -> SignupOutcome:
    """ "Email me a link": settings for a subscriber, a fresh confirmation for a pending one."""
    subscriber = _by_mailbox(email).first()
    if subscriber is None or subscriber.status == Subscriber.Status.SUPPRESSED:
        return SignupOutcome.IGNORED
    if subscriber.status == Subscriber.Status.PENDING:
        return _enqueue_mail(send_confirmation_email, subscriber=subscriber)
    return _enqueue_mail(send_manage_link_email, subscriber=subscriber)


@transaction.atomic
def subscriber_confirm(*, subscriber: Subscriber, link_issued_at: dt.datetime) -> ConfirmOutcome:
    """Turn a pending (or returning) address active; a second use changes nothing.

    A returning reader's link must be newer than their unsubscribe, so an old confirmation
    link cannot undo leaving.
    """
    now = timezone.now()
    rows = Subscriber.objects.filter(pk=subscriber.pk)
    if rows.filter(status=Subscriber.Status.PENDING).update(
        status=Subscriber.Status.ACTIVE, confirmed_at=now
    ):
        _retrain_if_liked(subscriber.pk)  # issue 14
        return ConfirmOutcome.CONFIRMED
    # Token times have whole seconds; unsubscribed_at has microseconds.
    if rows.filter(
        status=Subscriber.Status.UNSUBSCRIBED,
        unsubscribed_at__lt=link_issued_at + dt.timedelta(seconds=1),
    ).update(status=Subscriber.Status.ACTIVE, confirmed_at=now, unsubscribed_at=None):
        _retrain_if_liked(subscriber.pk)  # issue 14
        return ConfirmOutcome.CONFIRMED
    current = rows.values_list("status", flat=True).first()
    if current in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED):
        return ConfirmOutcome.ALREADY_CONFIRMED
    return ConfirmOutcome.REFUSED


@transaction.atomic
def subscriber_update_preferences(*, subscriber: Subscriber, preferences: Preferences) -> None:
    _apply_preferences(subscriber, preferences)
    subscriber.save(
        update_fields=[
            "own_query",
            "categories",
            "authors",
            "include_cross_lists",
            "frequency",
            "send_hour_local",
            "time_zone",
            "max_papers",
            "language",
            *(FOLLOWUP_FIELDS if preferences.followups is not None else ()),
        ]
    )
    subscriber.topics.set(preferences.filters.topics)


def subscriber_pause(*, subscriber: Subscriber) -> bool:
    """No digests until resumed; returns False when they were not active."""
    return bool(
        Subscriber.objects.filter(pk=subscriber.pk, status=Subscriber.Status.ACTIVE).update(
            status=Subscriber.Status.PAUSED
        )
    )


class ResumeOutcome(StrEnum):
    RESUMED = "resumed"
    CONFIRMATION_SENT = "confirmation-sent"
    REFUSED = "refused"


@transaction.atomic
def subscriber_resume(*, subscriber: Subscriber) -> ResumeOutcome:
    """Paused back to active, from a signed manage link. A reader who unsubscribed comes
    back only through a fresh confirmation link, sent now: an old manage link proves the
    address once chose to read, not that it wants mail again after leaving.

    Only an address that was once confirmed; a bounced or complaining one stays suppressed.
    """
    rows = Subscriber.objects.filter(pk=subscriber.pk)
    if rows.filter(status=Subscriber.Status.PAUSED, confirmed_at__isnull=False).update(
        status=Subscriber.Status.ACTIVE
    ):
        return ResumeOutcome.RESUMED
    returning = (
        rows.select_for_update()
        .filter(status=Subscriber.Status.UNSUBSCRIBED, confirmed_at__isnull=False)
        .first()
    )
    if returning is None:
        return ResumeOutcome.REFUSED
    # Capped or not, the page says the same: the link is on its way (or already there).
    _enqueue_mail(send_confirmation_email, subscriber=returning)
    return ResumeOutcome.CONFIRMATION_SENT


@transaction.atomic
def subscriber_delete(*, subscriber: Subscriber) -> None:
    """Forget the reader: the row, their topics, their digests and digest items."""
    Subscriber.objects.filter(pk=subscriber.pk).delete()


def subscribers_purge_unconfirmed(*, now: dt.datetime | None = None) -> int:
    """Delete sign-ups whose confirmation link has expired; returns how many."""
    cutoff = (now or timezone.now()) - MAX_AGE[Purpose.CONFIRM]
    _total, per_model = Subscriber.objects.filter(
        status=Subscriber.Status.PENDING, created_at__lt=cutoff
    ).delete()
    return per_model.get(Subscriber._meta.label, 0)


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: Subscriber) -> bool:
    """Stop all mail to this subscriber. Returns False when they had already left."""
    changed = (
        Subscriber.objects.filter(pk=subscriber.pk)
        .exclude(status=Subscriber.Status.UNSUBSCRIBED)
        .update(status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    )
    return bool(changed)


_STILL_MAILED = (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED, Subscriber.Status.PENDING)


def subscriber_record_bounce(*, subscriber_id: int, permanent: bool, reason: str) -> bool:
    """Count a bounce; True when the address is now suppressed (it gets no more mail).

    A permanent one (the mailbox does not exist, a spam complaint) suppresses at once; soft
    ones suppress after SOFT_BOUNCE_LIMIT in a row (a delivered digest resets the count).
    """
    reason = reason[:200]
    mailed = Subscriber.objects.filter(pk=subscriber_id, status__in=_STILL_MAILED)
    if permanent:
        return bool(
            mailed.update(
                status=Subscriber.Status.SUPPRESSED,
                suppressed_reason=reason,
                soft_bounce_count=F("soft_bounce_count") + 1,
            )
        )
    mailed.update(soft_bounce_count=F("soft_bounce_count") + 1)
    return bool(
        mailed.filter(soft_bounce_count__gte=settings.SOFT_BOUNCE_LIMIT).update(
            status=Subscriber.Status.SUPPRESSED,
            suppressed_reason=_("%(count)d soft bounces in a row; last: %(reason)s")
            % {"count": settings.SOFT_BOUNCE_LIMIT, "reason": reason},
        )
    )


# --- Ratings and imported papers (issue 14) --------------------------------------------------
class RatingOutcome(StrEnum):
    RECORDED = "recorded"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class LikedPapers:
    """What a visitor gave at sign-up: papers they like (imported) and the preview's examples
    they rated."""

    imported: Sequence[ImportRecord] = ()
    up_ids: Sequence[int] = ()
    down_ids: Sequence[int] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.imported or self.up_ids or self.down_ids)


def _schedule_retrain(subscriber_id: int) -> None:
    transaction.on_commit(lambda: schedule_reader_retrain.delay(subscriber_id))


def _upsert_ratings(subscriber_id: int, votes: dict[int, int], *, now: dt.datetime) -> None:
    Rating.objects.bulk_create(
        [
            Rating(subscriber_id=subscriber_id, paper_id=paper_id, vote=vote, rated_at=now)
            for paper_id, vote in votes.items()
        ],
        update_conflicts=True,
        unique_fields=["subscriber", "paper"],
        update_fields=["vote", "rated_at"],
    )


@transaction.atomic
def rating_record(*, subscriber: Subscriber, paper_id: int, vote: int) -> RatingOutcome:
    """The reader's 👍 (1) or 👎 (-1) on a paper; a new vote replaces the old one. The
    reader's model retrains later, in a batched task (never in this request)."""
    if vote not in Rating.Vote.values:
        raise ValueError(f"a vote is 1 or -1, not {vote!r}")
    previous = (
        Rating.objects.select_for_update()
        .filter(subscriber=subscriber, paper_id=paper_id)
        .values_list("vote", flat=True)
        .first()
    )
    if previous == vote:
        return RatingOutcome.UNCHANGED
    _upsert_ratings(subscriber.pk, {paper_id: vote}, now=timezone.now())
    _schedule_retrain(subscriber.pk)
    return RatingOutcome.RECORDED if previous is None else RatingOutcome.CHANGED


@transaction.atomic
def rating_undo(*, subscriber: Subscriber, paper_id: int) -> bool:
    """Forget the reader's vote on a paper; False when there was none."""
    deleted, _per_model = Rating.objects.filter(subscriber=subscriber, paper_id=paper_id).delete()
    if deleted:
        _schedule_retrain(subscriber.pk)
    return bool(deleted)


@transaction.atomic
def imported_papers_add(*, subscriber: Subscriber, records: Sequence[ImportRecord]) -> int:
    """Keep papers the reader likes (cold start), linked to the catalogue when the arXiv id
    is known there; an arXiv id they gave before is kept once. Returns how many are new."""
    if not records:
        return 0
    now = timezone.now()
    in_catalogue = selectors.catalogue_papers_by_arxiv_id(
        arxiv_ids=[record.arxiv_id for record in records]
    )
    rows = []
    for record in records:
        paper = in_catalogue.get(record.arxiv_id)
        rows.append(
            ImportedPaper(
                subscriber=subscriber,
                paper=paper,
                arxiv_id=record.arxiv_id,
                # An id alone takes the catalogue's words; unknown ones stay just the id.
                title=record.title or (paper.title if paper else record.arxiv_id),
                abstract=record.abstract or (paper.abstract if paper else ""),
                origin=record.origin,
                imported_at=now,
            )
        )
    before = ImportedPaper.objects.filter(subscriber=subscriber).count()
    ImportedPaper.objects.bulk_create(rows, ignore_conflicts=True)
    added = ImportedPaper.objects.filter(subscriber=subscriber).count() - before
    if added:
        _schedule_retrain(subscriber.pk)
    return added


def imported_paper_remove(*, subscriber: Subscriber, imported_id: int) -> bool:
    deleted, _per_model = ImportedPaper.objects.filter(
        subscriber=subscriber, pk=imported_id
    ).delete()
    if deleted:
        _schedule_retrain(subscriber.pk)
    return bool(deleted)


def subscriber_set_recommendations(*, subscriber: Subscriber, enabled: bool) -> None:
    """ "Recommended for you" in the digest, on or off."""
    Subscriber.objects.filter(pk=subscriber.pk).update(recommendations_enabled=enabled)


def _retrain_if_liked(subscriber_id: int) -> None:
    """A reader who rated or imported papers at sign-up gets their model on confirming."""
    if (
        Rating.objects.filter(subscriber_id=subscriber_id).exists()
        or ImportedPaper.objects.filter(subscriber_id=subscriber_id).exists()
    ):
        _schedule_retrain(subscriber_id)


def _store_liked(subscriber: Subscriber, liked: LikedPapers | None) -> None:
    """Sign-up's cold start, kept with the (pending) reader: their model uses it from the
    day they confirm; an unconfirmed sign-up's rows go with it when it is purged."""
    if liked is None or liked.is_empty:
        return
    votes = {paper_id: Rating.Vote.UP for paper_id in liked.up_ids}
    votes |= {paper_id: Rating.Vote.DOWN for paper_id in liked.down_ids}
    if votes:
        _upsert_ratings(subscriber.pk, votes, now=timezone.now())
    imported_papers_add(subscriber=subscriber, records=liked.imported)


# --- Follow-ups (issue 15) ------------------------------------------------------------------


class SavedDigestRow(Protocol):
    """What the build knows of a digest it just wrote: its id and status, no model instance."""

    pk: int
    status: str


def followups_record(*, digests: Sequence[SavedDigestRow], plans: Sequence[DigestPlan]) -> int:
    """The FollowUp rows of freshly built digests (digests[i] built from plans[i]), in the
    caller's transaction: the one that saves the digests, so a digest and the news it tells
    are stored together or not at all. A (reader, paper, kind) told before breaks the unique
    constraint and the whole build with it: it is never told twice."""
    rows = [
        FollowUp(
            digest_id=digest.pk,
            subscriber_id=plan.subscriber.pk,
            paper_id=followup.paper_id,
            kind=followup.kind,
            position=position,
            detail=followup.detail,
        )
        for digest, plan in zip(digests, plans, strict=True)
        if digest.status != Digest.Status.SKIPPED_EMPTY
        for position, followup in enumerate(plan.followups, start=1)
    ]
    FollowUp.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def followups_release(*, digest_id: int) -> int:
    """Free the follow-ups of a digest that will never be sent (every paper in it hidden
    since it was built): the next digest may tell them."""
    deleted, _by_model = FollowUp.objects.filter(
        digest_id=digest_id, digest__sent_at__isnull=True
    ).delete()
    return deleted
