"""The per-address post limit and the daily mail cap count mailboxes, not spellings: a
+tag is stripped, and dots do not count at Gmail (gmail.com, googlemail.com), so
victim+0…14@example.org cannot bring one mailbox fifteen confirmations."""

from __future__ import annotations

import pytest

from newsletter import ratelimits
from tests.newsletter.subscription_helpers import signup_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

DAILY = int(ratelimits.MAILS_PER_ADDRESS_PER_DAY.split("/")[0])
PER_HOUR = int(ratelimits.FORM_POSTS_PER_ADDRESS.split("/")[0])


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("Victim+0@Example.org", "victim@example.org"),
        ("victim+a+b@example.org", "victim@example.org"),
        ("first.last@example.org", "first.last@example.org"),
        ("V.i.c.t.i.m+news@gmail.com", "victim@gmail.com"),
        ("vic.tim@googlemail.com", "victim@gmail.com"),
        ("+only-a-tag@example.org", "+only-a-tag@example.org"),
    ],
)
def test_the_mailbox_of_an_address(address, mailbox):
    assert ratelimits.mailbox_key(address) == mailbox


@pytest.fixture
def post_signup(client, django_capture_on_commit_callbacks):
    def post(email: str, *, ip: str):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/", signup_data(email=email), REMOTE_ADDR=ip)

    return post


def test_sub_addresses_share_one_mailboxs_daily_cap(post_signup, mailoutbox):
    answers = [
        post_signup(f"victim+{n}@example.org", ip=f"198.51.100.{n}").status_code for n in range(15)
    ]

    assert len(mailoutbox) == DAILY
    assert answers[:PER_HOUR] == [200] * PER_HOUR
    assert set(answers[PER_HOUR:]) == {429}  # the hourly post limit counts the mailbox too


def test_gmail_dot_variants_share_one_mailboxs_daily_cap(post_signup, mailoutbox):
    spellings = [
        "victim@gmail.com",
        "v.ictim@gmail.com",
        "vi.ctim@gmail.com",
        "vic.tim+x@gmail.com",
        "victim@googlemail.com",
    ]

    for n, address in enumerate(spellings):
        post_signup(address, ip=f"198.51.100.{n}")

    assert len(mailoutbox) == DAILY


def test_dots_still_count_at_other_providers(post_signup, mailoutbox):
    for n in range(DAILY):
        post_signup("first.last@example.org", ip=f"198.51.100.{n}")
        post_signup("firstlast@example.org", ip=f"198.51.101.{n}")

    assert len(mailoutbox) == 2 * DAILY
