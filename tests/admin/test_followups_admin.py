"""The follow-ups admin: a read-only record of the updates each reader was told, filtered by
kind, searched by email or arXiv id, in a few queries however many rows."""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter.models import Digest, FollowUp
from tests.factories import DigestFactory, PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/newsletter/followup/"


def told(*, email: str, arxiv_id: str, kind: str, detail: dict, day: int = 0) -> FollowUp:
    reader = SubscriberFactory(email=email)
    digest = DigestFactory(
        subscriber=reader,
        status=Digest.Status.SENT,
        edition_on=dt.date(2025, 2, 21) + dt.timedelta(days=day),
    )
    return FollowUp.objects.create(
        digest=digest,
        subscriber=reader,
        paper=PaperFactory(arxiv_id=arxiv_id, title=f"Paper {arxiv_id}"),
        kind=kind,
        position=1,
        detail=detail,
    )


def rows(page: str) -> int:
    return page.count('<td class="field-reader')


def test_the_list_shows_digest_reader_paper_kind_and_detail(admin_client):
    told(
        email="ada@example.com",
        arxiv_id="2502.10028",
        kind=FollowUp.Kind.TRENDING,
        detail={"upvotes_then": 9, "upvotes_now": 140},
    )

    page = admin_client.get(LIST).content.decode()

    assert rows(page) == 1
    assert "2025-02-21 (sent)" in page
    assert '<td class="field-reader">ada@example.com</td>' in page
    assert "2502.10028" in page
    assert '<td class="field-kind">trending</td>' in page
    assert "upvotes_now: 140, upvotes_then: 9" in page


def test_the_list_filters_by_kind_and_searches_by_email_or_arxiv_id(admin_client):
    told(email="ada@example.com", arxiv_id="2502.00001", kind="code", detail={})
    told(email="bob@example.com", arxiv_id="2502.00002", kind="trending", detail={}, day=1)
    told(email="cy@example.com", arxiv_id="2502.00003", kind="new_version", detail={}, day=2)

    by_kind = admin_client.get(LIST, {"kind__exact": "trending"}).content.decode()
    by_email = admin_client.get(LIST, {"q": "ada@"}).content.decode()
    by_arxiv_id = admin_client.get(LIST, {"q": "2502.00003"}).content.decode()

    assert rows(by_kind) == 1 and "bob@example.com" in by_kind
    assert rows(by_email) == 1 and "2502.00001" in by_email
    assert rows(by_arxiv_id) == 1 and "cy@example.com" in by_arxiv_id


def test_a_follow_up_is_a_record_nobody_adds_edits_or_deletes(admin_client):
    followup = told(email="ada@example.com", arxiv_id="2502.00001", kind="code", detail={})

    assert admin_client.get(f"{LIST}add/").status_code == 403
    page = admin_client.get(f"{LIST}{followup.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert admin_client.post(f"{LIST}{followup.pk}/delete/").status_code == 403
    assert FollowUp.objects.filter(pk=followup.pk).exists()


def test_the_list_is_a_few_queries_however_many_follow_ups(
    admin_client, django_assert_max_num_queries
):
    for n in range(50):
        told(email=f"r{n}@example.com", arxiv_id=f"2502.{n:05d}", kind="code", detail={}, day=n)

    with django_assert_max_num_queries(5):
        response = admin_client.get(LIST)

    assert rows(response.content.decode()) == 50
