"""Migration 0007 moves every "more" page from item rows onto its digest, in rank order, and
back again when reversed: nothing a reader could open is lost."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("newsletter", "0006_drop_redundant_digest_indexes")]
AFTER = [("newsletter", "0008_remove_digestitem_in_email")]


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
def test_more_page_rows_move_onto_their_digest_and_back(back_to_latest):
    apps = migrate(BEFORE)
    Subscriber = apps.get_model("newsletter", "Subscriber")
    Digest = apps.get_model("newsletter", "Digest")
    DigestItem = apps.get_model("newsletter", "DigestItem")
    Paper = apps.get_model("papers", "Paper")
    reader = Subscriber.objects.create(email="reader@example.com", status="active")
    day = dt.date(2025, 3, 25)
    digest = Digest.objects.create(
        subscriber=reader, edition_on=day, covers_from=day, covers_to=day, paper_count=1
    )
    papers = [
        Paper.objects.create(arxiv_id=f"2503.0000{n}", title=f"Paper {n}", announced_on=day)
        for n in range(4)
    ]
    for rank, paper in enumerate(papers, start=1):
        DigestItem.objects.create(
            digest=digest,
            subscriber=reader,
            paper=paper,
            rank=rank,
            in_email=rank == 1,
            reasons=[{"kind": "topic", "label": f"Topic {rank}"}],
        )

    apps = migrate(AFTER)
    moved = apps.get_model("newsletter", "Digest").objects.get(pk=digest.pk)
    items = apps.get_model("newsletter", "DigestItem").objects.filter(digest_id=digest.pk)

    assert [item.paper_id for item in items] == [papers[0].pk]
    assert moved.more_paper_ids == [paper.pk for paper in papers[1:]]
    assert moved.more_reasons == [[{"kind": "topic", "label": f"Topic {n}"}] for n in (2, 3, 4)]

    apps = migrate(BEFORE)
    restored = apps.get_model("newsletter", "DigestItem").objects.filter(digest_id=digest.pk)
    assert [(i.paper_id, i.rank, i.in_email) for i in restored.order_by("rank")] == [
        (paper.pk, rank, rank == 1) for rank, paper in enumerate(papers, start=1)
    ]
