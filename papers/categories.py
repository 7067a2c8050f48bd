"""arXiv category names as readers and editors type them: split, validated, deduplicated."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.translation import gettext


class CategoryError(ValueError):
    """Text that is not an arXiv category; the message says what was expected."""


def parse_categories(text: str | Iterable[str]) -> list[str]:
    """arXiv categories from a comma/space separated string (or a list), validated."""
    raw = re.split(r"[\s,;]+", text) if isinstance(text, str) else list(text)
    categories = []
    for item in (part.strip() for part in raw):
        if not item:
            continue
        if not re.fullmatch(r"[a-zA-Z-]+(\.[a-zA-Z-]+)?", item) or len(item) > 20:
            raise CategoryError(
                gettext("“%(text)s” is not an arXiv category like cs.CV.") % {"text": item[:40]}
            )
        categories.append(item)
    return list(dict.fromkeys(categories))
