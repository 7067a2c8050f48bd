"""Queries that would match nothing or everything: found before they are saved, with a reason."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext as _

from newsletter.matching import Form, PaperIndex, Query, Term, phrase_stems
from newsletter.synonyms import COMMON_WORDS, MAX_RECENT_SHARE, MIN_PAPERS_TO_JUDGE


def query_bounds_problem(query: Query) -> str:
    """Why the query can never match a paper, or would match nearly every one ("" if neither)."""
    for group in query.required:
        blocker = _excluded_by(group, query.excluded)
        if blocker is not None:
            return _(
                "“-%(excluded)s” leaves out every paper “%(required)s” finds: the query would "
                "match nothing."
            ) % {"excluded": blocker.spelling, "required": group[0].spelling}
    if all(_only_common_words(group) for group in query.required):
        return _(
            "“%(query)s” is made only of words in nearly every abstract: it would match almost "
            "every paper. Add a word that says what the topic is about."
        ) % {"query": query.canonical}
    return ""


def topic_breadth_problem(
    query: Query, *, categories: Sequence[str], index: PaperIndex, strong_only: bool
) -> str:
    """Why a topic (query AND categories) would take most recent papers ("" if it would not);
    judged only on an index big enough to say."""
    papers = index.in_categories(categories) if categories else index.paper_ids
    if len(papers) < MIN_PAPERS_TO_JUDGE:
        return ""
    matched = len(index.search(query, strong_only=strong_only) & papers)
    if matched <= MAX_RECENT_SHARE * len(papers):
        return ""
    return _(
        "This query matches %(matched)d of the %(total)d recent papers it looks at: the topic "
        "would send nearly everything. Use words that say what the topic is about."
    ) % {"matched": matched, "total": len(papers)}


def _only_common_words(group: Sequence[Term]) -> bool:
    return all(
        set(term.words) <= COMMON_WORDS
        and all(set(alternative) <= COMMON_WORDS for alternative in term.synonyms)
        for term in group
    )


def _excluded_by(group: Sequence[Term], excluded: Sequence[Term]) -> Term | None:
    """An excluded term that every paper matching one of the group's terms must contain."""
    for blocker in excluded:
        if all(_contains(term, blocker) for term in group):
            return blocker
    return None


def _contains(term: Term, blocker: Term) -> bool:
    """Whether every paper `term` finds also has `blocker` (a sure case, not every case)."""
    if term.synonyms:
        return False  # a synonym may find the paper with other words
    if blocker.in_title and not term.in_title:
        return False  # the term may be in the abstract only
    if blocker.form is Form.WORDS:
        wanted, words = phrase_stems(blocker.words), phrase_stems(term.words)
        if term.form is Form.NEAR:
            return len(wanted) == 1 and wanted[0] in words
    elif blocker.form is Form.EXACT and term.form is Form.EXACT:
        wanted, words = blocker.words, term.words
    else:
        return False
    size = len(wanted)
    return any(words[start : start + size] == wanted for start in range(len(words) - size + 1))
