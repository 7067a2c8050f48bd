"""Sending digests exactly once: claim a batch with row locks and a lease, render each email,
build its MIME by hand, send the batch over one SMTP connection, and record every answer
(sent, retry later, bounce, suppress) the moment the server gives it."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import logging
import re
import secrets
import smtplib
import socket
import ssl
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate, make_msgid, parseaddr
from enum import StrEnum
from pathlib import Path
from queue import Full, Queue
from typing import TypeVar

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.mail.message import sanitize_address
from django.core.mail.utils import DNS_NAME
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.utils import InterfaceError, OperationalError
from django.template import engines
from django.template.backends.django import Template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from newsletter.digests import (
    WINDOW_DAYS,
    BuildResult,
    DigestPlan,
    active_subscriber_ids,
    chunked,
    digests_build,
    due_subscriber_ids,
    lease_length,
    message_id_for,
    preview_plans,
)
from newsletter.emails import base_context, subscriber_links, unsubscribe_headers
from newsletter.models import Digest, DigestItem, Subscriber
from newsletter.rendering import RenderedEmail, render_email
from newsletter.signing import Purpose, make_token
from papers.models import Paper
from papers.selectors import CARD_FIELDS

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Gmail clips HTML past ~102 KB and hides the rest (footer and unsubscribe link included);
# keep a margin under it. Cards that do not fit move to the "more" page.
GMAIL_CLIP_BYTES = 102 * 1024
HTML_BUDGET_BYTES = 98 * 1024
# Temporary failures (4xx, dropped connections) are retried this many times in all.
MAX_SEND_ATTEMPTS = 8
MAX_RETRY_COUNTDOWN = 30 * 60
# Clocks of workers and the database host differ a little; a retry may arrive this early.
CLOCK_SLACK = dt.timedelta(seconds=2)
# How often a thread rendering ahead hands the GIL to the one talking to the mail server.
HANDOVER_SECONDS = 0.0005
SNIPPET_CHARS = 280
AUTHORS_SHOWN = 3
NOTE_CHARS = 400
VENUE_CHARS = 120
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


# --- Claiming ----------------------------------------------------------------------------


def claim_digests(*, digest_ids: Sequence[int], token: str) -> list[int]:
    """Take the digests among `digest_ids` that nobody holds, for one lease.

    FOR UPDATE SKIP LOCKED: two workers never take the same row, and neither waits for the
    other. A digest is free when pending (and its retry time has come), when its holder's
    lease ran out (the holder died), or when `token` is the holder's own (a task redelivered
    after its worker was killed resumes its own batch at once).
    """
    if not digest_ids:
        return []
    now = timezone.now()
    free = (
        Q(status=Digest.Status.PENDING)
        & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now + CLOCK_SLACK))
    ) | (Q(status=Digest.Status.SENDING) & (Q(lease_expires_at__lte=now) | Q(claimed_by=token)))
    with transaction.atomic():
        ids = list(
            Digest.objects.select_for_update(skip_locked=True)
            .filter(free, pk__in=list(digest_ids))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            Digest.objects.filter(pk__in=ids).update(
                status=Digest.Status.SENDING,
                claimed_by=token,
                lease_expires_at=now + lease_length(),
                attempts=F("attempts") + 1,
            )
    return ids


def stale_digest_ids(*, now: dt.datetime | None = None) -> list[int]:
    """Digests whose task was lost: built but never taken, a retry that never came, or held
    by a worker whose lease ran out. Recent editions only, oldest first."""
    now = now or timezone.now()
    lease = lease_length()
    stale = (
        Q(status=Digest.Status.PENDING, lease_expires_at__isnull=True, created_at__lt=now - lease)
        | Q(status=Digest.Status.PENDING, lease_expires_at__lt=now - lease)
        | Q(status=Digest.Status.SENDING, lease_expires_at__lt=now)
    )
    return list(
        Digest.objects.filter(
            stale, edition_on__gte=timezone.localdate(now) - dt.timedelta(days=WINDOW_DAYS)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def retry_countdown(attempts: int) -> int:
    """Doubling back-off, never longer than half the broker's visibility timeout (Redis
    re-delivers a task it thinks lost after that, so a longer countdown would loop)."""
    ceiling = max(1, min(MAX_RETRY_COUNTDOWN, settings.CELERY_VISIBILITY_TIMEOUT // 2))
    return max(1, min(settings.DIGEST_RETRY_SECONDS * 2 ** max(0, attempts - 1), ceiling))


# --- Rendering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperCard:
    """What a card shows of a paper, computed once per batch and shared by every email."""

    url: str
    title: str
    authors: str
    announced_on: dt.date | None
    categories: str
    snippet: str
    upvotes: int
    code_url: str
    venue: str
    editor_note: str
    is_featured: bool


@dataclass(frozen=True)
class Card:
    """A card as one email shows it: the paper's shared fragment plus this reader's why."""

    paper: PaperCard
    why: str
    html: SafeString
    text: str


@functools.cache
def _card_template(name: str, *, autoescape: bool) -> Template:
    source = engines["django"].engine.find_template(name)[0].source
    if not autoescape:  # the text part is not HTML: "&amp;" would reach the reader
        source = "{% autoescape off %}" + source + "{% endautoescape %}"
    return engines["django"].from_string(source)


@functools.lru_cache(maxsize=20_000)
def _card_fragment(paper: PaperCard, language: str) -> tuple[str, str]:
    """A paper's card (HTML, text) in the active language, rendered once per process.

    Keyed on everything the card shows, so an edited paper (hidden, featured, a new note,
    fresh upvotes) gets a new card; a 2,000-paper day is ~4,000 entries, about 12 MB.
    """
    context = {"paper": paper}
    return (
        _card_template("emails/digest-card.html", autoescape=True).render(context),
        _card_template("emails/digest-card.txt", autoescape=False).render(context),
    )


class CardMaker:
    """Cards for emails: each paper's card is rendered once per process and language (only
    the why line differs between readers), so an email only joins strings."""

    def card(self, paper: PaperCard, why: str) -> Card:
        fragment = _card_fragment(paper, translation.get_language() or "en")
        html, text = fragment
        label = _("Why:")
        if why:
            html += (
                '<div style="font-size:13px;color:#1a7f37;margin-top:6px;">'
                f"{escape(label)} {escape(why)}</div>"
            )
            text += f"{label} {why}\n"
        return Card(paper, why, mark_safe(html + "</div>"), f"{text}{paper.url}\n")  # noqa: S308


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


def paper_card(paper: Paper) -> PaperCard:
    authors = list(paper.authors or [])
    shown = ", ".join(shorten(name, 60) for name in authors[:AUTHORS_SHOWN])
    if len(authors) > AUTHORS_SHOWN:
        shown += " " + _("et al.")
    return PaperCard(
        url=paper.abs_url,
        title=" ".join(paper.title.split()),
        authors=shown,
        announced_on=paper.announced_on,
        categories=", ".join((paper.categories or [])[:4]),
        snippet=shorten(paper.abstract, SNIPPET_CHARS),
        upvotes=paper.hf_upvotes,
        code_url=paper.code_url,
        venue=shorten(paper.journal_ref or paper.comment, VENUE_CHARS),
        editor_note=shorten(paper.editor_note, NOTE_CHARS),
        is_featured=paper.is_featured,
    )


def why_text(reasons: Sequence[dict[str, object]]) -> str:
    """'Diffusion models: diffusion, text to image · your filter: video' — the card's why."""
    parts: list[str] = []
    for reason in reasons:
        words = ", ".join(str(word) for word in reason.get("words") or [])
        kind, label = reason.get("kind"), str(reason.get("label") or "")
        if kind == "topic":
            part = f"{label}: {words}" if words else label
        elif kind == "query":
            part = _("your filter: %(words)s") % {"words": words} if words else _("your filter")
        elif kind == "category":
            part = _("your categories: %(categories)s") % {"categories": label}
        elif kind == "author":
            part = _("author %(name)s") % {"name": label}
        else:
            continue
        if part not in parts:
            parts.append(part)
    return " · ".join(parts)


def subject_topic(items: Sequence[tuple[int, list[dict[str, object]]]]) -> tuple[str, int]:
    """The phrase naming what most papers matched, and how many other topics matched."""
    counts: dict[tuple[str, str], int] = {}
    for _paper_id, reasons in items:
        for reason in reasons:
            kind = "filter" if reason.get("kind") in ("query", "category") else reason.get("kind")
            key = (str(kind), "" if kind == "filter" else str(reason.get("label") or ""))
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "", 0
    (kind, label), _count = max(counts.items(), key=lambda entry: entry[1])
    if kind == "topic":
        about = _("on %(topic)s") % {"topic": label}
    elif kind == "author":
        about = _("by %(author)s") % {"author": label}
    else:
        about = _("matching your filter")
    return about, len(counts) - 1


@functools.lru_cache(maxsize=64)
def _long_date(day: dt.date, language: str) -> str:
    with translation.override(language):
        return date_format(day, "l j F Y")


def digest_heading(edition_on: dt.date, paper_count: int, more_count: int) -> str:
    """'Tuesday 25 March 2025 · 10 papers · 4 more on the web': the header line."""
    parts = [
        _long_date(edition_on, translation.get_language() or "en"),
        ngettext("%(count)d paper", "%(count)d papers", paper_count) % {"count": paper_count},
    ]
    if more_count:
        parts.append(
            ngettext("%(count)d more on the web", "%(count)d more on the web", more_count)
            % {"count": more_count}
        )
    return " · ".join(parts)


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


def render_digest(
    *,
    subscriber: Subscriber,
    edition_on: dt.date,
    cards: Sequence[Card],
    items: Sequence[tuple[int, list[dict[str, object]]]],
    matched_count: int,
    more_count: int,
    message_id: str,
    digest_id: int | None,
) -> DigestEmail:
    """Render the digest; if the HTML would be clipped by Gmail, move cards to the "more"
    page until it fits (the reader always sees the footer and the unsubscribe link)."""
    links = subscriber_links(subscriber)
    view_url = more_url = ""
    if digest_id is not None:
        token = make_token(
            purpose=Purpose.VIEW_DIGEST, subject_id=digest_id, email=subscriber.email
        )
        view_url = settings.SITE_URL + reverse("newsletter:view_digest", args=[token])
        more_url = settings.SITE_URL + reverse("newsletter:digest_more", args=[token])
    with translation.override(subscriber.language):
        about, other_topics = subject_topic(items)
        context = {
            **base_context(language=subscriber.language),
            **links,
            "view_url": view_url,
            "more_url": more_url,
            "edition_on": edition_on,
            "matched_count": matched_count,
            "about": about,
            "other_topics": other_topics,
        }
        keep = len(cards)
        while True:
            shown = cards[:keep]
            context.update(
                cards=shown,
                paper_count=len(shown),
                more_count=more_count + len(cards) - keep,
                heading=digest_heading(edition_on, len(shown), more_count + len(cards) - keep),
                preheader=" · ".join(card.paper.title for card in shown[:2])[:150],
            )
            rendered: RenderedEmail = render_email("digest", context)
            size = html_size_as_sent(rendered.html)
            if size <= HTML_BUDGET_BYTES or keep <= 1:
                break
            keep = max(1, min(keep - 1, int(keep * HTML_BUDGET_BYTES / size)))
    return DigestEmail(
        to=subscriber.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id,
        headers=unsubscribe_headers(subscriber, url=links["unsubscribe_url"]),
        cards_in_email=keep,
    )


def html_size_as_sent(html: str) -> int:
    """Bytes of the HTML part as the reader's mail client gets it: UTF-8, and every line
    ending CRLF on the wire (a 50-card digest has ~250 lines: measured on "\n" alone, it
    passed the budget by 180 bytes)."""
    return len(html.encode()) + html.count("\n") - html.count("\r\n")


# --- MIME, by hand ----------------------------------------------------------------------


class HeaderInjection(ValueError):
    """A value meant for one header holds a line break."""


def _header_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection("line break in a header value")
    return value


def _encoded(value: str) -> str:
    """RFC 2047 for non-ASCII text (the subject's em dash): base64 encoded-words of at most
    45 bytes each (a 76-character line), never splitting a character. email.header.Header
    does the same in ~0.9 ms; this takes a few microseconds."""
    _header_value(value)
    if value.isascii() and len(value) < 900:
        return value
    words, chunk = [], b""
    for character in value:
        encoded = character.encode()
        if len(chunk) + len(encoded) > 45:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


@functools.cache
def _from_header(from_email: str) -> tuple[str, str]:
    return sanitize_address(from_email, "utf-8"), parseaddr(from_email)[1]


def envelope_sender() -> str:
    return _from_header(settings.DEFAULT_FROM_EMAIL)[1]


def _qp(text: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if not body.endswith("\r\n"):
        body += "\r\n"
    return binascii.b2a_qp(body.encode(), quotetabs=False, istext=True, header=False)


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
        f"To: {_header_value(to)}",
        f"Subject: {_encoded(email.subject)}",
        f"Date: {date or formatdate(usegmt=True)}",
        f"Message-ID: {_header_value(email.message_id)}",
    ]
    for name, value in email.headers.items():
        value = _header_value(value)
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
            _qp(email.text),
            (part % "html").encode(),
            _qp(email.html),
            f"--{boundary}--\r\n".encode(),
        ]
    )
    if settings.DKIM_PRIVATE_KEY_PATH:
        message = dkim_signed(message)
    return message


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


# --- Talking to the mail server ----------------------------------------------------------


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


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """System CAs, or EMAIL_SSL_CAFILE's for a relay with a private certificate authority."""
    return ssl.create_default_context(cafile=settings.EMAIL_SSL_CAFILE or None)


_LEADING_DOT = re.compile(rb"(?m)^\.")


def pipelined_sendmail(connection: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
    """smtplib's sendmail in two round trips instead of four (RFC 2920 PIPELINING, which
    every production relay offers): MAIL, RCPT and DATA go out together, then the message.
    Raises what sendmail raises, so callers treat both alike; the message is accepted only
    by the reply to its final dot, as before."""
    connection.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode())
    mail, rcpt, start = connection.getreply(), connection.getreply(), connection.getreply()
    refused: smtplib.SMTPResponseException | None = None
    if mail[0] != 250:
        refused = smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    elif rcpt[0] not in (250, 251):
        refused = smtplib.SMTPRecipientsRefused({recipient: rcpt})  # type: ignore[assignment]
    elif start[0] != 354:
        refused = smtplib.SMTPDataError(*start)
    if refused is not None:
        if start[0] == 354:  # a server that took DATA anyway gets an empty message, dropped
            connection.send(b".\r\n")
            connection.getreply()
        _reset(connection)
        raise refused
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    connection.send(body + b".\r\n")
    code, message = connection.getreply()
    if code != 250:
        if code == 421:
            connection.close()
        else:
            _reset(connection)
        raise smtplib.SMTPDataError(code, message)


def _reset(connection: smtplib.SMTP) -> None:
    """RSET after a refusal, as sendmail does; a server that already hung up is left be."""
    try:
        connection.rset()
    except smtplib.SMTPServerDisconnected:
        pass


class SmtpMailer:
    """One SMTP connection, reused for a whole batch, reopened once if the server drops it."""

    def __init__(self) -> None:
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        factory = smtplib.SMTP_SSL if settings.EMAIL_USE_SSL else smtplib.SMTP
        try:
            connection = factory(
                settings.EMAIL_HOST,
                settings.EMAIL_PORT,
                local_hostname=DNS_NAME.get_fqdn(),
                timeout=settings.EMAIL_TIMEOUT,
            )
            # Nagle's algorithm meeting delayed ACKs stalls ~40 ms per message on a reused
            # connection (worst under STARTTLS); neither smtplib nor Django turns it off.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if settings.EMAIL_USE_TLS:
                connection.starttls(context=_tls_context())
            if settings.EMAIL_HOST_USER:
                connection.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
            connection.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as error:
            raise RelayUnavailable(f"{error.__class__.__name__}: {error}") from error
        return connection

    def prepare(self, email: DigestEmail) -> bytes:
        """The bytes to send; pure, so a batch can build them ahead of the connection."""
        return mime_bytes(email)

    def deliver(self, email: DigestEmail, data: bytes | None = None) -> Delivery:
        data = data if data is not None else mime_bytes(email)
        if self.connection is None:
            self.connection = self._connect()
        connection = self.connection
        try:
            if connection.has_extn("pipelining") and email.to.isascii():
                pipelined_sendmail(connection, envelope_sender(), email.to, data)
            else:
                connection.sendmail(envelope_sender(), [email.to], data)
        except smtplib.SMTPRecipientsRefused as error:
            code, message = error.recipients.get(email.to, (450, b"recipient refused"))
            delivery = classify(code, message)
        except smtplib.SMTPSenderRefused as error:
            # Our own sender refused: never the reader's fault, so never a bounce.
            delivery = Delivery(Outcome.TEMPORARY, f"{error.smtp_code} {error.smtp_error!r}")
        except smtplib.SMTPResponseException as error:
            delivery = classify(error.smtp_code, error.smtp_error)
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return Delivery(Outcome.TEMPORARY, f"{error.__class__.__name__}: {error}"[:500])
        else:
            return Delivery(Outcome.ACCEPTED, "250")
        if connection.sock is None:  # smtplib closes the connection after a 421
            self.connection = None
        return delivery

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


class BackendMailer:
    """Any other Django email backend (the .eml folder, memory in tests, anymail ESPs)."""

    def __init__(self) -> None:
        self.connection = get_connection()
        self.opened = False

    def prepare(self, email: DigestEmail) -> None:
        """Nothing to build ahead: the backend builds its own message in deliver()."""

    def deliver(self, email: DigestEmail, data: bytes | None = None) -> Delivery:
        if not self.opened:
            try:
                self.connection.open()
            except Exception as error:  # noqa: BLE001 - any backend's transport failure
                raise RelayUnavailable(str(error)) from error
            self.opened = True
        try:
            sent = self.connection.send_messages([django_message(email)])
        except BadHeaderError as error:
            raise HeaderInjection(str(error)) from error
        except Exception as error:  # noqa: BLE001 - sorted below by what it says
            if error.__class__.__name__ == "AnymailRecipientsRefused":
                return Delivery(Outcome.BAD_MAILBOX, str(error)[:500])
            return Delivery(Outcome.TEMPORARY, f"{error.__class__.__name__}: {error}"[:500])
        return Delivery(Outcome.ACCEPTED if sent else Outcome.TEMPORARY, "")

    def close(self) -> None:
        if self.opened:
            self.connection.close()


def open_mailer() -> SmtpMailer | BackendMailer:
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
        return SmtpMailer()
    return BackendMailer()


# --- Bounces ------------------------------------------------------------------------------

_STILL_MAILED = (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED, Subscriber.Status.PENDING)


def subscriber_record_bounce(*, subscriber_id: int, permanent: bool, reason: str) -> bool:
    """Count a bounce; True when the address is now suppressed (it gets no more mail).

    A permanent one (the mailbox does not exist, a spam complaint) suppresses at once; soft
    ones suppress after SOFT_BOUNCE_LIMIT in a row (a delivered digest resets the count).
    """
    reason = reason[:200]
    mailed = Subscriber.objects.filter(pk=subscriber_id, status__in=_STILL_MAILED)
    if permanent:
        return bool(
            mailed.update(
                status=Subscriber.Status.SUPPRESSED,
                suppressed_reason=reason,
                soft_bounce_count=F("soft_bounce_count") + 1,
            )
        )
    mailed.update(soft_bounce_count=F("soft_bounce_count") + 1)
    return bool(
        mailed.filter(soft_bounce_count__gte=settings.SOFT_BOUNCE_LIMIT).update(
            status=Subscriber.Status.SUPPRESSED,
            suppressed_reason=_("%(count)d soft bounces in a row; last: %(reason)s")
            % {"count": settings.SOFT_BOUNCE_LIMIT, "reason": reason},
        )
    )


# --- A batch ------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    suppressed: int = 0
    cancelled: int = 0
    skipped: int = 0
    retry_groups: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, other: SendReport) -> None:
        for name in ("sent", "retrying", "failed", "suppressed", "cancelled", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Batch:
    digests: list[Digest]
    items: dict[int, list[tuple[int, list[dict[str, object]]]]]
    cards: dict[int, PaperCard]
    maker: CardMaker = field(default_factory=CardMaker)


def _load_batch(digest_ids: Sequence[int]) -> _Batch:
    """Everything a batch renders, in three queries whatever its size."""
    digests = list(
        Digest.objects.filter(pk__in=list(digest_ids))
        .select_related("subscriber")
        .defer("more_paper_ids", "more_reasons")
        .order_by("pk")
    )
    items: dict[int, list[tuple[int, list[dict[str, object]]]]] = defaultdict(list)
    paper_ids: set[int] = set()
    for digest_id, paper_id, reasons in (
        DigestItem.objects.filter(digest_id__in=list(digest_ids))
        .order_by("digest_id", "rank")
        .values_list("digest_id", "paper_id", "reasons")
    ):
        items[digest_id].append((paper_id, reasons))
        paper_ids.add(paper_id)
    papers = Paper.objects.filter(pk__in=paper_ids, is_hidden=False).only(*CARD_FIELDS)
    return _Batch(digests, items, {paper.pk: paper_card(paper) for paper in papers})


def _shown_items(digest: Digest, batch: _Batch) -> list[tuple[int, list[dict[str, object]]]]:
    """The digest's email papers (id, reasons) in rank order, less any hidden since."""
    return [(pid, reasons) for pid, reasons in batch.items.get(digest.pk, []) if pid in batch.cards]


def compose(digest: Digest, batch: _Batch) -> DigestEmail | None:
    """The email of one digest, or None when every paper in it was hidden since it was built.
    Pure: it reads and writes no rows (see record_clipping), so it can run ahead in a thread."""
    subscriber = digest.subscriber
    items = _shown_items(digest, batch)
    if not items:
        return None
    with translation.override(subscriber.language):
        cards = [batch.maker.card(batch.cards[pid], why_text(reasons)) for pid, reasons in items]
    email = render_digest(
        subscriber=subscriber,
        edition_on=digest.edition_on,
        cards=cards,
        items=items,
        matched_count=max(digest.matched_count, len(items)),
        more_count=digest.more_count,
        message_id=digest.message_id,
        digest_id=digest.pk,
    )
    return email


def record_clipping(digest: Digest, email: DigestEmail, batch: _Batch) -> None:
    """Cards that did not fit under Gmail's clipping limit go to the top of the "more" page."""
    moved = _shown_items(digest, batch)[email.cards_in_email :]
    if not moved:
        return
    with transaction.atomic():
        page = (
            Digest.objects.select_for_update()
            .only("more_paper_ids", "more_reasons")
            .get(pk=digest.pk)
        )
        DigestItem.objects.filter(
            digest_id=digest.pk, paper_id__in=[pid for pid, _r in moved]
        ).delete()
        Digest.objects.filter(pk=digest.pk).update(
            paper_count=email.cards_in_email,
            more_count=F("more_count") + len(moved),
            more_paper_ids=[pid for pid, _reasons in moved] + page.more_paper_ids,
            more_reasons=[
                [{k: v for k, v in reason.items() if k != "words"} for reason in reasons]
                for _pid, reasons in moved
            ]
            + page.more_reasons,
        )


@functools.cache
def _update_statement(names: tuple[str, ...]) -> str:
    columns = ", ".join(
        f"{connection.ops.quote_name(Digest._meta.get_field(name).column)} = %s" for name in names
    )
    return f"UPDATE {connection.ops.quote_name(Digest._meta.db_table)} SET {columns} WHERE id = %s"


def _update_digest(digest_id: int, **fields: object) -> None:
    """One UPDATE of one digest, in plain SQL: it runs once per email, and the ORM's query
    building cost ~0.35 ms of it. If the database connection was lost (a restarted server),
    reconnect and try once more, so a message the server accepted is not sent again."""
    names = tuple(fields)
    params = [
        Digest._meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in fields.items()
    ]
    for attempt in (1, 2):
        try:
            with connection.cursor() as cursor:
                cursor.execute(_update_statement(names), [*params, digest_id])
            return
        except (OperationalError, InterfaceError):
            if attempt == 2:
                raise
            connection.close()


def _record(digest: Digest, email: DigestEmail, delivery: Delivery, report: SendReport) -> None:
    now = timezone.now()
    subscriber = digest.subscriber
    if delivery.outcome is Outcome.ACCEPTED:
        _update_digest(
            digest.pk,
            status=Digest.Status.SENT,
            sent_at=now,
            subject=email.subject[:300],
            lease_expires_at=None,
            last_error="",
        )
        if subscriber.soft_bounce_count:
            Subscriber.objects.filter(pk=subscriber.pk).update(soft_bounce_count=0)
        report.sent += 1
        return
    if delivery.outcome is Outcome.TEMPORARY and digest.attempts < MAX_SEND_ATTEMPTS:
        countdown = retry_countdown(digest.attempts)
        _update_digest(
            digest.pk,
            status=Digest.Status.PENDING,
            claimed_by="",
            lease_expires_at=now + dt.timedelta(seconds=countdown),
            last_error=delivery.detail,
        )
        report.retrying += 1
        report.retry_groups[countdown].append(digest.pk)
        return
    _update_digest(
        digest.pk,
        status=Digest.Status.FAILED,
        subject=email.subject[:300],
        lease_expires_at=None,
        last_error=delivery.detail,
    )
    report.failed += 1
    if subscriber_record_bounce(
        subscriber_id=subscriber.pk,
        permanent=delivery.outcome is Outcome.BAD_MAILBOX,
        reason=delivery.detail,
    ):
        report.suppressed += 1
    logger.info("digest %s to subscriber %s failed: %s", digest.pk, subscriber.pk, delivery.detail)


def _fail_unsendable(digest: Digest, error: HeaderInjection, report: SendReport) -> None:
    """A line break in a stored address: this digest can never go out as it is. It fails
    alone (no bounce counted: not the mailbox's answer) and the batch goes on; raising would
    leave the rest held, and every sweep would retry it first."""
    _update_digest(
        digest.pk,
        status=Digest.Status.FAILED,
        lease_expires_at=None,
        last_error=f"not sent: {error}",
    )
    report.failed += 1


def _release(digest_ids: Sequence[int], *, reason: str, report: SendReport) -> None:
    """Hand back digests never tried (the relay was down): no attempt is counted."""
    if not digest_ids:
        return
    countdown = retry_countdown(1)
    Digest.objects.filter(pk__in=list(digest_ids), status=Digest.Status.SENDING).update(
        status=Digest.Status.PENDING,
        claimed_by="",
        attempts=F("attempts") - 1,
        lease_expires_at=timezone.now() + dt.timedelta(seconds=countdown),
        last_error=reason[:500],
    )
    report.retrying += len(digest_ids)
    report.retry_groups[countdown].extend(digest_ids)


@dataclass
class Outgoing:
    """A digest of a claimed batch, made ready for the mail server ahead of its turn."""

    digest: Digest
    email: DigestEmail | None = None  # None: the reader left, or every paper was hidden
    data: bytes | None = None
    error: HeaderInjection | None = None


def outgoing(batch: _Batch, mailer: SmtpMailer | BackendMailer) -> Iterator[Outgoing]:
    """Render and build each digest of a batch; reads and writes no rows."""
    for digest in batch.digests:
        if digest.subscriber.status != Subscriber.Status.ACTIVE:
            yield Outgoing(digest)
            continue
        email = compose(digest, batch)
        if email is None:
            yield Outgoing(digest)
            continue
        try:
            yield Outgoing(digest, email, data=mailer.prepare(email))
        except HeaderInjection as error:
            yield Outgoing(digest, email, error=error)


def made_ahead(items: Iterator[T], *, depth: int = 8) -> Iterator[T]:
    """`items`, produced in a background thread up to `depth` ahead of the consumer.

    Sending an email is mostly waiting (SMTP round trips and the "sent" mark); with the
    next emails rendered meanwhile (the GIL is free while a socket waits) a worker keeps one
    connection busy. The GIL is handed over every 0.5 ms instead of 5 ms meanwhile, so an
    answered socket does not wait for a whole render (+10 % emails/s in the benchmark). The
    producer must not touch the database: connections are per thread.
    """
    queue: Queue[tuple[bool, T | BaseException | None]] = Queue(maxsize=depth)
    stopped = threading.Event()

    def put(entry: tuple[bool, T | BaseException | None]) -> bool:
        while not stopped.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as error:  # noqa: BLE001 - re-raised in the consumer
            put((False, error))

    producer = threading.Thread(target=produce, name="made-ahead", daemon=True)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, HANDOVER_SECONDS))
    producer.start()
    try:
        while True:
            is_item, value = queue.get()
            if is_item:
                yield value  # type: ignore[misc]
            elif value is None:
                return
            else:
                raise value  # type: ignore[misc]
    finally:
        stopped.set()
        producer.join()
        sys.setswitchinterval(switch_interval)


def digests_send(
    *, digest_ids: Sequence[int], token: str, claimed_ids: Sequence[int] = ()
) -> SendReport:
    """Claim, render and send a batch over one connection; record each answer at once.
    (`claimed_ids`: digests the caller built already held by `token`, sent without a claim.)

    A digest is marked sent right after the server accepts it, so a crash can resend at
    most the message in flight, and with the same Message-ID. The next emails are rendered
    in a thread meanwhile (made_ahead). The caller schedules the retries listed in the
    report (see tasks).
    """
    report = SendReport()
    claimed = sorted([*claim_digests(digest_ids=digest_ids, token=token), *claimed_ids])
    if not claimed:
        return report
    batch = _load_batch(claimed)
    renew_every = max(1.0, settings.DIGEST_LEASE_SECONDS / 3)
    renewed_at = time.monotonic()
    mailer = open_mailer()
    relaxed = _relax_commit_durability()
    try:
        for position, ready in enumerate(made_ahead(outgoing(batch, mailer))):
            digest, email = ready.digest, ready.email
            if digest.subscriber.status != Subscriber.Status.ACTIVE:
                _update_digest(
                    digest.pk,
                    status=Digest.Status.CANCELLED,
                    lease_expires_at=None,
                    last_error=f"subscriber is {digest.subscriber.status}",
                )
                report.cancelled += 1
                continue
            if email is None:
                _update_digest(digest.pk, status=Digest.Status.SKIPPED_EMPTY, lease_expires_at=None)
                report.skipped += 1
                continue
            if ready.error is not None:
                _fail_unsendable(digest, ready.error, report)
                continue
            record_clipping(digest, email, batch)
            try:
                delivery = mailer.deliver(email, ready.data)
            except RelayUnavailable as error:
                rest = [later.pk for later in batch.digests[position:]]
                _release(rest, reason=str(error), report=report)
                logger.warning("mail server unavailable, %d digests wait: %s", len(rest), error)
                break
            except HeaderInjection as error:
                _fail_unsendable(digest, error, report)
                continue
            _record(digest, email, delivery, report)
            if time.monotonic() - renewed_at > renew_every:
                rest = [later.pk for later in batch.digests[position + 1 :]]
                Digest.objects.filter(
                    pk__in=rest, status=Digest.Status.SENDING, claimed_by=token
                ).update(lease_expires_at=timezone.now() + lease_length())
                renewed_at = time.monotonic()
    finally:
        mailer.close()
        if relaxed:
            _restore_commit_durability()
    return report


def _relax_commit_durability() -> bool:
    """Commit each "sent" mark without waiting for the disk flush (PostgreSQL only).

    The mark is still committed before the next message is tried, so a killed worker loses
    nothing; only a crash of the database server itself could forget the last few hundred
    milliseconds of marks (and resend those digests, same Message-ID). Waiting for the flush
    cost ~1-2 ms per email, as much as sending it.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    return True


def _restore_commit_durability() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO DEFAULT")
    except (OperationalError, InterfaceError):
        connection.close()  # a fresh connection starts with the default anyway


def write_eml(email: DigestEmail, folder: Path, *, name: str) -> Path:
    """A dry run's output: exactly the bytes SMTP would carry."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    path.write_bytes(mime_bytes(email))
    return path


def batches(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# --- Runs: build, send, retry, sweep --------------------------------------------------------


@dataclass
class RunReport:
    """What a run did, for the command's summary line and the task logs."""

    built: int = 0
    skipped: int = 0
    send: SendReport = field(default_factory=SendReport)

    def add(self, build: BuildResult | None = None, send: SendReport | None = None) -> None:
        if build is not None:
            self.built += build.built
            self.skipped += build.skipped
        if send is not None:
            self.send.add(send)

    def summary(self) -> str:
        send = self.send
        return (
            f"built {self.built}, sent {send.sent}, skipped {self.skipped + send.skipped}, "
            f"failed {send.failed}, retrying {send.retrying}, suppressed {send.suppressed}, "
            f"cancelled {send.cancelled}"
        )


def schedule_retries(report: SendReport) -> None:
    """Enqueue, after commit, one task per back-off delay for the digests that got a 4xx."""
    from newsletter.tasks import send_digest_batch

    for countdown, ids in report.retry_groups.items():
        for chunk in batches(ids, settings.DIGEST_BATCH_SIZE):
            transaction.on_commit(
                functools.partial(
                    send_digest_batch.apply_async,
                    kwargs={"digest_ids": chunk},
                    countdown=countdown,
                )
            )


def build_and_send(
    *,
    subscriber_ids: Sequence[int],
    token: str,
    run_at: dt.datetime | None = None,
    edition_on: dt.date | None = None,
) -> tuple[BuildResult, SendReport]:
    """One batch of readers: build their missing digests, then send whatever of theirs is
    still unsent over one connection. (Building the next batch in a thread while this one
    is sent was tried: the third thread's GIL contention cost more than it hid, 221 vs 252
    emails/s at 20k readers.)"""
    built = digests_build(
        subscriber_ids=subscriber_ids, run_at=run_at, edition_on=edition_on, claimed_by=token
    )
    sent = digests_send(digest_ids=built.digest_ids, token=token, claimed_ids=built.claimed_ids)
    schedule_retries(sent)
    return built, sent


def enqueue_digest_batches(
    subscriber_ids: Iterable[int],
    *,
    run_at: dt.datetime | None = None,
    edition_on: dt.date | None = None,
) -> int:
    """Fan a run out to the workers: one task per DIGEST_BATCH_SIZE readers, after commit."""
    from newsletter.tasks import build_and_send_digests

    count = 0
    for chunk in chunked(subscriber_ids, settings.DIGEST_BATCH_SIZE):
        transaction.on_commit(
            functools.partial(
                build_and_send_digests.delay,
                subscriber_ids=chunk,
                run_at=run_at.isoformat() if run_at else None,
                edition_on=edition_on.isoformat() if edition_on else None,
            )
        )
        count += 1
    return count


def enqueue_stale_digests(*, now: dt.datetime | None = None) -> int:
    """The sweeper: hand digests whose task was lost to new tasks. Twice is harmless, since
    a digest someone holds is not claimable."""
    from newsletter.tasks import send_digest_batch

    ids = stale_digest_ids(now=now)
    for chunk in batches(ids, settings.DIGEST_BATCH_SIZE):
        transaction.on_commit(functools.partial(send_digest_batch.delay, digest_ids=chunk))
    if ids:
        logger.info("sweeper re-enqueued %d digests", len(ids))
    return len(ids)


def run_digests(
    *,
    edition_on: dt.date | None = None,
    subscriber_email: str | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunReport:
    """A run in this process (the `send_digests` command): with `edition_on`, every
    confirmed reader's digest for that day; otherwise what the hourly tick would send now,
    plus any digest whose task was lost. Running it again sends nothing more."""
    now = now or timezone.now()
    report = RunReport()
    stale = stale_digest_ids(now=now)
    for chunk in batches(stale, settings.DIGEST_BATCH_SIZE):
        sent = digests_send(digest_ids=chunk, token=f"run-{secrets.token_hex(8)}")
        schedule_retries(sent)
        report.add(send=sent)
    ids = _run_subscriber_ids(edition_on=edition_on, email=subscriber_email, now=now)
    done = 0
    for chunk in batches(ids, settings.DIGEST_BATCH_SIZE):
        built, sent = build_and_send(
            subscriber_ids=chunk,
            token=f"run-{secrets.token_hex(8)}",
            run_at=None if edition_on else now,
            edition_on=edition_on,
        )
        report.add(built, sent)
        done += len(chunk)
        if progress:
            progress(done, len(ids))
    return report


def _run_subscriber_ids(
    *, edition_on: dt.date | None, email: str | None, now: dt.datetime
) -> list[int]:
    # Ids only (a few MB for 100k readers), so the progress bar knows its end.
    if edition_on is not None:
        return list(active_subscriber_ids(email=email))
    due = due_subscriber_ids(now=now)
    if email:
        wanted = set(active_subscriber_ids(email=email))
        return [pk for pk in due if pk in wanted]
    return list(due)


def plan_emails(plans: Sequence[DigestPlan]) -> list[tuple[DigestPlan, DigestEmail]]:
    """Render plans that were not saved (dry runs, test copies): no view link, same words."""
    paper_ids = {item.paper_id for plan in plans for item in plan.items if item.in_email}
    papers = Paper.objects.filter(pk__in=paper_ids, is_hidden=False).only(*CARD_FIELDS)
    cards = {paper.pk: paper_card(paper) for paper in papers}
    maker = CardMaker()
    emails: list[tuple[DigestPlan, DigestEmail]] = []
    for plan in plans:
        items = [
            (item.paper_id, item.reasons)
            for item in plan.items
            if item.in_email and item.paper_id in cards
        ]
        if not items:
            continue
        subscriber = plan.subscriber
        with translation.override(subscriber.language):
            shown = [maker.card(cards[pid], why_text(reasons)) for pid, reasons in items]
        emails.append(
            (
                plan,
                render_digest(
                    subscriber=subscriber,
                    edition_on=plan.edition_on,
                    cards=shown,
                    items=items,
                    matched_count=plan.matched_count,
                    more_count=plan.more_count,
                    message_id=message_id_for(
                        subscriber_id=subscriber.pk, edition_on=plan.edition_on
                    ),
                    digest_id=None,
                ),
            )
        )
    return emails


def preview_run(
    *,
    edition_on: dt.date | None = None,
    subscriber_email: str | None = None,
    out_dir: Path | None = None,
    send_to: str | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Dry run (.eml files in `out_dir`) or test copies (to `send_to`); records nothing."""
    now = now or timezone.now()
    ids = _run_subscriber_ids(edition_on=edition_on, email=subscriber_email, now=now)
    written = done = 0
    mailer = open_mailer() if send_to else None
    try:
        for chunk in batches(ids, settings.DIGEST_BATCH_SIZE):
            plans = preview_plans(
                subscriber_ids=chunk, run_at=None if edition_on else now, edition_on=edition_on
            )
            for plan, email in plan_emails(plans):
                if mailer is not None and send_to:
                    email.to = send_to
                    email.message_id = make_msgid(domain=settings.SITE_HOST)
                    delivery = mailer.deliver(email)
                    if delivery.outcome is not Outcome.ACCEPTED:
                        raise RelayUnavailable(delivery.detail)
                elif out_dir is not None:
                    write_eml(email, out_dir, name=f"{plan.edition_on:%Y%m%d}-{plan.subscriber.pk}")
                written += 1
            done += len(chunk)
            if progress:
                progress(done, len(ids))
    finally:
        if mailer is not None:
            mailer.close()
    return written
