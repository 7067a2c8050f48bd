"""What a digest's subject and header say: what matched most, what else did (topics, filters,
authors, each by its name), and the day or, for a weekly reader, the week it covers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils import translation
from django.utils.translation import ngettext

from newsletter.models import Subscriber
from newsletter.phrases import gettext as _
from papers.dates import local_date, week_span

Reasons = Sequence[tuple[int, list[dict[str, object]]]]


def _kind(reason: dict[str, object]) -> str:
    return "filter" if reason.get("kind") in ("query", "category") else str(reason.get("kind"))


def subject_about(items: Reasons) -> tuple[str, str]:
    """("by Wang Hao", "and 1 more filter"): what most papers matched, and the rest by kind."""
    counts: dict[tuple[str, str], int] = {}
    for _paper_id, reasons in items:
        for reason in reasons:
            if reason.get("kind") == "recommended":
                continue  # personalisation: the subject names what the reader chose
            kind = _kind(reason)
            key = (kind, "" if kind == "filter" else str(reason.get("label") or ""))
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "", ""
    (kind, label), _count = max(counts.items(), key=lambda entry: entry[1])
    if kind == "topic":
        about = _("on %(topic)s") % {"topic": label}
    elif kind == "author":
        about = _("by %(author)s") % {"author": label}
    else:
        about = _("matching your filter")
    others = {"topic": 0, "filter": 0, "author": 0}
    for other_kind, _label in counts.keys() - {(kind, label)}:
        others[other_kind] = others.get(other_kind, 0) + 1
    phrases = [
        ngettext(singular, plural, count) % {"count": count}
        for singular, plural, count in (
            ("%(count)d more topic", "%(count)d more topics", others["topic"]),
            ("%(count)d more filter", "%(count)d more filters", others["filter"]),
            ("%(count)d more author", "%(count)d more authors", others["author"]),
        )
        if count
    ]
    if not phrases:
        return about, ""
    return about, _("and %(others)s") % {"others": _(", ").join(phrases)}


def is_weekly(subscriber: Subscriber) -> bool:
    return subscriber.frequency == Subscriber.Frequency.WEEKLY


def edition_label(
    *, subscriber: Subscriber, edition_on: dt.date, covers: tuple[dt.date, dt.date] | None
) -> str:
    """The subject's date: "Tue 1 Dec", or the week a weekly digest covers, "23–29 Nov"."""
    if is_weekly(subscriber) and covers is not None:
        return week_span(*covers)
    return local_date(edition_on, "short")


def digest_heading(
    *,
    subscriber: Subscriber,
    edition_on: dt.date,
    covers: tuple[dt.date, dt.date] | None,
    paper_count: int,
    more_count: int,
) -> str:
    """'Tuesday 1 December 2026 · 10 papers · 4 more on the web', or for a weekly reader
    'Week of 23–29 Nov · 10 papers': the header line."""
    language = translation.get_language() or "en"
    if is_weekly(subscriber) and covers is not None:
        when = _("Week of %(days)s") % {"days": week_span(*covers, language=language)}
    else:
        when = local_date(edition_on, "long", language=language)
    parts = [when]
    if paper_count:  # an email of follow-ups alone has none
        parts.append(
            ngettext("%(count)d paper", "%(count)d papers", paper_count) % {"count": paper_count}
        )
    if more_count:
        parts.append(
            ngettext("%(count)d more on the web", "%(count)d more on the web", more_count)
            % {"count": more_count}
        )
    return " · ".join(parts)
