"""Runs of the send_digests command in this process: real runs, dry runs, and test copies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from email.utils import make_msgid
from pathlib import Path

from django.conf import settings
from django.utils import timezone, translation

from newsletter.digests.building import unsaved_plans
from newsletter.digests.cards import CardMaker, load_cards, reader_feedback, why_text
from newsletter.digests.claims import stale_digest_ids
from newsletter.digests.delivery import RunReport, build_and_send, digests_send
from newsletter.digests.editions import (
    active_subscriber_ids,
    chunked,
    due_subscriber_ids,
    message_id_for,
)
from newsletter.digests.ranking import DigestPlan
from newsletter.digests.render import render_digest
from newsletter.followups import plan_followup_cards
from newsletter.mail.backend import BackendMailer, open_mailer
from newsletter.mail.eml import write_eml
from newsletter.mail.message import DigestEmail
from newsletter.mail.outcomes import Delivery, Outcome, RelayUnavailable
from newsletter.mail.smtp import SmtpMailer
from newsletter.tasks import enqueue_summaries, schedule_retries


def _run_subscriber_ids(
    *, edition_on: dt.date | None, email: str | None, now: dt.datetime
) -> list[int]:
    # Ids only (a few MB for 100k readers), so the progress bar knows its end.
    if edition_on is not None:
        return list(active_subscriber_ids(email=email, edition_on=edition_on))
    due = due_subscriber_ids(now=now)
    if email:
        wanted = set(active_subscriber_ids(email=email))
        return [pk for pk in due if pk in wanted]
    return list(due)


def run_digests(
    *,
    edition_on: dt.date | None = None,
    subscriber_email: str | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunReport:
    """A run in this process (the `send_digests` command): with `edition_on`, every
    confirmed reader's digest for that day; otherwise what the hourly tick would send now,
    plus any digest whose task was lost. Running it again sends nothing more."""
    now = now or timezone.now()
    report = RunReport()
    stale = stale_digest_ids(now=now)
    for chunk in chunked(stale, settings.DIGEST_BATCH_SIZE):
        sent = digests_send(digest_ids=chunk, token=f"run-{secrets.token_hex(8)}")
        schedule_retries(sent)
        report.add(send=sent)
    ids = _run_subscriber_ids(edition_on=edition_on, email=subscriber_email, now=now)
    done = 0
    for chunk in chunked(ids, settings.DIGEST_BATCH_SIZE):
        built, sent = build_and_send(
            subscriber_ids=chunk,
            token=f"run-{secrets.token_hex(8)}",
            run_at=None if edition_on else now,
            edition_on=edition_on,
        )
        schedule_retries(sent)
        enqueue_summaries(built)  # TL;DR hook: after the send, never before it
        report.add(built, sent)
        done += len(chunk)
        if progress:
            progress(done, len(ids))
    return report


def unsaved_emails(plans: Sequence[DigestPlan]) -> list[tuple[DigestPlan, DigestEmail]]:
    """Render plans that were not saved (dry runs, test copies): no view link, same words."""
    paper_ids = {item.paper_id for plan in plans for item in plan.items if item.in_email}
    cards = load_cards(paper_ids)
    maker = CardMaker()
    emails: list[tuple[DigestPlan, DigestEmail]] = []
    for plan, followups in zip(plans, plan_followup_cards(plans), strict=True):
        items = [
            (item.paper_id, item.reasons)
            for item in plan.items
            if item.in_email and item.paper_id in cards
        ]
        if not items and not (followups and plan.subscriber.followups_alone):
            continue
        subscriber = plan.subscriber
        feedback = reader_feedback(subscriber)
        with translation.override(subscriber.language):
            shown = [
                maker.card(cards[pid], why_text(reasons), feedback(pid)) for pid, reasons in items
            ]
        emails.append(
            (
                plan,
                render_digest(
                    subscriber=subscriber,
                    edition_on=plan.edition_on,
                    cards=shown,
                    items=items,
                    matched_count=plan.matched_count,
                    more_count=plan.more_count,
                    message_id=message_id_for(
                        subscriber_id=subscriber.pk, edition_on=plan.edition_on
                    ),
                    digest_id=None,
                    covers=(plan.covers_from, plan.covers_to),
                    followups=followups,
                ),
            )
        )
    return emails


def send_test_copy(
    email: DigestEmail, *, to: str, mailer: SmtpMailer | BackendMailer | None = None
) -> Delivery:
    """Send an operator a copy of a reader's digest (the admin's button, `send_digests --to`).

    The copy gets a fresh Message-ID (the reader's real digest keeps its own) and none of the
    reader's List-Unsubscribe headers: one press of the mail client's unsubscribe button on
    the copy would unsubscribe the reader. Records nothing; a relay that cannot be reached
    comes back as a temporary failure.
    """
    copy = dataclasses.replace(
        email,
        to=to,
        message_id=make_msgid(domain=settings.SITE_HOST),
        headers={
            name: value
            for name, value in email.headers.items()
            if not name.lower().startswith("list-unsubscribe")
        },
    )
    own_mailer = mailer is None
    mailer = mailer or open_mailer()
    try:
        return mailer.deliver(copy)
    except RelayUnavailable as error:
        return Delivery(Outcome.TEMPORARY, str(error))
    finally:
        if own_mailer:
            mailer.close()


def dry_run(
    *,
    edition_on: dt.date | None = None,
    subscriber_email: str | None = None,
    out_dir: Path | None = None,
    send_to: str | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Dry run (.eml files in `out_dir`) or test copies (to `send_to`); records nothing."""
    now = now or timezone.now()
    ids = _run_subscriber_ids(edition_on=edition_on, email=subscriber_email, now=now)
    written = done = 0
    mailer = open_mailer() if send_to else None
    try:
        for chunk in chunked(ids, settings.DIGEST_BATCH_SIZE):
            plans = unsaved_plans(
                subscriber_ids=chunk, run_at=None if edition_on else now, edition_on=edition_on
            )
            for plan, email in unsaved_emails(plans):
                if mailer is not None and send_to:
                    delivery = send_test_copy(email, to=send_to, mailer=mailer)
                    if delivery.outcome is not Outcome.ACCEPTED:
                        raise RelayUnavailable(delivery.detail)
                elif out_dir is not None:
                    write_eml(email, out_dir, name=f"{plan.edition_on:%Y%m%d}-{plan.subscriber.pk}")
                written += 1
            done += len(chunk)
            if progress:
                progress(done, len(ids))
    finally:
        if mailer is not None:
            mailer.close()
    return written
