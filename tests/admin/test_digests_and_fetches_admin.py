"""Digests, fetch runs and sources in admin: a record to read, health at a glance."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from newsletter.digests.editions import message_id_for
from newsletter.models import Digest
from papers.models import FetchRun
from tests.factories import (
    DigestFactory,
    DigestItemFactory,
    FetchRunFactory,
    PaperFactory,
    SourceFactory,
    SubscriberFactory,
)

pytestmark = pytest.mark.django_db


def test_the_digest_list_shows_status_counts_sent_time_and_message_id(editor_client):
    DigestFactory(
        subscriber=SubscriberFactory(email="ada@example.com"),
        status=Digest.Status.SENT,
        paper_count=8,
        more_count=3,
        sent_at=timezone.now(),
        message_id="<d-1.2025-03-25@paperboy.example>",
    )

    page = editor_client.get("/admin/newsletter/digest/").content.decode()

    assert "ada@example.com" in page
    assert ">sent</span>" in page
    assert '<td class="field-paper_count">8</td>' in page
    assert '<td class="field-more_count">3</td>' in page
    assert "&lt;d-1.2025-03-25@paperboy.example&gt;" in page


def test_a_digest_is_found_by_its_exact_message_id(editor_client):
    DigestFactory(message_id="<wanted@paperboy.example>")
    DigestFactory(message_id="<other@paperboy.example>")

    page = editor_client.get(
        "/admin/newsletter/digest/", {"q": "<wanted@paperboy.example>"}
    ).content.decode()

    assert "wanted@paperboy.example" in page
    assert "other@paperboy.example" not in page


def test_a_digests_own_message_id_is_looked_up_by_reader_and_edition(editor_client):
    reader = SubscriberFactory()
    wanted = DigestFactory(subscriber=reader)
    wanted.message_id = message_id_for(subscriber_id=reader.pk, edition_on=wanted.edition_on)
    wanted.save()
    DigestFactory(subscriber=reader, edition_on=wanted.edition_on - dt.timedelta(days=1))

    with CaptureQueriesContext(connection) as captured:
        page = editor_client.get("/admin/newsletter/digest/", {"q": wanted.message_id})

    assert page.context["cl"].result_list[:] == [wanted]
    listed = [q["sql"] for q in captured.captured_queries if "newsletter_digest" in q["sql"]]
    assert all(f'"subscriber_id" = {reader.pk}' in sql for sql in listed)


def test_a_message_id_of_no_real_day_finds_nothing(editor_client):
    DigestFactory()

    page = editor_client.get("/admin/newsletter/digest/", {"q": "<digest.20261399.1@x.example>"})

    assert list(page.context["cl"].result_list) == []


def test_digests_are_found_by_part_of_the_readers_address(editor_client):
    ada = DigestFactory(subscriber=SubscriberFactory(email="ada@example.com"))
    DigestFactory(subscriber=SubscriberFactory(email="grace@example.com"))

    page = editor_client.get("/admin/newsletter/digest/", {"q": "ADA@"})

    assert list(page.context["cl"].result_list) == [ada]


def test_a_digest_is_a_record_nobody_edits_or_adds(editor_client, admin_client):
    digest = DigestFactory(status=Digest.Status.FAILED, last_error="550 5.1.1 user unknown")

    for client in (editor_client, admin_client):
        assert client.get("/admin/newsletter/digest/add/").status_code == 403
        page = client.get(f"/admin/newsletter/digest/{digest.pk}/change/").content.decode()
        assert "550 5.1.1 user unknown" in page
        assert 'name="_save"' not in page


def test_a_digest_page_lists_its_papers_in_rank_order(editor_client, django_assert_max_num_queries):
    more = [PaperFactory(title=f"Paper ranked {rank}") for rank in (4, 5)]
    digest = DigestFactory(
        more_paper_ids=[paper.pk for paper in more],
        more_reasons=[[{"kind": "topic", "label": "Robots"}]] * 2,
    )
    for rank in (2, 1, 3):
        DigestItemFactory(
            digest=digest, rank=rank, paper=PaperFactory(title=f"Paper ranked {rank}")
        )

    with django_assert_max_num_queries(14):
        page = editor_client.get(f"/admin/newsletter/digest/{digest.pk}/change/").content.decode()

    in_email = [page.index(f"Paper ranked {rank}") for rank in (1, 2, 3)]
    on_more_page = [page.index(f"Paper ranked {rank}") for rank in (4, 5)]
    assert in_email == sorted(in_email)
    assert on_more_page == sorted(on_more_page)
    assert "Robots" in page


def test_the_digest_list_is_a_few_queries_however_many_digests(
    admin_client, django_assert_max_num_queries
):
    DigestFactory.create_batch(50)

    with django_assert_max_num_queries(5):
        response = admin_client.get("/admin/newsletter/digest/")

    assert response.content.decode().count('<td class="field-edition_on') == 50


def test_fetch_runs_show_status_counts_completeness_and_a_readable_error(editor_client):
    FetchRunFactory(
        status=FetchRun.Status.FAILED,
        error="HTTP 503 from rss.arxiv.org\nTraceback (most recent call last): ...",
    )
    FetchRunFactory(status=FetchRun.Status.SUCCEEDED, listed_count=120, stored_count=117)

    page = editor_client.get("/admin/papers/fetchrun/").content.decode()

    assert ">failed</span>" in page
    assert "HTTP 503 from rss.arxiv.org" in page
    assert "Traceback" not in page  # only the first line in the list
    assert '<strong style="color:#cf222e">117 / 120</strong>' in page


def test_a_fetch_run_page_shows_the_whole_error(editor_client):
    run = FetchRunFactory(status=FetchRun.Status.FAILED, error="line one\n<line two>")

    page = editor_client.get(f"/admin/papers/fetchrun/{run.pk}/change/").content.decode()

    assert "line one\n&lt;line two&gt;</pre>" in page


def test_sources_show_their_health_at_a_glance(editor_client, django_assert_max_num_queries):
    healthy = SourceFactory(name="arxiv-rss")
    failing = SourceFactory(name="hf-daily", kind="hf_daily")
    FetchRunFactory(source=healthy, status=FetchRun.Status.SUCCEEDED)
    FetchRunFactory(source=failing, status=FetchRun.Status.SUCCEEDED)
    stale = timezone.now() - dt.timedelta(days=3)
    FetchRun.objects.filter(source=failing).update(started_at=stale, finished_at=stale)
    FetchRunFactory(source=failing, status=FetchRun.Status.FAILED, error="HTTP 429 Too Many")

    with django_assert_max_num_queries(8):
        page = editor_client.get("/admin/papers/source/").content.decode()

    rows = {name: page[page.index(f">{name}</a>") :] for name in ("arxiv-rss", "hf-daily")}
    assert ">healthy</span>" in rows["arxiv-rss"].split("</tr>")[0]
    assert ">needs a look</span>" in rows["hf-daily"].split("</tr>")[0]
    assert "HTTP 429 Too Many" in rows["hf-daily"].split("</tr>")[0]


def test_source_categories_are_edited_as_text(admin_client):
    source = SourceFactory(name="arxiv-rss", categories=["cs.CV"])

    response = admin_client.post(
        f"/admin/papers/source/{source.pk}/change/",
        {
            "name": "arxiv-rss",
            "kind": "arxiv_rss",
            "enabled": "on",
            "categories": "cs.CV, cs.RO",
            "query": "",
            "runs-TOTAL_FORMS": "0",
            "runs-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    source.refresh_from_db()
    assert source.categories == ["cs.CV", "cs.RO"]
