"""The admin's topic check: a topic's recent matches split by strength, and its near misses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from newsletter.matching import PaperIndex, Query, QuerySyntaxError, Term, parse_query
from newsletter.models import Topic


@dataclass(frozen=True)
class NearMiss:
    """A recent paper just outside the topic, and what kept it out."""

    paper_id: int
    reason: str


@dataclass(frozen=True)
class TopicCheck:
    """Paper ids in display order: what the topic takes, what it takes or leaves by strength,
    and what it only just misses."""

    strong: tuple[int, ...]
    passing: tuple[int, ...]
    passing_kept: bool  # False when the topic demands a strong match
    near_misses: tuple[NearMiss, ...]
    categories_only: bool = False
    error: str = ""


def topic_check(*, topic: Topic, index: PaperIndex, order: Sequence[int]) -> TopicCheck:
    """What `topic` makes of the indexed papers, listed in `order`.

    Near misses are papers the topic leaves out for one reason: a passing mention when it
    demands a strong match, every part of the query but one, one of its excluded terms, or
    not being in its categories.
    """
    in_categories = index.in_categories(topic.categories) if topic.categories else None
    if not topic.query.strip():
        found = in_categories or frozenset()
        return TopicCheck(ranked(found, order), (), True, (), categories_only=True)
    try:
        query = parse_query(topic.query)
        index.check_cost(query)
    except QuerySyntaxError as error:
        return TopicCheck((), (), True, (), error=str(error))
    split = index.matches(query)
    strong, passing = split.strong, split.passing
    if in_categories is not None:
        strong, passing = strong & in_categories, passing & in_categories
    misses: dict[int, str] = {}
    if topic.require_strong_match:
        note = _("only a passing mention, and the topic demands a strong match")
        misses.update(dict.fromkeys(passing, note))
    for paper_id, reason in _missing_one_part(query, index):
        misses.setdefault(paper_id, reason)
    for paper_id, reason in _excluded(query, index):
        misses.setdefault(paper_id, reason)
    if in_categories is not None:
        note = _("matches the query but is not in %(categories)s") % {
            "categories": ", ".join(topic.categories)
        }
        misses.update(dict.fromkeys(split.all - in_categories, note))
    near = tuple(NearMiss(paper_id, misses[paper_id]) for paper_id in order if paper_id in misses)
    return TopicCheck(
        strong=ranked(strong, order),
        passing=ranked(passing, order),
        passing_kept=not topic.require_strong_match,
        near_misses=near,
    )


def ranked(ids: Iterable[int], order: Sequence[int]) -> tuple[int, ...]:
    wanted = frozenset(ids)
    return tuple(paper_id for paper_id in order if paper_id in wanted)


def _group_papers(group: Sequence[Term], index: PaperIndex) -> frozenset[int]:
    return frozenset().union(*(index.term_papers(term) for term in group))


def _missing_one_part(query: Query, index: PaperIndex) -> Iterable[tuple[int, str]]:
    """Papers with every required part of the query but one (for queries of two parts or more)."""
    if len(query.required) < 2:
        return
    groups = [_group_papers(group, index) for group in query.required]
    excluded = frozenset().union(*(index.term_papers(term) for term in query.excluded))
    for number, group in enumerate(query.required):
        others = [papers for other, papers in enumerate(groups) if other != number]
        lacking = frozenset.intersection(*others) - groups[number] - excluded
        reason = _("has the rest of the query but not “%(words)s”") % {
            "words": " OR ".join(term.display for term in group)
        }
        for paper_id in lacking:
            yield paper_id, reason


def _excluded(query: Query, index: PaperIndex) -> Iterable[tuple[int, str]]:
    """Papers that match the query's required parts but carry one of its excluded terms."""
    if not query.excluded:
        return
    required = frozenset.intersection(*(_group_papers(group, index) for group in query.required))
    for term in query.excluded:
        reason = _("left out by -%(term)s") % {"term": term.spelling}
        for paper_id in required & index.term_papers(term):
            yield paper_id, reason
