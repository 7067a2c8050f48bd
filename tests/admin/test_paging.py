"""Admin lists over millions of rows: a whole table is counted from the planner's estimate."""

from __future__ import annotations

import pytest
from django.db import connection

from newsletter.models import Digest
from papers import admin_paging
from papers.admin_paging import EstimatedCountPaginator
from tests.factories import DigestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysed_digests(monkeypatch):
    DigestFactory.create_batch(3)
    DigestFactory(status=Digest.Status.SENT)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE newsletter_digest")
    monkeypatch.setattr(admin_paging, "ESTIMATE_ABOVE", 2)


def test_a_whole_large_table_is_counted_from_the_estimate(
    analysed_digests, django_assert_num_queries
):
    with django_assert_num_queries(1) as captured:
        count = EstimatedCountPaginator(Digest.objects.all(), 10).count

    assert count == 4
    assert "pg_class" in captured.captured_queries[0]["sql"]


def test_a_filtered_list_is_counted_exactly(analysed_digests, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        count = EstimatedCountPaginator(Digest.objects.filter(status="sent"), 10).count

    assert count == 1
    assert "COUNT(" in captured.captured_queries[0]["sql"]


def test_a_small_table_is_counted_exactly(django_assert_num_queries):
    DigestFactory.create_batch(2)

    with django_assert_num_queries(2) as captured:
        count = EstimatedCountPaginator(Digest.objects.all(), 10).count

    assert count == 2
    assert "COUNT(" in captured.captured_queries[1]["sql"]
