"""Dates as each language writes them: "Tuesday 1 December 2026", "2026年12月1日 星期二"."""

from __future__ import annotations

import datetime as dt
import functools

from django.utils import translation
from django.utils.dateformat import format as date_format

# Django's named formats can't hold these (its zh_Hans month names make "1 十二月 2026" of an
# English pattern), so each style has its own pattern per language.
FORMATS: dict[str, dict[str, str]] = {
    "en": {
        "long": "l j F Y",
        "medium": "D j M Y",
        "short": "D j M",
        "day": "j M Y",
        "day_month": "j M",
    },
    "zh-hans": {
        "long": "Y年n月j日 l",
        "medium": "Y年n月j日 D",
        "short": "n月j日 D",
        "day": "Y年n月j日",
        "day_month": "n月j日",
    },
}


def _patterns(language: str | None) -> dict[str, str]:
    language = (language or translation.get_language() or "en").lower()
    return FORMATS.get(language, FORMATS["zh-hans" if language.startswith("zh") else "en"])


def local_date(day: dt.date, style: str, *, language: str | None = None) -> str:
    """`day` in one of FORMATS' styles, in `language` (default: the active one)."""
    return _local_date(day, style, language or translation.get_language() or "en")


@functools.lru_cache(maxsize=1024)
def _local_date(day: dt.date, style: str, language: str) -> str:
    # Every digest of a day writes the same few dates: format each once per process.
    with translation.override(language):
        return date_format(day, _patterns(language)[style])


def week_span(first: dt.date, last: dt.date, *, language: str | None = None) -> str:
    """The days a weekly digest covers: "23–29 Nov", "30 Nov – 6 Dec", "11月23日至29日"."""
    language = language or translation.get_language() or "en"
    chinese = _patterns(language) is FORMATS["zh-hans"]
    if first == last:
        return local_date(first, "day_month", language=language)
    if first.year != last.year:
        start, end = (local_date(d, "day", language=language) for d in (first, last))
    elif first.month != last.month:
        start, end = (local_date(d, "day_month", language=language) for d in (first, last))
    elif chinese:
        return f"{local_date(first, 'day_month', language=language)}至{last.day}日"
    else:
        return f"{first.day}–{local_date(last, 'day_month', language=language)}"
    return f"{start}至{end}" if chinese else f"{start} – {end}"
