"""Signed, salted, expiring links: one salt per purpose, so no token works for another action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from django.conf import settings
from django.core import signing
from django.db.models import Model, QuerySet
from django.urls import reverse

Row = TypeVar("Row", bound=Model)


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    VIEW_DIGEST = "view-digest"
    FEED = "feed"
    RATE = "rate"


# None: the link works as long as the subscriber exists (RFC 8058 asks unsubscribe to keep working).
MAX_AGE: dict[Purpose, timedelta | None] = {
    Purpose.CONFIRM: timedelta(hours=48),
    Purpose.MANAGE: timedelta(days=60),
    Purpose.UNSUBSCRIBE: None,
    Purpose.VIEW_DIGEST: timedelta(days=90),
    Purpose.FEED: None,
    # A reader may rate a paper from an old digest; a year, then the link dies.
    Purpose.RATE: timedelta(days=365),
}

URL_NAMES: dict[Purpose, str] = {
    Purpose.CONFIRM: "newsletter:confirm",
    Purpose.MANAGE: "newsletter:manage",
    Purpose.UNSUBSCRIBE: "newsletter:unsubscribe",
    Purpose.VIEW_DIGEST: "newsletter:view_digest",
    Purpose.FEED: "newsletter:feed",
    Purpose.RATE: "newsletter:rate",
}


class BadToken(Exception):
    """Tampered with, expired, or made for another purpose: the link does nothing."""


@dataclass(frozen=True)
class TokenClaims:
    subject_id: int
    email: str
    paper_id: int | None = None


def make_token(
    *, purpose: Purpose, subject_id: int, email: str, paper_id: int | None = None
) -> str:
    """A token naming one row (a subscriber, or a digest for VIEW_DIGEST) and its address,
    and for RATE the paper too (so a link rates that reader's vote on that paper only).

    The address is signed in so a token dies with the subscription it was made for.
    """
    signer = signing.TimestampSigner(salt=f"paperboy.{purpose}")
    payload: dict[str, object] = {"id": subject_id, "e": email.lower()}
    if paper_id is not None:
        payload["p"] = paper_id
    return signer.sign_object(payload, compress=True)


def read_token(token: str, *, purpose: Purpose) -> TokenClaims:
    signer = signing.TimestampSigner(salt=f"paperboy.{purpose}")
    max_age = MAX_AGE[purpose]
    try:
        payload = signer.unsign_object(token, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken(str(error)) from error
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
        raise BadToken("malformed payload")
    paper_id = payload.get("p")
    if paper_id is not None and not isinstance(paper_id, int):
        raise BadToken("malformed payload")
    return TokenClaims(subject_id=payload["id"], email=str(payload.get("e", "")), paper_id=paper_id)


def signed_url(
    *, purpose: Purpose, subject_id: int, email: str, url_name: str | None = None
) -> str:
    """The absolute URL of a signed link, for emails (`url_name`: another page the same
    token opens, such as a digest's "more" page)."""
    token = make_token(purpose=purpose, subject_id=subject_id, email=email)
    return settings.SITE_URL + reverse(url_name or URL_NAMES[purpose], args=[token])


def row_from_token(
    token: str, *, purpose: Purpose, rows: QuerySet[Row], email_of: Callable[[Row], str]
) -> Row:
    """The row a signed link names, or BadToken if the link is forged, expired or stale (the
    row is gone, or its address is no longer the one the link was made for)."""
    claims = read_token(token, purpose=purpose)
    row = rows.filter(pk=claims.subject_id).first()
    if row is None or email_of(row).lower() != claims.email:
        raise BadToken("no such link target")
    return row
