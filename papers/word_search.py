"""The admin's paper search over a year of papers: word prefixes on one full-text index.

A substring search reads every abstract (a year is ~250,000 papers, seconds a page); the
words of title, abstract and authors are indexed once (GIN, PostgreSQL only: migration
papers/0009) and each typed word matches the words it starts ("diffus" finds "diffusion").
Elsewhere (SQLite, the demo) the admin's own substring search stays.
"""

from __future__ import annotations

import re

from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

# Must stay the indexed expression, character for character, or the index is not used.
PAPER_WORDS = "to_tsvector('simple'::regconfig, title || ' ' || abstract || ' ' || authors_text)"
WORD = re.compile(r"\w+")


def word_prefix_query(term: str) -> str:
    """'Diffusion  models!' -> 'diffusion:* & models:*' (tsquery syntax; words only)."""
    return " & ".join(f"{word}:*" for word in WORD.findall(term.lower()))


def papers_with_words(queryset: QuerySet, term: str) -> QuerySet | None:
    """Papers whose title, abstract or authors have a word starting with each typed word;
    None where the index does not exist (not PostgreSQL) or the term has no word."""
    query = word_prefix_query(term)
    if not query or connections[queryset.db].vendor != "postgresql":
        return None
    found = RawSQL(f"{PAPER_WORDS} @@ to_tsquery('simple'::regconfig, %s)", [query], BooleanField())
    return queryset.filter(found)
