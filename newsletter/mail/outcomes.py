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


_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})")


def classify(code: int, message: bytes | str) -> Delivery:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    detail = f"{code} {text}".strip()[:500]
    if 200 <= code < 300:
        return Delivery(Outcome.ACCEPTED, detail)
    if code >= 500:
        enhanced = _ENHANCED.match(text)
        if enhanced and enhanced.group(1) == "5" and enhanced.group(2) == "1":
            return Delivery(Outcome.BAD_MAILBOX, detail)
        return Delivery(Outcome.REJECTED, detail)
    return Delivery(Outcome.TEMPORARY, detail)
