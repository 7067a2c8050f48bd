"""Sign-ups and "email me a link" as one task each: the web request does the same work for
every address, and only the worker looks the address up (its timing tells nothing)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import transaction
from django.db.utils import InterfaceError, OperationalError

from newsletter import services
from newsletter.forms import Filters, Preferences
from newsletter.models import ImportedPaper, Topic
from newsletter.paper_imports import ImportRecord
from newsletter.services import LikedPapers

# A lost database connection is retried: the visitor was already told to check their inbox.
DB_RETRY = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": 5}


def preferences_payload(preferences: Preferences) -> dict[str, Any]:
    """Validated preferences as JSON for the task (topics by id)."""
    filters = preferences.filters
    return {
        "topic_ids": [topic.pk for topic in filters.topics],
        "own_query": filters.own_query,
        "categories": list(filters.categories),
        "authors": list(filters.authors),
        "include_cross_lists": filters.include_cross_lists,
        "frequency": preferences.frequency,
        "send_hour_local": preferences.send_hour_local,
        "time_zone": preferences.time_zone,
        "max_papers": preferences.max_papers,
        "language": preferences.language,
    }


def preferences_from_payload(payload: dict[str, Any]) -> Preferences:
    """The preferences back, in the worker; a topic retired since the form was sent is dropped."""
    topics = Topic.objects.filter(is_active=True, pk__in=payload["topic_ids"]).order_by("pk")
    return Preferences(
        filters=Filters(
            topics=tuple(topics),
            own_query=payload["own_query"],
            categories=tuple(payload["categories"]),
            authors=tuple(payload["authors"]),
            include_cross_lists=payload["include_cross_lists"],
        ),
        frequency=payload["frequency"],
        send_hour_local=payload["send_hour_local"],
        time_zone=payload["time_zone"],
        max_papers=payload["max_papers"],
        language=payload["language"],
    )


def liked_payload(liked: LikedPapers) -> dict[str, Any]:
    """The papers a visitor said they like (cold start) as JSON for the task."""
    return {
        "imported": [
            [record.origin, record.arxiv_id, record.title, record.abstract]
            for record in liked.imported
        ],
        "up_ids": list(liked.up_ids),
        "down_ids": list(liked.down_ids),
    }


def liked_from_payload(payload: dict[str, Any]) -> LikedPapers:
    return LikedPapers(
        imported=tuple(
            ImportRecord(
                origin=ImportedPaper.Origin(origin), arxiv_id=arxiv_id, title=title, abstract=text
            )
            for origin, arxiv_id, title, text in payload["imported"]
        ),
        up_ids=tuple(payload["up_ids"]),
        down_ids=tuple(payload["down_ids"]),
    )


@shared_task(**DB_RETRY)
def handle_signup(
    email: str, preferences: dict[str, Any], liked: dict[str, Any] | None = None
) -> str:
    """Twice is safe: the second run finds the row the first made and at most sends another
    copy of an equally valid link, within the address's daily mail cap."""
    outcome = services.subscriber_subscribe(
        email=email,
        preferences=preferences_from_payload(preferences),
        liked=liked_from_payload(liked) if liked else None,
    )
    return outcome.value


@shared_task(**DB_RETRY)
def handle_manage_link_request(email: str) -> str:
    """Twice is safe, as above."""
    return services.subscriber_request_manage_link(email=email).value


def signup_enqueue(
    *, email: str, preferences: Preferences, liked: LikedPapers | None = None
) -> None:
    """Hand a sign-up to the worker, whatever the address: new, known, or suppressed."""
    payload = preferences_payload(preferences)
    liked_papers = liked_payload(liked) if liked and not liked.is_empty else None
    transaction.on_commit(lambda: handle_signup.delay(email, payload, liked_papers))


def manage_link_request_enqueue(*, email: str) -> None:
    """Hand an "email me a link" to the worker, whatever the address."""
    transaction.on_commit(lambda: handle_manage_link_request.delay(email))
