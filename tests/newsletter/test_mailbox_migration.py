"""Migrations 0012-0013 merge subscribers whose addresses differ only in letter case into
one (the most advanced status, every topic, every digest and sent paper kept), then let
the database refuse a second row for a mailbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("newsletter", "0011_revised_starting_topics")]
AFTER = [("newsletter", "0013_one_subscriber_per_mailbox")]
DAY = dt.date(2025, 3, 25)
NEXT_DAY = dt.date(2025, 3, 26)
AT = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_case_duplicates_merge_into_the_most_advanced_row_keeping_topics_and_digests(
    back_to_latest,
):
    apps = migrate(BEFORE)
    Subscriber = apps.get_model("newsletter", "Subscriber")
    Topic = apps.get_model("newsletter", "Topic")
    Digest = apps.get_model("newsletter", "Digest")
    DigestItem = apps.get_model("newsletter", "DigestItem")
    Paper = apps.get_model("papers", "Paper")
    papers = [
        Paper.objects.create(arxiv_id=f"2503.0010{n}", title=f"Paper {n}", announced_on=DAY)
        for n in range(5)
    ]
    robots, vision, audio = (Topic.objects.create(name=n, slug=n.lower()) for n in "RVA")
    pending = Subscriber.objects.create(email="Ada@example.org", status="pending")
    pending.topics.add(robots)
    active = Subscriber.objects.create(
        email="ada@EXAMPLE.org", status="active", confirmed_at=AT, last_digest_on=DAY
    )
    active.topics.add(vision)
    paused = Subscriber.objects.create(
        email="ADA@example.org",
        status="paused",
        confirmed_at=AT - dt.timedelta(days=3),
        last_digest_on=NEXT_DAY,
        soft_bounce_count=2,
    )
    paused.topics.add(audio)
    other = Subscriber.objects.create(email="grace@example.org", status="active")

    def digest(subscriber, day, paper_ids, more=()):
        row = Digest.objects.create(
            subscriber=subscriber,
            edition_on=day,
            covers_from=day,
            covers_to=day,
            status="sent",
            paper_count=len(paper_ids),
            more_paper_ids=[papers[n].pk for n in more],
            more_reasons=[[{"kind": "topic", "label": "R"}] for _ in more],
        )
        for rank, n in enumerate(paper_ids, start=1):
            DigestItem.objects.create(digest=row, subscriber=subscriber, paper=papers[n], rank=rank)
        return row

    kept_digest = digest(active, DAY, [0, 1], more=[3])
    digest(paused, DAY, [1, 2], more=[3, 4])  # the same edition: merged into the kept one
    moved = digest(paused, NEXT_DAY, [0, 4])  # an edition the kept row lacks: moved over

    apps = migrate(AFTER)
    Subscriber = apps.get_model("newsletter", "Subscriber")
    Digest = apps.get_model("newsletter", "Digest")
    DigestItem = apps.get_model("newsletter", "DigestItem")

    [ada] = Subscriber.objects.filter(email__iexact="ada@example.org")
    assert (ada.pk, ada.email, ada.status) == (active.pk, "ada@EXAMPLE.org", "active")
    assert sorted(ada.topics.values_list("name", flat=True)) == ["A", "R", "V"]
    assert ada.confirmed_at == AT - dt.timedelta(days=3)
    assert (ada.last_digest_on, ada.soft_bounce_count) == (NEXT_DAY, 2)
    assert set(Digest.objects.filter(subscriber=ada).values_list("pk", flat=True)) == {
        kept_digest.pk,
        moved.pk,
    }
    sent = DigestItem.objects.filter(subscriber=ada)
    assert sorted(sent.values_list("paper__arxiv_id", flat=True)) == [
        f"2503.0010{n}" for n in (0, 1, 2, 4)
    ]  # every paper the mailbox got, once
    kept_digest = Digest.objects.get(pk=kept_digest.pk)
    assert list(
        DigestItem.objects.filter(digest=kept_digest)
        .order_by("rank")
        .values_list("paper__arxiv_id", flat=True)
    ) == ["2503.00100", "2503.00101", "2503.00102"]
    assert kept_digest.more_paper_ids == [papers[3].pk, papers[4].pk]
    assert len(kept_digest.more_reasons) == 2
    assert Subscriber.objects.filter(pk=other.pk).exists()
    with pytest.raises(IntegrityError):
        Subscriber.objects.create(email="GRACE@example.org")


@pytest.mark.django_db(transaction=True)
def test_a_suppressed_row_wins_so_a_bouncing_mailbox_is_never_mailed_again(back_to_latest):
    apps = migrate(BEFORE)
    Subscriber = apps.get_model("newsletter", "Subscriber")
    Subscriber.objects.create(email="bob@example.org", status="active", confirmed_at=AT)
    bounced = Subscriber.objects.create(
        email="Bob@example.org", status="suppressed", suppressed_reason="550 5.1.1"
    )

    apps = migrate(AFTER)

    [bob] = apps.get_model("newsletter", "Subscriber").objects.all()
    assert (bob.pk, bob.status, bob.suppressed_reason) == (bounced.pk, "suppressed", "550 5.1.1")
    assert bob.confirmed_at == AT
