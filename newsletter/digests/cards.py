"""Paper cards: what a card shows of a paper, rendered once per process and language."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape  # Django's, without its lazy-string wrapper (~4 µs a call)

from django.db.models import Count, Max
from django.template import engines
from django.template.backends.django import Template
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from newsletter.models import Subscriber
from newsletter.phrases import gettext as _
from newsletter.ratings import (
    RatingLinks,
    ReaderRatingLinks,
    card_feedback_html,
    card_feedback_text,
)
from newsletter.tldrs import tldr
from papers.models import Paper
from papers.selectors import CARD_FIELDS
from papers.summaries import summaries_by_paper

SNIPPET_CHARS = 280


AUTHORS_SHOWN = 3


NOTE_CHARS = 400


VENUE_CHARS = 120


@dataclass(frozen=True)
class PaperCard:
    """What a card shows of a paper, computed once per batch and shared by every email."""

    url: str
    title: str
    authors: str
    announced_on: dt.date | None
    categories: str
    snippet: str
    upvotes: int
    code_url: str
    venue: str
    editor_note: str
    is_featured: bool
    # TL;DR hook (newsletter/tldrs.py): Hugging Face's summary and the LLM's, per language.
    ai_summary: str = ""
    summaries: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Card:
    """A card as one email shows it: the paper's shared fragment plus this reader's why and
    links, kept apart so that the shared part's encoded bytes can be reused."""

    paper: PaperCard
    why: str
    shared_html: str  # the same string in every email with this paper
    own_html: str
    shared_text: str
    own_text: str

    @property
    def html(self) -> SafeString:
        return mark_safe(self.shared_html + self.own_html)  # noqa: S308 - escaped parts

    @property
    def text(self) -> str:
        return self.shared_text + self.own_text


@functools.cache
def _card_template(name: str, *, autoescape: bool) -> Template:
    source = engines["django"].engine.find_template(name)[0].source
    if not autoescape:  # the text part is not HTML: "&amp;" would reach the reader
        source = "{% autoescape off %}" + source + "{% endautoescape %}"
    return engines["django"].from_string(source)


@functools.lru_cache(maxsize=20_000)
def _card_fragment(paper: PaperCard, language: str) -> tuple[str, str]:
    """A paper's card (HTML, text) in the active language, rendered once per process.

    Keyed on everything the card shows, so an edited paper (hidden, featured, a new note,
    fresh upvotes) gets a new card; a 2,000-paper day is ~4,000 entries, about 12 MB.
    """
    context = {
        "paper": paper,
        "tldr": tldr(ai_summary=paper.ai_summary, summaries=paper.summaries, language=language),
    }
    return (
        _card_template("emails/digest-card.html", autoescape=True).render(context),
        _card_template("emails/digest-card.txt", autoescape=False).render(context),
    )


class CardMaker:
    """Cards for emails: each paper's card is rendered once per process and language (only
    the why line and links differ between readers), so an email only joins strings."""

    def __init__(self) -> None:
        # The batch's cards by identity: a PaperCard's hash and equality read every field.
        self._fragments: dict[tuple[int, str], tuple[str, str]] = {}

    def card(
        self,
        paper: PaperCard,
        why: str,
        feedback: RatingLinks | None = None,
        *,
        language: str | None = None,
    ) -> Card:
        """`language`: the email's (default: the active one, a context-local lookup)."""
        language = language or translation.get_language() or "en"
        key = (id(paper), language)
        fragment = self._fragments.get(key)
        if fragment is None:
            fragment = self._fragments[key] = _card_fragment(paper, language)
        html = text = ""
        if why:
            label = _("Why:", language)
            html = (
                '<div style="font-size:13px;color:#1a7f37;margin-top:6px;">'
                f"{escape(label)} {escape(why)}</div>"
            )
            text = f"{label} {why}\n"
        text = f"{text}{paper.url}\n"
        if feedback is not None:  # per reader and paper: appended, never in the shared fragment
            html += card_feedback_html(feedback, language=language)
            text += card_feedback_text(feedback, language=language)
        return Card(paper, why, fragment[0], html + "</div>", fragment[1], text)


def reader_feedback(subscriber: Subscriber) -> Callable[[int], RatingLinks | None]:
    """The 👍/👎 links of a reader's cards, by paper id, for one email (none for a reader not
    saved, e.g. a dry run's sample)."""
    if subscriber.pk is None:
        return lambda _paper_id: None
    return ReaderRatingLinks(subscriber_id=subscriber.pk, email=subscriber.email).links


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


def paper_card(paper: Paper, summaries: tuple[tuple[str, str], ...] = ()) -> PaperCard:
    authors = list(paper.authors or [])
    shown = ", ".join(shorten(name, 60) for name in authors[:AUTHORS_SHOWN])
    if len(authors) > AUTHORS_SHOWN:
        shown += " " + _("et al.")
    return PaperCard(
        url=paper.abs_url,
        title=" ".join(paper.title.split()),
        authors=shown,
        announced_on=paper.announced_on,
        categories=", ".join((paper.categories or [])[:4]),
        snippet=shorten(paper.abstract, SNIPPET_CHARS),
        upvotes=paper.hf_upvotes,
        code_url=paper.code_url,
        venue=shorten(paper.journal_ref or paper.comment, VENUE_CHARS),
        editor_note=shorten(paper.editor_note, NOTE_CHARS),
        is_featured=paper.is_featured,
        ai_summary=paper.ai_summary,
        summaries=summaries,
    )


# Cards a process keeps across batches: a day's papers, in every language its readers use.
KEPT_CARDS = 10_000


CardVersion = tuple[dt.datetime | None, dt.datetime | None, int]  # paper, summaries, count


_kept_cards: dict[tuple[int, str], tuple[CardVersion, PaperCard]] = {}


def load_cards(paper_ids: Iterable[int]) -> dict[int, PaperCard]:
    """The cards of the visible papers among `paper_ids` (hidden ones drop out), with their
    LLM summaries.

    A worker's batches show mostly the same papers (~900 a batch of 500 emails, out of a
    day's ~2,000), so cards are kept across batches: one query reads each paper's version
    (its updated_at, which every write of a paper bumps, and its summaries' newest update
    and count) and only new or changed papers are read in full, in two more queries.
    Building every card again cost ~0.13 ms of an email's CPU."""
    paper_ids = set(paper_ids)
    language = translation.get_language() or ""  # "et al." is in the active language
    versions: dict[int, CardVersion] = {
        pk: (updated_at, summaries_at, summary_count)
        for pk, updated_at, summaries_at, summary_count in Paper.objects.filter(
            pk__in=paper_ids, is_hidden=False
        )
        .annotate(summaries_at=Max("summaries__updated_at"), summary_count=Count("summaries"))
        .values_list("pk", "updated_at", "summaries_at", "summary_count")
    }
    cards: dict[int, PaperCard] = {}
    changed: list[int] = []
    for pk, version in versions.items():
        kept = _kept_cards.get((pk, language))
        if kept is not None and kept[0] == version:
            cards[pk] = kept[1]
        else:
            changed.append(pk)
    if changed:
        papers = Paper.objects.filter(pk__in=changed, is_hidden=False).only(*CARD_FIELDS)
        made = summaries_by_paper(paper_ids=changed)
        for paper in papers:
            cards[paper.pk] = card = paper_card(paper, made.get(paper.pk, ()))
            _keep_card((paper.pk, language), versions[paper.pk], card)
    return cards


def _keep_card(key: tuple[int, str], version: CardVersion, card: PaperCard) -> None:
    """Kept as read (a paper changed since reads differently next time: read again); the
    oldest quarter is dropped past KEPT_CARDS."""
    _kept_cards.pop(key, None)
    if len(_kept_cards) >= KEPT_CARDS:
        for old in list(itertools.islice(_kept_cards, KEPT_CARDS // 4)):
            del _kept_cards[old]
    _kept_cards[key] = (version, card)


def why_text(reasons: Sequence[dict[str, object]], *, language: str | None = None) -> str:
    """'Diffusion models: diffusion, t2i (text to image), strong · your filter: video, in
    passing' — the card's why."""
    parts: list[str] = []
    for reason in reasons:
        words = match_words_text(reason, language=language)
        kind, label = reason.get("kind"), str(reason.get("label") or "")
        if kind == "topic":
            part = f"{label}: {words}" if words else label
        elif kind == "query":
            part = (
                _("your filter: %(words)s", language) % {"words": words}
                if words
                else _("your filter", language)
            )
        elif kind == "category":
            part = _("your categories: %(categories)s", language) % {"categories": label}
        elif kind == "author":
            part = _("author %(name)s", language) % {"name": label}
        elif kind == "recommended":  # personalisation: outside the reader's filters
            part = (
                _("Recommended for you: like “%(title)s”", language) % {"title": shorten(label, 90)}
                if label
                else _("Recommended for you", language)
            )
        else:
            continue
        if part not in parts:
            parts.append(part)
    return " · ".join(parts)


def match_words_text(reason: dict[str, object], *, language: str | None = None) -> str:
    """The words of one reason, and whether they matched strongly or in passing."""
    words = ", ".join(str(word) for word in reason.get("words") or [])
    strength = reason.get("strength")
    if words and strength == "strong":
        return _("%(words)s, strong", language) % {"words": words}
    if words and strength == "passing":
        return _("%(words)s, in passing", language) % {"words": words}
    return words
