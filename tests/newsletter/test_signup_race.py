"""One subscriber per mailbox whatever the letter case, even when two sign-ups arrive at the
same moment: real concurrent requests (threads, each with its own PostgreSQL connection)."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection
from django.db.models.functions import Lower
from django.test import Client

from newsletter.models import Subscriber
from tests.newsletter.subscription_helpers import signup_data

PAIRS = 20


def post_together(addresses: list[str], *, pair: int) -> list[int]:
    """POST one sign-up per address, all released at once; the answers' status codes."""
    barrier = threading.Barrier(len(addresses))
    statuses: list[int] = [0] * len(addresses)
    errors: list[BaseException] = []

    def sign_up(slot: int, address: str) -> None:
        client = Client(REMOTE_ADDR=f"198.51.{pair}.{slot + 1}")
        try:
            barrier.wait(timeout=10)
            statuses[slot] = client.post("/", signup_data(email=address)).status_code
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=sign_up, args=(slot, address))
        for slot, address in enumerate(addresses)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    return statuses


@pytest.mark.django_db(transaction=True)
def test_two_sign_ups_at_once_in_different_case_make_one_subscriber():
    for n in range(PAIRS):
        statuses = post_together([f"Race{n}@example.org", f"race{n}@EXAMPLE.org"], pair=n)

        assert statuses == [200, 200]  # the same answer for both, as for every sign-up
        rows = Subscriber.objects.annotate(mailbox=Lower("email")).filter(
            mailbox=f"race{n}@example.org"
        )
        assert rows.count() == 1, f"pair {n}: {list(rows.values_list('email', flat=True))}"
    # Each mailbox got a confirmation (a second if the other sign-up came just after the first
    # committed, as for any repeated sign-up), always for its one row's address.
    stored = {email.lower(): email for email in Subscriber.objects.values_list("email", flat=True)}
    per_mailbox: dict[str, int] = {}
    for message in mail.outbox:
        [to] = message.to
        assert stored[to.lower()] == to
        per_mailbox[to.lower()] = per_mailbox.get(to.lower(), 0) + 1
    assert len(per_mailbox) == PAIRS and set(per_mailbox.values()) <= {1, 2}


@pytest.mark.django_db
def test_the_database_refuses_a_second_row_for_the_same_mailbox():
    from django.db import IntegrityError

    Subscriber.objects.create(email="Ada@example.org")

    with pytest.raises(IntegrityError):
        Subscriber.objects.create(email="ada@EXAMPLE.org")
