"""One bad value inside an otherwise good response: that entry is rejected alone and counted,
the rest are stored, and every FetchRun ends with a status and its error, never `running`."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import string

import pytest
from django.core.management import CommandError, call_command

from papers import services
from papers.ingest import ingest_records
from papers.models import FetchRun, Paper, Source
from papers.sources.records import HF_DAILY, PaperRecord
from tests.clock import NOW
from tests.papers.conftest import DATA, Reply, recorded

pytestmark = pytest.mark.django_db

Status = FetchRun.Status
GOOD_IDS = ["2502.00001", "2502.00003"]
BAD_ID = "2502.00002"


def hf_item(arxiv_id: str, **paper_fields: object) -> dict:
    paper = {
        "id": arxiv_id,
        "title": f"A good paper {arxiv_id}",
        "summary": "We study diffusion models and report results.",
        "authors": [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}],
        "publishedAt": "2025-02-11T17:55:33.000Z",
        "upvotes": 12,
        "ai_keywords": ["diffusion"],
        **paper_fields,
    }
    return {"paper": paper, "title": paper["title"], "numComments": 2}


def hf_document(bad_item_json: str) -> bytes:
    """Three items, the middle one written by hand (so it can hold what json.dumps cannot)."""
    good = [json.dumps(hf_item(arxiv_id)) for arxiv_id in GOOD_IDS]
    return f"[{good[0]}, {bad_item_json}, {good[1]}]".encode()


def bad_item(**fields: str) -> str:
    """The middle item with some paper fields given as raw JSON text."""
    placeholders = {name: f"@@{name}@@" for name in fields}
    item = hf_item(BAD_ID, **placeholders)
    if "numComments" in fields:
        item["numComments"] = placeholders["numComments"]
    text = json.dumps(item)
    for name, raw in fields.items():
        text = text.replace(json.dumps(placeholders[name]), raw)
    return text


def incompressible_text(length: int) -> str:
    """Text PostgreSQL cannot compress: a long title of it is too big for a btree index row."""
    rng = random.Random(length)
    return "".join(rng.choice(string.ascii_letters + " ") for _ in range(length)).strip() + "x"


def ingest_file(tmp_path, content: bytes) -> FetchRun:
    path = tmp_path / "daily.json"
    path.write_bytes(content)
    return services.file_ingest(path=path, on=dt.date(2025, 2, 14))


POISON = {
    "a 3,000-character title": bad_item(title=json.dumps(incompressible_text(3000))),
    "an abstract of 100,000 characters": bad_item(summary=json.dumps("word " * 20_000)),
    "a JSON value nested 200,000 deep": bad_item(extra="[" * 200_000 + "]" * 200_000),
    "upvotes 1e20": bad_item(upvotes="1e20"),
    "upvotes Infinity": bad_item(upvotes="Infinity"),
    "upvotes NaN": bad_item(upvotes="NaN"),
    "upvotes 1e400": bad_item(upvotes="1e400"),
    "upvotes of 5,000 digits": bad_item(upvotes="9" * 5000),
    "comments -1e308": bad_item(numComments="-1e308"),
    "publishedAt in the year 9999": bad_item(publishedAt='"9999-12-31T23:59:59Z"'),
    "publishedAt 0001-01-01+05:00": bad_item(publishedAt='"0001-01-01T00:00:00+05:00"'),
    "100,000 authors": bad_item(authors=json.dumps([{"name": f"A{n} B"} for n in range(100_000)])),
    "200,000 keywords": bad_item(ai_keywords=json.dumps([f"k{n}" for n in range(200_000)])),
    "an author name of 5,000 characters": bad_item(authors=json.dumps([{"name": "N" * 5000}])),
    "version 99999 of a paper": bad_item(id='"2502.00002v99999"'),
}


@pytest.mark.parametrize("poison", POISON.values(), ids=POISON.keys())
def test_one_bad_entry_is_rejected_alone_and_the_rest_are_stored(tmp_path, poison):
    run = ingest_file(tmp_path, hf_document(poison))

    assert run.status == Status.PARTIAL, run.error
    assert (run.entries_read, run.created_count, run.rejected_count) == (3, 2, 1)
    assert run.error.startswith(f"1 entries rejected: entry 2 ({BAD_ID}): ")
    assert sorted(Paper.objects.values_list("arxiv_id", flat=True)) == GOOD_IDS


def test_a_nul_in_a_string_is_dropped_and_the_paper_is_stored(tmp_path):
    nul = bad_item(
        title=json.dumps("Null\u0000 title"),
        summary=json.dumps("An \u0000abstract"),
        authors=json.dumps([{"name": "Ada\u0000 Lovelace"}]),
        ai_keywords=json.dumps(["key\u0000word"]),
    )

    run = ingest_file(tmp_path, hf_document(nul))

    assert run.status == Status.SUCCEEDED, run.error
    paper = Paper.objects.get(arxiv_id=BAD_ID)
    assert (paper.title, paper.abstract) == ("Null title", "An abstract")
    assert (paper.authors, paper.hf_keywords) == (["Ada Lovelace"], ["keyword"])


def test_a_whole_document_nested_too_deep_fails_clearly(tmp_path):
    run = ingest_file(tmp_path, b"[" * 200_000 + b"]" * 200_000)

    assert run.status == Status.FAILED
    assert "nested too deep" in run.error
    assert not Paper.objects.exists()


def arxiv_listing_with(*, title: str) -> bytes:
    text = recorded("arxiv_rss_2025-02-13.xml").decode()
    cellflow = "<title>CellFlow: Simulating Cellular Morphology Changes via Flow Matching</title>"
    return text.replace(cellflow, f"<title>{title}</title>", 1).encode()


def test_a_listing_item_with_a_3000_character_title_is_rejected_alone(tmp_path):
    path = tmp_path / "listing.xml"
    path.write_bytes(arxiv_listing_with(title=incompressible_text(3000)))

    run = services.file_ingest(path=path)

    assert run.status == Status.PARTIAL
    assert re.search(
        r"entry 1 \(2502.09775\): a title of [\d,]{5} characters \(at most 500\)", run.error
    )
    assert (run.created_count, run.rejected_count) == (5, 3)  # it had 6 and 2
    assert not Paper.objects.filter(arxiv_id="2502.09775").exists()


def test_an_api_entry_published_in_the_year_9999_is_rejected_alone(tmp_path):
    text = recorded("arxiv_api_search.atom").decode()
    first = re.search(r"<published>[^<]+</published>", text)[0]
    path = tmp_path / "search.atom"
    path.write_bytes(text.replace(first, "<published>9999-12-31T23:59:59Z</published>", 1).encode())

    run = services.file_ingest(path=path)

    assert run.status == Status.PARTIAL, run.error
    assert (run.created_count, run.rejected_count) == (3, 1)
    assert "published 9999-12-31" in run.error


def test_the_hourly_fetch_of_a_poisoned_list_stores_the_good_papers(sources_at):
    sources_at.reply("/api/daily_papers", Reply(200, hf_document(POISON["upvotes Infinity"])))
    hf = Source.objects.get(name="hf-daily")

    [run] = services.source_fetch(source_id=hf.pk, on=dt.date(2025, 2, 14))

    assert (run.status, run.created_count, run.rejected_count) == (Status.PARTIAL, 2, 1)


def test_an_unexpected_error_ends_the_run_failed_with_its_error(tmp_path, monkeypatch):
    def broken(**_kwargs):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(services, "ingest_records", broken)

    run = ingest_file(tmp_path, hf_document(json.dumps(hf_item(BAD_ID))))

    assert run.status == Status.FAILED
    assert run.error == "unexpected error: RuntimeError: the disk caught fire"
    assert run.finished_at is not None
    assert not FetchRun.objects.filter(status=Status.RUNNING).exists()


def test_the_command_reports_an_unexpected_error_and_exits_non_zero(tmp_path, monkeypatch):
    monkeypatch.setattr(services, "ingest_records", lambda **_kwargs: 1 / 0)

    with pytest.raises(CommandError, match="unexpected error: ZeroDivisionError"):
        call_command("fetch_papers", "--file", str(DATA / "hf_daily_papers_2025-02-14.json"))

    assert FetchRun.objects.get().status == Status.FAILED


def test_an_unexpected_error_in_the_lookups_fails_that_run_and_keeps_the_listing(
    sources_at, monkeypatch
):
    Source.objects.filter(kind__in=["arxiv_rss", "arxiv_api"]).update(categories=["cs.CV", "cs.LG"])
    sources_at.reply("/rss/cs.CV+cs.LG", Reply(200, recorded("arxiv_rss_2025-02-13.xml")))
    sources_at.route("/api/query", lambda _query: Reply(200, b"<feed"))

    def lookups_break(*_args, **_kwargs):
        raise KeyError("lost")

    monkeypatch.setattr(services.arxiv_api, "parse", lookups_break)
    rss = Source.objects.get(name="arxiv-rss")

    listing, lookup = services.source_fetch(source_id=rss.pk, on=dt.date(2025, 2, 13))

    assert listing.status == Status.PARTIAL  # its own two rejected entries
    assert (lookup.status, lookup.error) == (
        Status.FAILED,
        "unexpected error: KeyError: 'lost'",
    )
    assert Paper.objects.count() == 6
    assert not FetchRun.objects.filter(status=Status.RUNNING).exists()


def test_a_run_left_running_by_a_killed_process_is_failed_by_the_next_tick():
    rss = Source.objects.get(name="arxiv-rss")
    abandoned = FetchRun.objects.create(source=rss, origin="https://rss.arxiv.org/rss/cs.CV")
    FetchRun.objects.filter(pk=abandoned.pk).update(started_at=NOW - dt.timedelta(hours=2))
    recent = FetchRun.objects.create(source=rss, origin="https://rss.arxiv.org/rss/cs.CV")

    services.arxiv_listings_due(now=NOW)

    abandoned.refresh_from_db()
    assert abandoned.status == Status.FAILED
    assert abandoned.error.startswith("abandoned: the process running this fetch stopped")
    assert abandoned.finished_at == NOW
    recent.refresh_from_db()
    assert recent.status == Status.RUNNING  # an hour has not passed: it may still be running


def test_a_paper_the_database_refuses_is_rejected_alone():
    # A value no bound foresaw: records handed to ingest directly skip the parsers' bounds,
    # so only PostgreSQL's index row limit stands in the way.
    entries = [
        PaperRecord(arxiv_id="2502.00001", title="A good paper"),
        PaperRecord(arxiv_id=BAD_ID, title=incompressible_text(3000)),
        PaperRecord(arxiv_id="2502.00003", title="Another good paper"),
    ]

    result = ingest_records(records=entries, kind=HF_DAILY)

    assert (result.created, result.rejected) == (2, 1)
    assert str(result.rejections[0]).startswith(
        f"an entry ({BAD_ID}): the database refused it: index row size"
    )
    assert result.stored_ids == GOOD_IDS
    assert sorted(Paper.objects.values_list("arxiv_id", flat=True)) == GOOD_IDS
