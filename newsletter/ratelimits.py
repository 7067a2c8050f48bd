"""Abuse limits of the public forms, counted in the shared cache (Redis in production).

The limits are the same whatever the state of the address, so hitting one says nothing
about whether an address is subscribed. Limits on an address count its mailbox: every
spelling that reaches the same inbox (a +tag, Gmail's dots) shares one count.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

# Form posts (sign-up and "email me a link") from one IP address, and naming one address.
FORM_POSTS_PER_IP = "20/h"
FORM_POSTS_PER_ADDRESS = "5/h"
# Live previews from one IP address: the page asks for one per pause in typing.
PREVIEWS_PER_IP = "120/m"
# Mails (confirmations and manage links together) one address can be sent in a day.
MAILS_PER_ADDRESS_PER_DAY = "3/d"
# Saves of the manage page, per reader and per IP: each parses and checks a fresh query.
MANAGE_SAVES_PER_SUBSCRIBER = "20/h"
MANAGE_SAVES_PER_IP = "60/h"
# 👍/👎 posts per reader: a whole "more" page rated twice over, and each enqueues a retrain.
VOTES_PER_SUBSCRIBER = "200/h"

MAX_KEY_LENGTH = 320
# Providers that deliver first.last and firstlast to one inbox (and the domain they share).
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def client_ip(request: HttpRequest) -> str:
    """The client's IP: REMOTE_ADDR, or the last address in CLIENT_IP_HEADER behind a proxy.

    The last one is what our own proxy saw; earlier ones are whatever the client claimed.
    """
    header = settings.CLIENT_IP_HEADER
    if header:
        claimed = request.META.get(header, "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(claimed))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


def mailbox_key(email: str) -> str:
    """The inbox an address reaches, for counting: lower-cased, its +tag stripped, and at
    Gmail its dots dropped (victim+1@example.org and v.ictim@gmail.com are victim@…)."""
    local, at, domain = email.strip().lower().rpartition("@")
    if not at:
        return email.strip().lower()[:MAX_KEY_LENGTH]
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        domain = DOTLESS_DOMAINS[domain]
        local = local.replace(".", "") or local
    return f"{local}@{domain}"[:MAX_KEY_LENGTH]


def form_post_limited(request: HttpRequest) -> bool:
    """Count one form post from this IP (valid or not); True when over the limit."""
    return is_ratelimited(
        request, group="newsletter.form-ip", key="ip", rate=FORM_POSTS_PER_IP, increment=True
    )


def address_post_limited(request: HttpRequest, *, email: str) -> bool:
    """Count one valid form post naming this address; True when over the limit."""
    return is_ratelimited(
        request,
        group="newsletter.form-address",
        key=lambda _group, _request: mailbox_key(email),
        rate=FORM_POSTS_PER_ADDRESS,
        increment=True,
    )


def manage_save_limited(request: HttpRequest, *, subscriber_id: int) -> bool:
    """Count one save of a reader's manage page; True when the reader or the IP is over."""
    by_reader = is_ratelimited(
        request,
        group="newsletter.manage-save-subscriber",
        key=lambda _group, _request: str(subscriber_id),
        rate=MANAGE_SAVES_PER_SUBSCRIBER,
        increment=True,
    )
    by_ip = is_ratelimited(
        request,
        group="newsletter.manage-save-ip",
        key="ip",
        rate=MANAGE_SAVES_PER_IP,
        increment=True,
    )
    return by_reader or by_ip


def vote_post_limited(request: HttpRequest, *, subscriber_id: int) -> bool:
    """Count one 👍/👎 post (or undo) of a reader; True when over the limit."""
    return is_ratelimited(
        request,
        group="newsletter.vote-subscriber",
        key=lambda _group, _request: str(subscriber_id),
        rate=VOTES_PER_SUBSCRIBER,
        increment=True,
    )


def preview_limited(request: HttpRequest) -> bool:
    return is_ratelimited(
        request, group="newsletter.preview-ip", key="ip", rate=PREVIEWS_PER_IP, increment=True
    )


def mail_to_address_allowed(*, email: str) -> bool:
    """Count one mail to `email`; False once today's allowance is spent (send nothing then)."""
    # No request here: the key names the address, and the method filter is off (ALL).
    return not is_ratelimited(
        None,
        group="newsletter.mail-address",
        key=lambda _group, _request: mailbox_key(email),
        rate=MAILS_PER_ADDRESS_PER_DAY,
        increment=True,
    )
