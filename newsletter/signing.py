"""Signed, salted, expiring, opaque links: one salt per purpose, so no token works for another
action, and no token shows whose it is."""

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
from django.utils.crypto import constant_time_compare, salted_hmac

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


def address_tag(email: str) -> str:
    """A keyed hash of the address: binds a token to it without showing it (96 bits)."""
    digest = salted_hmac("paperboy.signing.address", email.lower(), algorithm="sha256").digest()
    return signing.b64_encode(digest[:12]).decode()


@dataclass(frozen=True)
class TokenClaims:
    subject_id: int
    address_tag: str
    paper_id: int | None = None

    def names(self, email: str) -> bool:
        """Whether the token was made for this address (a reused id never inherits a link)."""
        return constant_time_compare(self.address_tag, address_tag(email))


def make_token(
    *, purpose: Purpose, subject_id: int, email: str, paper_id: int | None = None
) -> str:
    """A token naming one row (a subscriber, or a digest for VIEW_DIGEST) and, by a keyed
    hash, its address, and for RATE the paper too (so a link rates that reader's vote on
    that paper only): a token dies with the subscription it was made for, and a forwarded
    or logged link tells nobody the address."""
    signer = signing.TimestampSigner(salt=f"paperboy.{purpose}")
    payload: dict[str, object] = {"id": subject_id, "a": address_tag(email)}
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
    if isinstance(payload.get("a"), str):
        tag = payload["a"]
    elif isinstance(payload.get("e"), str):
        # Links made before tokens were opaque carry the address itself; they keep working
        # for the rest of their lifetime.
        tag = address_tag(payload["e"])
    else:
        raise BadToken("malformed payload")
    return TokenClaims(subject_id=payload["id"], address_tag=tag, paper_id=paper_id)


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
    if row is None or not claims.names(email_of(row)):
        raise BadToken("no such link target")
    return row
