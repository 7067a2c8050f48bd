"""Signed, expiring, opaque links: one key per purpose, so no token works for another action,
and no token shows whose it is."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from django.conf import settings
from django.core import signing
from django.db.models import Model, QuerySet
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.crypto import salted_hmac

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
    return signing.b64_encode(_address_digest(email.lower(), settings.SECRET_KEY)).decode()


@functools.lru_cache(maxsize=1024)
def _address_digest(email: str, secret: str) -> bytes:
    # An email carries one token per card, all for the same address: hash it once.
    return salted_hmac("paperboy.signing.address", email, secret, algorithm="sha256").digest()[:12]


def _signer(purpose: Purpose) -> signing.TimestampSigner:
    return _signer_for(purpose, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


@functools.lru_cache(maxsize=32)
def _signer_for(
    purpose: Purpose, key: str, fallback_keys: tuple[str, ...]
) -> signing.TimestampSigner:
    return signing.TimestampSigner(
        key=key,
        fallback_keys=list(fallback_keys),
        salt=f"paperboy.{purpose}",
    )


@dataclass(frozen=True)
class TokenClaims:
    subject_id: int
    address_tag: bytes  # the first bytes of _address_digest: 12 in old links, 6 in compact ones
    issued_at: int  # seconds since the epoch
    paper_id: int | None = None

    def names(self, email: str) -> bool:
        """Whether the token was made for this address (a reused id never inherits a link),
        under the current secret key or one it replaced."""
        if len(self.address_tag) < ADDRESS_TAG_BYTES:
            return False
        size, address = len(self.address_tag), email.lower()
        return any(
            hmac.compare_digest(self.address_tag, _address_digest(address, key)[:size])
            for key in _secret_keys()
        )


def _secret_keys() -> list[str]:
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


# Compact tokens: URL-safe base64 (no padding) of
#   version (1 byte) | issued at (4 bytes, big-endian seconds) | address tag (6 bytes)
#   | subject id | [paper id]        (each id: its length in 1 byte, then big-endian bytes)
#   | HMAC-SHA256 of all of the above, truncated to 16 bytes
# with one HMAC key per purpose (so no token works for another action). Old tokens
# (Django's TimestampSigner, "payload:time:signature") hold ':' and keep working until they
# expire; compact ones never do.
TOKEN_VERSION = 1
ADDRESS_TAG_BYTES = 6
MAC_BYTES = 16
_HEAD_BYTES = 1 + 4 + ADDRESS_TAG_BYTES
_TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


class TokenMaker:
    """The tokens of one purpose for one subject and address, made with the same second:
    what they share is hashed once, so each token costs one HMAC over its paper id."""

    def __init__(self, *, purpose: Purpose, subject_id: int, email: str) -> None:
        tag = _address_digest(email.lower(), settings.SECRET_KEY)[:ADDRESS_TAG_BYTES]
        head = struct.pack(">BI", TOKEN_VERSION, int(time.time())) + tag + _id_bytes(subject_id)
        self._head = head
        self._mac = _token_mac(purpose, settings.SECRET_KEY).copy()
        self._mac.update(head)

    def token(self, paper_id: int | None = None) -> str:
        mac = self._mac
        body = self._head
        if paper_id is not None:
            mac = mac.copy()
            paper = _id_bytes(paper_id)
            mac.update(paper)
            body += paper
        raw = body + mac.digest()[:MAC_BYTES]
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _id_bytes(number: int) -> bytes:
    size = (number.bit_length() + 7) // 8 or 1
    return bytes((size,)) + number.to_bytes(size, "big")


@functools.lru_cache(maxsize=64)
def _token_mac(purpose: Purpose, key: str) -> hmac.HMAC:
    """The keyed HMAC of a purpose, ready to be copied (keying costs two hash blocks)."""
    purpose_key = hmac.digest(key.encode(), f"paperboy.link-token.{purpose}".encode(), "sha256")
    return hmac.new(purpose_key, digestmod=hashlib.sha256)


def make_token(
    *, purpose: Purpose, subject_id: int, email: str, paper_id: int | None = None
) -> str:
    """A token naming one row (a subscriber, or a digest for VIEW_DIGEST) and, by a keyed
    hash, its address, and for RATE the paper too (so a link rates that reader's vote on
    that paper only): a token dies with the subscription it was made for, and a forwarded
    or logged link tells nobody the address."""
    return TokenMaker(purpose=purpose, subject_id=subject_id, email=email).token(paper_id)


def read_token(token: str, *, purpose: Purpose) -> TokenClaims:
    """The claims of a token this site signed for `purpose` and that has not expired, or
    BadToken."""
    claims = _read_old_token(token, purpose) if ":" in token else _read_compact(token, purpose)
    max_age = MAX_AGE[purpose]
    if max_age is not None and time.time() - claims.issued_at > max_age.total_seconds():
        raise BadToken("expired")
    return claims


def _read_compact(token: str, purpose: Purpose) -> TokenClaims:
    if not _TOKEN_ALPHABET.fullmatch(token):
        raise BadToken("not a token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError) as error:
        raise BadToken(str(error)) from error
    # One spelling per token: unused bits of the last character must not make a second one.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        raise BadToken("not a token")
    body, signature = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if len(body) <= _HEAD_BYTES or body[0] != TOKEN_VERSION:
        raise BadToken("not a token")
    if not any(_signature_matches(purpose, key, body, signature) for key in _secret_keys()):
        raise BadToken("bad signature")
    ids, position = [], _HEAD_BYTES
    while position < len(body):
        size = body[position]
        ids.append(int.from_bytes(body[position + 1 : position + 1 + size], "big"))
        position += 1 + size
    if position != len(body) or len(ids) not in (1, 2):
        raise BadToken("malformed payload")
    return TokenClaims(
        subject_id=ids[0],
        address_tag=body[5:_HEAD_BYTES],
        issued_at=struct.unpack(">I", body[1:5])[0],
        paper_id=ids[1] if len(ids) == 2 else None,
    )


def _signature_matches(purpose: Purpose, key: str, body: bytes, signature: bytes) -> bool:
    mac = _token_mac(purpose, key).copy()
    mac.update(body)
    return hmac.compare_digest(mac.digest()[:MAC_BYTES], signature)


def _read_old_token(token: str, purpose: Purpose) -> TokenClaims:
    """A token made before tokens were compact: Django's TimestampSigner, one salt per purpose."""
    try:
        payload = _signer(purpose).unsign_object(token)
        issued_at = signing.b62_decode(token.rsplit(":", 2)[1])
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken(str(error)) from error
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
        raise BadToken("malformed payload")
    paper_id = payload.get("p")
    if paper_id is not None and not isinstance(paper_id, int):
        raise BadToken("malformed payload")
    if isinstance(payload.get("a"), str):
        try:
            tag = signing.b64_decode(payload["a"].encode())
        except (ValueError, TypeError) as error:
            raise BadToken("malformed payload") from error
    elif isinstance(payload.get("e"), str):
        # Links made before tokens were opaque carry the address itself; they keep working
        # for the rest of their lifetime.
        tag = _address_digest(payload["e"].lower(), settings.SECRET_KEY)
    else:
        raise BadToken("malformed payload")
    return TokenClaims(
        subject_id=payload["id"], address_tag=tag, issued_at=issued_at, paper_id=paper_id
    )


def signed_url(
    *, purpose: Purpose, subject_id: int, email: str, url_name: str | None = None
) -> str:
    """The absolute URL of a signed link, for emails (`url_name`: another page the same
    token opens, such as a digest's "more" page)."""
    token = make_token(purpose=purpose, subject_id=subject_id, email=email)
    return settings.SITE_URL + token_path(url_name or URL_NAMES[purpose], token)


def signed_urls(
    *, purpose: Purpose, subject_id: int, email: str, url_names: Sequence[str]
) -> list[str]:
    """Absolute URLs of several pages that one token opens (a digest and its "more" page)."""
    token = make_token(purpose=purpose, subject_id=subject_id, email=email)
    return [settings.SITE_URL + token_path(url_name, token) for url_name in url_names]


def token_path(url_name: str, token: str) -> str:
    """The site path of the page `url_name` for `token`, as reverse() makes it."""
    before, after = path_around(url_name)
    return f"{before}{token}{after}"


def path_around(url_name: str) -> tuple[str, str]:
    """The site path of the page `url_name` before and after its token (for a run of links
    to one page: the script prefix and urlconf are context-local lookups)."""
    return _path_around(url_name, get_script_prefix(), get_urlconf())


@functools.lru_cache(maxsize=64)
def _path_around(url_name: str, script_prefix: str, urlconf: object) -> tuple[str, str]:
    """The path before and after the token: reverse() once per page, not once per link (it
    cost more than signing the token). Tokens are URL-safe base64, ':' and '.', which
    reverse() leaves unquoted (compact ones are URL-safe base64 alone)."""
    before, after = reverse(url_name, args=["TOKEN"]).split("TOKEN")
    return before, after


def row_from_token(
    token: str, *, purpose: Purpose, rows: QuerySet[Row], email_of: Callable[[Row], str]
) -> Row:
    """The row a signed link names, or BadToken if the link is forged, expired or stale (the
    row is gone, or its address is no longer the one the link was made for)."""
    return row_named(read_token(token, purpose=purpose), rows=rows, email_of=email_of)


def row_named(claims: TokenClaims, *, rows: QuerySet[Row], email_of: Callable[[Row], str]) -> Row:
    """The row a verified token names, or BadToken if it is gone or its address changed."""
    row = rows.filter(pk=claims.subject_id).first()
    if row is None or not claims.names(email_of(row)):
        raise BadToken("no such link target")
    return row
