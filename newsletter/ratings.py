"""👍/👎 links on every card: one signed token per reader and paper, the vote in the query."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.html import escape

from newsletter.models import Rating
from newsletter.phrases import gettext as _
from newsletter.signing import Purpose, make_token, token_path

# The vote is not signed: the link only opens a page, where the reader picks either button.
VOTES: dict[str, Rating.Vote] = {"up": Rating.Vote.UP, "down": Rating.Vote.DOWN}
VOTE_NAMES: dict[int, str] = {vote: name for name, vote in VOTES.items()}


@dataclass(frozen=True)
class RatingLinks:
    up_url: str
    down_url: str


def rating_token(*, subscriber_id: int, email: str, paper_id: int) -> str:
    return make_token(
        purpose=Purpose.RATE, subject_id=subscriber_id, email=email, paper_id=paper_id
    )


def rating_path(token: str, *, vote: str | None = None) -> str:
    path = token_path("newsletter:rate", token)
    return f"{path}?vote={vote}" if vote else path


def rating_links(*, subscriber_id: int, email: str, paper_id: int, absolute: bool) -> RatingLinks:
    """The card's two links (absolute for emails, site paths for web pages)."""
    token = rating_token(subscriber_id=subscriber_id, email=email, paper_id=paper_id)
    url = (settings.SITE_URL if absolute else "") + rating_path(token)
    return RatingLinks(up_url=f"{url}?vote=up", down_url=f"{url}?vote=down")


def card_feedback_html(links: RatingLinks, *, language: str | None = None) -> str:
    """The card's feedback line in the email: two small text links, no images or buttons."""
    return (
        '<div style="font-size:13px;margin-top:6px;">'
        f'<a href="{escape(links.up_url)}" style="text-decoration:none;">&#128077; '
        f"{escape(_('More like this', language))}</a> &nbsp; "
        f'<a href="{escape(links.down_url)}" style="text-decoration:none;">&#128078; '
        f"{escape(_('Not for me', language))}</a></div>"
    )


def card_feedback_text(links: RatingLinks, *, language: str | None = None) -> str:
    return (
        f"👍 {_('More like this', language)}: {links.up_url}\n"
        f"👎 {_('Not for me', language)}: {links.down_url}\n"
    )
