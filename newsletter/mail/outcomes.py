"""What a mail server's answer means: accepted, try again, bad mailbox, or rejected."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    TEMPORARY = "temporary"  # 4xx, or the connection broke: maybe delivered, try again
    BAD_MAILBOX = "bad_mailbox"  # 5.1.x: the address does not exist; suppress at once
    REJECTED = "rejected"  # any other 5xx: a soft bounce, counted


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    detail: str = ""


class RelayUnavailable(Exception):
    """The mail server cannot be reached at all: nobody's fault, nothing is counted."""


_ENHANCED = re.compile(r"^\s*[245]\.\d{1,3}\.\d{1,3}")
# RFC 3463 5.1.x: the destination mailbox does not exist or cannot take mail. The one rule for
# SMTP answers and for providers' bounce webhooks alike.
_BAD_MAILBOX = re.compile(r"\b5\.1\.\d{1,3}\b")


def is_bad_mailbox(text: str) -> bool:
    """Whether a status text names a bad mailbox (5.1.x), the address to suppress at once."""
    return bool(_BAD_MAILBOX.search(text))


def classify(code: int, message: bytes | str) -> Delivery:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    detail = f"{code} {text}".strip()[:500]
    if 200 <= code < 300:
        return Delivery(Outcome.ACCEPTED, detail)
    if code >= 500:
        enhanced = _ENHANCED.match(text)
        if enhanced and is_bad_mailbox(enhanced.group(0)):
            return Delivery(Outcome.BAD_MAILBOX, detail)
        return Delivery(Outcome.REJECTED, detail)
    return Delivery(Outcome.TEMPORARY, detail)
