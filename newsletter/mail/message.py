"""One rendered email, as the transport takes it: addresses, subject, both parts, headers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class DigestEmail:
    """One rendered digest, ready to become MIME (or a Django message for other backends)."""

    to: str
    subject: str
    text: str
    html: str
    message_id: str
    headers: dict[str, str]
    cards_in_email: int
    # `text` and `html` as the parts they were joined from, each flagged whether the same
    # string goes into many emails (a card, the layout): their quoted-printable form is made
    # once. Empty: encode the whole.
    text_parts: Sequence[tuple[str, bool]] = ()
    html_parts: Sequence[tuple[str, bool]] = ()
