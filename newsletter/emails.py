"""Building and sending emails: one helper makes a message, one function per kind of email."""

from __future__ import annotations

from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import translation

from newsletter.models import Subscriber
from newsletter.rendering import render_email
from newsletter.signing import Purpose, signed_url


def base_context(*, language: str = "en") -> dict[str, object]:
    return {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "sender_line": settings.SENDER_ADDRESS_LINE,
        "language_code": language,
    }


def subscriber_links(subscriber: Subscriber) -> dict[str, str]:
    """The signed links every email to a subscriber carries in its footer."""
    return {
        "manage_url": signed_url(
            purpose=Purpose.MANAGE, subject_id=subscriber.pk, email=subscriber.email
        ),
        "unsubscribe_url": unsubscribe_url(subscriber),
    }


def unsubscribe_url(subscriber: Subscriber) -> str:
    return signed_url(purpose=Purpose.UNSUBSCRIBE, subject_id=subscriber.pk, email=subscriber.email)


def unsubscribe_headers(subscriber: Subscriber, *, url: str | None = None) -> dict[str, str]:
    """RFC 2369 + RFC 8058 headers: mail clients show an unsubscribe button that POSTs to us."""
    https_url = url or unsubscribe_url(subscriber)
    mailto = f"mailto:{settings.UNSUBSCRIBE_MAILTO}?subject=unsubscribe"
    return {
        "List-Unsubscribe": f"<{https_url}>, <{mailto}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"{settings.SITE_NAME} <digest.{settings.SITE_HOST}>",
    }


def make_message(
    name: str,
    *,
    to: str,
    context: dict[str, object],
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
    language: str = "en",
) -> EmailMultiAlternatives:
    """Render `emails/<name>*` into a multipart/alternative message with its own Message-ID."""
    with translation.override(language):
        rendered = render_email(name, {**base_context(language=language), **context})
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "Message-ID": message_id or make_msgid(domain=settings.SITE_HOST),
            **(headers or {}),
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def send_manage_link(subscriber: Subscriber) -> None:
    """Sent when an existing subscriber signs up again: a link to their settings, not a copy."""
    links = subscriber_links(subscriber)
    make_message(
        "manage-link",
        to=subscriber.email,
        context={**links, "preheader": ""},
        headers=unsubscribe_headers(subscriber, url=links["unsubscribe_url"]),
        language=subscriber.language,
    ).send()


def send_confirmation(subscriber: Subscriber) -> None:
    """The double opt-in link. It carries nothing the visitor typed: only our words and a link."""
    confirm_url = signed_url(
        purpose=Purpose.CONFIRM, subject_id=subscriber.pk, email=subscriber.email
    )
    make_message(
        "confirm",
        to=subscriber.email,
        context={"confirm_url": confirm_url, "preheader": ""},
        language=subscriber.language,
    ).send()
