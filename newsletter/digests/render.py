"""A digest's email: subject, heading, and the cards that fit under Gmail's clipping limit."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.conf import settings
from django.utils import translation
from django.utils.safestring import SafeString

from newsletter.digests.cards import Card, shorten
from newsletter.digests.titles import digest_heading, edition_label, is_weekly, subject_about
from newsletter.emails import base_context, subscriber_links, unsubscribe_headers
from newsletter.followups import FollowUpCard
from newsletter.mail.message import DigestEmail
from newsletter.models import Subscriber
from newsletter.rendering import (
    RenderedEmail,
    Skeleton,
    html_template,
    one_line,
    render_email,
    skeleton,
    slot,
    text_template,
)
from newsletter.signing import Purpose, signed_urls

# Gmail clips HTML past ~102 KB and hides the rest (footer and unsubscribe link included);
# keep a margin under it. Cards that do not fit move to the "more" page.
GMAIL_CLIP_BYTES = 102 * 1024


HTML_BUDGET_BYTES = 98 * 1024
PREHEADER_CHARS = 149  # and an ellipsis: inbox previews show about 150 characters


def render_digest(
    *,
    subscriber: Subscriber,
    edition_on: dt.date,
    cards: Sequence[Card],
    items: Sequence[tuple[int, list[dict[str, object]]]],
    matched_count: int,
    more_count: int,
    message_id: str,
    digest_id: int | None,
    covers: tuple[dt.date, dt.date] | None = None,
    followups: Sequence[FollowUpCard] = (),
) -> DigestEmail:
    """Render the digest; if the HTML would be clipped by Gmail, move cards to the "more"
    page until it fits (the reader always sees the footer and the unsubscribe link)."""
    links = subscriber_links(subscriber)
    view_url = more_url = ""
    if digest_id is not None:
        view_url, more_url = signed_urls(
            purpose=Purpose.VIEW_DIGEST,
            subject_id=digest_id,
            email=subscriber.email,
            url_names=("newsletter:view_digest", "newsletter:digest_more"),
        )
    with translation.override(subscriber.language):
        about, others = subject_about(items)
        context = {
            **base_context(language=subscriber.language),
            **links,
            "view_url": view_url,
            "more_url": more_url,
            "edition_on": edition_on,
            "matched_count": matched_count,
            "about": about,
            "others": others,
            "weekly": is_weekly(subscriber),
            "when": edition_label(subscriber=subscriber, edition_on=edition_on, covers=covers),
            "followups": followups,
        }
        keep = len(cards)
        while True:
            shown = cards[:keep]
            context.update(
                cards=shown,
                paper_count=len(shown),
                more_count=more_count + len(cards) - keep,
                heading=digest_heading(
                    subscriber=subscriber,
                    edition_on=edition_on,
                    covers=covers,
                    paper_count=len(shown),
                    more_count=more_count + len(cards) - keep,
                ),
                preheader=shorten(
                    " · ".join(
                        [card.paper.title for card in shown[:2]] or [f.title for f in followups[:2]]
                    ),
                    PREHEADER_CHARS,
                ),
            )
            if shown and not followups:
                rendered = _filled(context)
            else:  # follow-ups are rare and hold a template of their own: rendered in full
                rendered = render_email("digest", context)
            size = html_size_as_sent(rendered.html, parts=rendered.html_parts)
            if size <= HTML_BUDGET_BYTES or keep <= 1:
                break
            keep = max(1, min(keep - 1, int(keep * HTML_BUDGET_BYTES / size)))
    return DigestEmail(
        to=subscriber.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        text_parts=rendered.text_parts,
        html_parts=rendered.html_parts,
        message_id=message_id,
        headers=unsubscribe_headers(subscriber, url=links["unsubscribe_url"]),
        cards_in_email=keep,
    )


# What the digest's templates print as they are; everything else decides their shape.
_BODY_SLOTS = (
    "language_code",
    "subject",
    "site_name",
    "preheader",
    "heading",
    "more_url",
    "view_url",
    "manage_url",
    "unsubscribe_url",
    "sender_line",
)


def _filled(context: dict[str, object]) -> RenderedEmail:
    """The email render_email("digest", context) makes, by filling skeletons rendered once
    per shape (language, counts, which links there are) instead of running the templates per
    reader: the same bytes. The cards come rendered already and go in as they are."""
    language = translation.get_language() or "en"
    cached = not settings.DEBUG  # DEBUG: edited templates show at once
    subject_skeleton = (_subject_skeleton_cached if cached else _subject_skeleton)(
        language,
        matched_count=context["matched_count"],
        weekly=bool(context["weekly"]),
        has_others=bool(context["others"]),
    )
    values = {name: str(context[name]) for name in _BODY_SLOTS if name != "subject"}
    values["subject"] = one_line(subject_skeleton.fill(context))  # type: ignore[arg-type]
    values = {name: value for name, value in values.items() if value}
    text_skeleton, html_skeleton = (_body_skeletons_cached if cached else _body_skeletons)(
        language, more_count=context["more_count"], present=frozenset(values)
    )
    cards: Sequence[Card] = context["cards"]  # type: ignore[assignment]
    text_parts = text_skeleton.parts(
        {**values, "cards": [_parts(card.shared_text, card.own_text) for card in cards]}
    )
    text = "".join(part for part, _shared in text_parts)
    if text != text.strip() + "\n":  # as render_email trims it (it ends with the footer)
        text, text_parts = text.strip() + "\n", []
    html_parts = html_skeleton.parts(
        {
            **{name: _html_of(value) for name, value in values.items()},
            "cards": [_parts(card.shared_html, card.own_html) for card in cards],
        }
    )
    return RenderedEmail(
        subject=values["subject"],
        text=text,
        html="".join(part for part, _shared in html_parts),
        text_parts=text_parts,
        html_parts=html_parts,
    )


def _html_of(value: str) -> str:
    """conditional_escape(value) for a string, without its lazy-string wrapper (~4 µs)."""
    return value if hasattr(value, "__html__") else escape(value)


def _parts(shared: str, own: str) -> list[tuple[str, bool]]:
    """A card as Skeleton.parts takes it: its shared start, and this reader's rest."""
    return [(shared, True), (own, False)]


def _subject_skeleton(
    language: str, *, matched_count: int, weekly: bool, has_others: bool
) -> Skeleton:
    with translation.override(language):
        return skeleton(
            text_template("digest-subject.txt"),
            {
                "about": slot("about"),
                "others": slot("others") if has_others else "",
                "when": slot("when"),
                "matched_count": matched_count,
                "weekly": weekly,
                "followups": (),
            },
        )


def _body_skeletons(
    language: str, *, more_count: int, present: frozenset[str]
) -> tuple[Skeleton, Skeleton]:
    """The text and HTML parts' skeletons; two slotted cards give what goes between cards."""
    context = {
        **{name: slot(name) if name in present else "" for name in _BODY_SLOTS},
        "cards": [_SlotCard(html=slot(f"cards.{n}"), text=slot(f"cards.{n}")) for n in (0, 1)],
        "more_count": more_count,
        "followups": (),
    }
    with translation.override(language):
        return (
            skeleton(text_template("digest-body.txt"), context),
            skeleton(html_template("digest"), context),
        )


# A subject's shape per matched count (1,555 counts in a 10,000-reader bench day), ~1 KB each;
# a body's per more count (a few dozen), ~10 KB each.
_subject_skeleton_cached = functools.lru_cache(maxsize=8192)(_subject_skeleton)
_body_skeletons_cached = functools.lru_cache(maxsize=512)(_body_skeletons)


@dataclass(frozen=True)
class _SlotCard:
    html: SafeString
    text: SafeString


def html_size_as_sent(html: str, *, parts: Sequence[tuple[str, bool]] = ()) -> int:
    """Bytes of the HTML part as the reader's mail client gets it: UTF-8, and every line
    ending CRLF on the wire (a 50-card digest has ~250 lines: measured on "\n" alone, it
    passed the budget by 180 bytes).

    With the `parts` the HTML joins, each shared part (a card, the layout) is measured once
    per process: encoding and scanning the whole ~40 KB part for every email cost ~55 µs."""
    size = 0
    for text, shared in parts:
        part_size = _lf_part_size(text) if shared else _size_without_cr(text)
        if part_size < 0:  # a CR: a CRLF could straddle two parts, so measure it whole
            return _size_as_sent(html)
        size += part_size
    return size if parts else _size_as_sent(html)


def _size_as_sent(text: str) -> int:
    return len(text.encode()) + text.count("\n") - text.count("\r\n")


def _size_without_cr(text: str) -> int:
    """A part's size as sent when it holds no CR, else -1."""
    return -1 if "\r" in text else len(text.encode()) + text.count("\n")


# Keyed on the shared strings themselves (cached where they are made): ~4,000 cards in two
# languages, as the quoted-printable cache.
_lf_part_size = functools.lru_cache(maxsize=8192)(_size_without_cr)
