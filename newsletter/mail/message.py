"""One rendered email, as the transport takes it: addresses, subject, both parts, headers."""

from __future__ import annotations

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
