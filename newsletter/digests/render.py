"""A digest's email: subject, heading, and the cards that fit under Gmail's clipping limit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils import translation

from newsletter.digests.cards import Card, shorten
from newsletter.digests.titles import digest_heading, edition_label, is_weekly, subject_about
from newsletter.emails import base_context, subscriber_links, unsubscribe_headers
from newsletter.followups import FollowUpCard
from newsletter.mail.message import DigestEmail
from newsletter.models import Subscriber
from newsletter.rendering import RenderedEmail, render_email
from newsletter.signing import Purpose, signed_url

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
        link = {"purpose": Purpose.VIEW_DIGEST, "subject_id": digest_id, "email": subscriber.email}
        view_url = signed_url(**link)
        more_url = signed_url(**link, url_name="newsletter:digest_more")
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
            rendered: RenderedEmail = render_email("digest", context)
            size = html_size_as_sent(rendered.html)
            if size <= HTML_BUDGET_BYTES or keep <= 1:
                break
            keep = max(1, min(keep - 1, int(keep * HTML_BUDGET_BYTES / size)))
    return DigestEmail(
        to=subscriber.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id,
        headers=unsubscribe_headers(subscriber, url=links["unsubscribe_url"]),
        cards_in_email=keep,
    )


def html_size_as_sent(html: str) -> int:
    """Bytes of the HTML part as the reader's mail client gets it: UTF-8, and every line
    ending CRLF on the wire (a 50-card digest has ~250 lines: measured on "\n" alone, it
    passed the budget by 180 bytes)."""
    return len(html.encode()) + html.count("\n") - html.count("\r\n")
