"""👍/👎 links on every card: one signed token per reader and paper, the vote in the query."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from html import escape

from django.conf import settings
from django.utils import translation

from newsletter.models import Rating
from newsletter.phrases import gettext as _
from newsletter.signing import Purpose, TokenMaker, make_token, path_around, token_path

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
    return ReaderRatingLinks(subscriber_id=subscriber_id, email=email, absolute=absolute).links(
        paper_id
    )


class ReaderRatingLinks:
    """One reader's 👍/👎 links, for the cards of one email: each paper's link costs one
    HMAC, what the links share (the reader, the second, the page's path) is made once."""

    def __init__(self, *, subscriber_id: int, email: str, absolute: bool = True) -> None:
        self._tokens = TokenMaker(purpose=Purpose.RATE, subject_id=subscriber_id, email=email)
        before, self._after = path_around("newsletter:rate")
        self._before = (settings.SITE_URL if absolute else "") + before

    def links(self, paper_id: int) -> RatingLinks:
        url = f"{self._before}{self._tokens.token(paper_id)}{self._after}"
        return RatingLinks(up_url=f"{url}?vote=up", down_url=f"{url}?vote=down")


def card_feedback_html(links: RatingLinks, *, language: str | None = None) -> str:
    """The card's feedback line in the email: two small text links, no images or buttons."""
    start, middle, end = _feedback_html(language or translation.get_language() or "")
    return f"{start}{escape(links.up_url)}{middle}{escape(links.down_url)}{end}"


@functools.lru_cache(maxsize=64)
def _feedback_html(language: str) -> tuple[str, str, str]:
    """The feedback line's fixed HTML around its two links, in one language."""
    return (
        '<div style="font-size:13px;margin-top:6px;"><a href="',
        '" style="text-decoration:none;">&#128077; '
        f'{escape(_("More like this", language))}</a> &nbsp; <a href="',
        f'" style="text-decoration:none;">&#128078; {escape(_("Not for me", language))}</a></div>',
    )


def card_feedback_text(links: RatingLinks, *, language: str | None = None) -> str:
    up, down = _feedback_text(language or translation.get_language() or "")
    return f"{up}{links.up_url}\n{down}{links.down_url}\n"


@functools.lru_cache(maxsize=64)
def _feedback_text(language: str) -> tuple[str, str]:
    return f"👍 {_('More like this', language)}: ", f"👎 {_('Not for me', language)}: "
