"""Looking a reader up by address uses the lower(email) unique index, in any letter case."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from newsletter import selectors
from newsletter.digests.editions import active_subscriber_ids
from newsletter.models import Subscriber
from tests.factories import SubscriberFactory
from tests.newsletter.test_digest_webhooks import SECRET, postmark, soft_bounce

pytestmark = pytest.mark.django_db

INDEX = "subscriber_one_per_mailbox"


@pytest.fixture(autouse=True)
def many_readers():
    """Enough readers, analysed, that reading the whole table costs what it would in use."""
    Subscriber.objects.bulk_create(
        Subscriber(email=f"someone{n}@example.net", status=Subscriber.Status.ACTIVE)
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE newsletter_subscriber")


def lookup_plans(run: Callable[[], object], *, address: str) -> list[str]:
    """The plan PostgreSQL chooses for every query `run` made that looks the address up."""
    with CaptureQueriesContext(connection) as captured:
        run()
    lookups = [q["sql"] for q in captured if address.lower() in q["sql"].lower()]
    assert lookups, "no query looked the address up"
    plans = []
    with connection.cursor() as cursor:
        for sql in lookups:
            cursor.execute(f"EXPLAIN {sql}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


@pytest.mark.parametrize(
    "lookup",
    [
        lambda address: selectors.subscribers_with_address(address).first(),
        lambda address: list(active_subscriber_ids(email=address)),
    ],
    ids=["subscribers_with_address", "send_digests --email"],
)
def test_a_lookup_by_address_uses_the_mailbox_index(lookup):
    reader = SubscriberFactory(email="Reader@Example.org")

    plans = lookup_plans(lambda: lookup("READER@example.ORG"), address=reader.email)

    assert all(INDEX in plan for plan in plans), plans


def test_a_webhooks_recipient_is_found_through_the_mailbox_index(client, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    SubscriberFactory(email="full@example.com")

    plans = lookup_plans(
        lambda: postmark(client, soft_bounce("FULL@example.com")), address="full@example.com"
    )

    assert all(INDEX in plan for plan in plans), plans
