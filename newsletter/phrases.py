"""The fixed words of emails sent by the thousand, translated once per process and language.

Django's gettext looks the active language up in a context-local on every call (~6 µs); a
digest asks for the same few dozen phrases per card, tens of times per email."""

from __future__ import annotations

import functools

from django.utils import translation


def gettext(message: str, language: str | None = None) -> str:
    """translation.gettext(message) in `language` (default: the active one, which costs a
    context-local lookup of its own), remembered."""
    return _translated(language or translation.get_language() or "", message)


@functools.lru_cache(maxsize=1024)
def _translated(language: str, message: str) -> str:
    if not language:
        return translation.gettext(message)
    with translation.override(language):
        return translation.gettext(message)
