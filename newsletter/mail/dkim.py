"""DKIM signatures over the headers mailbox providers check."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

DKIM_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
)


@functools.cache
def _dkim_key(path: str) -> bytes:
    return Path(path).read_bytes()


def dkim_signed(message: bytes) -> bytes:
    """Prepend a DKIM-Signature covering From, Subject, Message-ID and both unsubscribe
    headers (Gmail and Yahoo require the one-click header to be signed)."""
    import dkim

    signature = dkim.sign(
        message,
        settings.DKIM_SELECTOR.encode(),
        settings.DKIM_DOMAIN.encode(),
        _dkim_key(settings.DKIM_PRIVATE_KEY_PATH),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(DKIM_HEADERS),
        linesep=b"\r\n",
    )
    return signature + message
