"""The MIME bytes of an email, built by hand (multipart/alternative, quoted-printable, CRLF)."""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
import time
from collections.abc import Sequence
from email.utils import formatdate, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import sanitize_address

from newsletter.mail.dkim import dkim_signed
from newsletter.mail.message import DigestEmail


class HeaderInjection(ValueError):
    """A value meant for one header holds a line break."""


def header_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection("line break in a header value")
    return value


def _encoded(value: str) -> str:
    """RFC 2047 for non-ASCII text (the subject's em dash): base64 encoded-words of at most
    45 bytes each (a 76-character line), never splitting a character. email.header.Header
    does the same in ~0.9 ms; this takes a few microseconds."""
    header_value(value)
    if value.isascii() and len(value) < 900:
        return value
    data, words = value.encode(), []
    while len(data) > 45:
        cut = 45
        while data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the character's middle
            cut -= 1
        words.append(data[:cut])
        data = data[cut:]
    words.append(data)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


@functools.cache
def _from_header(from_email: str) -> tuple[str, str]:
    return sanitize_address(from_email, "utf-8"), parseaddr(from_email)[1]


@functools.lru_cache(maxsize=2)
def _date_header(second: int) -> str:
    return formatdate(second, usegmt=True)  # a batch sends hundreds of emails a second


def envelope_sender() -> str:
    return _from_header(settings.DEFAULT_FROM_EMAIL)[1]


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if not body.endswith("\r\n"):
        body += "\r\n"
    encoded = binascii.b2a_qp(body.encode(), quotetabs=False, istext=True, header=False)
    if b"=20\r\n" in encoded or b"=09\r\n" in encoded:
        return _within_line_limit(encoded)
    return encoded


def _within_line_limit(encoded: bytes) -> bytes:
    """b2a_qp can make a 77-character line: 74 characters, then the line's last space or
    tab encoded ("=20"). Such a line is broken before that escape."""
    lines = encoded.split(b"\r\n")
    for number, line in enumerate(lines):
        if len(line) > QP_LINE_CHARS:
            lines[number] = line[:-3] + b"=\r\n" + line[-3:]
    return b"\r\n".join(lines)


def _qp_parts(parts: Sequence[tuple[str, bool]]) -> bytes:
    """Quoted-printable of the parts joined, with each shared part (a card, the layout
    between cards) encoded once per process.

    Any valid encoding decodes the same, so each piece is encoded on its own: one that does
    not end a line ends with a soft line break ("=" CRLF, which decoding removes), and the
    next starts at the line's beginning. Short shared parts join the reader's text around
    them instead (a soft break costs 3 bytes)."""
    encoded: list[bytes] = []
    pending: list[str] = []
    for text, shared in parts:
        if shared and len(text) >= SHARED_PIECE_CHARS:
            if pending:
                encoded.append(_qp_piece("".join(pending)))
                pending = []
            encoded.append(_qp_shared_piece(text))
        else:
            pending.append(text)
    rest = "".join(pending)
    if rest or not encoded:
        encoded.append(_qp(rest))
    elif encoded[-1].endswith(b"=\r\n"):  # the part ends as _qp ends it: with a line end
        encoded[-1] = encoded[-1][:-3] + b"\r\n"
    return b"".join(encoded)


SHARED_PIECE_CHARS = 64
QP_LINE_CHARS = 76  # RFC 2045: encoded lines of at most 76 characters, "=" included


def _qp_piece(text: str) -> bytes:
    """Quoted-printable of text in the middle of a part, starting at a line's beginning:
    ending with a soft line break unless the text ends a line itself."""
    if not text:
        return b""
    if text.endswith("\n"):
        return _qp(text)
    encoded = _qp(text + "\n")[:-2]  # with a line break at the end, soft breaks are CRLF too
    last_line = len(encoded) - encoded.rfind(b"\n") - 1
    if last_line >= QP_LINE_CHARS:  # no room for the "=": break the line earlier
        cut = len(encoded) - 3
        while b"=" in encoded[cut - 2 : cut]:  # never inside an "=XX" escape
            cut -= 1
        encoded = encoded[:cut] + b"=\r\n" + encoded[cut:]
    return encoded + b"=\r\n"


_qp_shared_piece = functools.lru_cache(maxsize=8192)(_qp_piece)  # ~4,000 cards in two languages


def mime_bytes(email: DigestEmail, *, date: str | None = None) -> bytes:
    """multipart/alternative (text + HTML, quoted-printable, UTF-8) in CRLF form.

    Written by hand: Python's email package spends ~3.5 ms per digest building the same
    bytes, more than sending them costs. '=' is always encoded in quoted-printable, so a
    boundary starting with '=_' can never occur in a body.
    """
    from_header, _sender = _from_header(settings.DEFAULT_FROM_EMAIL)
    to = email.to if email.to.isascii() else sanitize_address(email.to, "utf-8")
    boundary = "=_pb_" + secrets.token_hex(12)
    headers = [
        f"From: {from_header}",
        f"To: {header_value(to)}",
        f"Subject: {_encoded(email.subject)}",
        f"Date: {date or _date_header(int(time.time()))}",
        f"Message-ID: {header_value(email.message_id)}",
    ]
    for name, value in email.headers.items():
        value = header_value(value)
        if name == "List-Unsubscribe":
            value = value.replace(">, <", ">,\r\n <")  # fold: each URI on its own line
        headers.append(f"{name}: {value}")
    headers += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"']
    head = ("\r\n".join(headers) + "\r\n\r\n").encode()
    part = (
        f"--{boundary}\r\nContent-Type: text/%s; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    message = b"".join(
        [
            head,
            (part % "plain").encode(),
            _encoded_part(email.text, email.text_parts),
            (part % "html").encode(),
            _encoded_part(email.html, email.html_parts),
            f"--{boundary}--\r\n".encode(),
        ]
    )
    if settings.DKIM_PRIVATE_KEY_PATH:
        message = dkim_signed(message)
    return message


def _encoded_part(text: str, parts: Sequence[tuple[str, bool]]) -> bytes:
    # "\r" could let a CRLF straddle two parts (cards and templates have none: a fallback)
    if parts and "\r" not in text:
        return _qp_parts(parts)
    return _qp(text)


def django_message(email: DigestEmail) -> EmailMultiAlternatives:
    """The same email for any other Django backend (files, memory, an ESP via anymail)."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id, **email.headers},
    )
    message.attach_alternative(email.html, "text/html")
    return message
