"""Reads of the newsletter app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from newsletter.matching import PaperIndex, QuerySyntaxError, parse_query
from newsletter.models import Subscriber, Topic
from newsletter.signing import BadToken, Purpose, read_token
from papers.selectors import indexed_papers

RECENT_DAYS = 7


def subscriber_from_token(token: str, *, purpose: Purpose) -> Subscriber:
    """The subscriber a signed link names, or BadToken if it is forged, expired or stale."""
    claims = read_token(token, purpose=purpose)
    subscriber = Subscriber.objects.filter(pk=claims.subject_id).first()
    if subscriber is None or subscriber.email.lower() != claims.email:
        raise BadToken("no such subscriber")
    return subscriber


def recent_paper_index(*, today: dt.date, days: int = RECENT_DAYS) -> PaperIndex:
    """One index of the visible papers announced in the `days` days up to `today`."""
    since = today - dt.timedelta(days=days - 1)
    return PaperIndex.build(indexed_papers(since=since, until=today))


def topic_paper_ids(*, topics: Iterable[Topic], index: PaperIndex) -> dict[int, frozenset[int]]:
    """Per topic id, the indexed papers it matches.

    Query and categories together: papers satisfying the query AND in one of the categories;
    only categories: every paper in them; only a query: every paper satisfying it.
    """
    matches: dict[int, frozenset[int]] = {}
    for topic in topics:
        found: frozenset[int] | None = None
        if topic.query.strip():
            try:
                found = index.search(parse_query(topic.query))
            except QuerySyntaxError:
                found = frozenset()  # admin refuses such queries; an old row matches nothing
        if topic.categories:
            in_categories = index.in_categories(topic.categories)
            found = in_categories if found is None else found & in_categories
        matches[topic.pk] = found or frozenset()
    return matches
