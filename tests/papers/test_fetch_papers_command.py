"""`manage.py fetch_papers`: saved files of each format, live sources, clear failures."""

from __future__ import annotations

import datetime as dt
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from papers.models import FetchRun, Paper, Source
from tests.factories import PaperFactory
from tests.papers.conftest import DATA, Reply, recorded

pytestmark = pytest.mark.django_db


def fetch_papers(*args: str) -> list[str]:
    out = StringIO()
    call_command("fetch_papers", *args, stdout=out)
    return out.getvalue().splitlines()


def snapshot() -> list[dict]:
    return list(Paper.objects.order_by("arxiv_id").values())


@pytest.mark.parametrize(
    ("name", "source", "summary"),
    [
        (
            "arxiv_api_search.atom",
            "arxiv-api",
            "4 entries read, 4 created, 0 updated, 0 unchanged, 0 skipped, 0 rejected",
        ),
        (
            "arxiv_rss_2025-02-13.xml",
            "arxiv-rss",
            "11 entries read, 6 created, 0 updated, 0 unchanged, 3 skipped, 2 rejected",
        ),
        (
            "hf_daily_papers_2025-02-14.json",
            "hf-daily",
            "6 entries read, 4 created, 0 updated, 0 unchanged, 0 skipped, 2 rejected",
        ),
    ],
)
def test_a_saved_file_of_each_format_is_ingested_and_summarised(name, source, summary):
    lines = fetch_papers("--file", str(DATA / name))

    assert lines[-1] == summary
    run = FetchRun.objects.get()
    assert run.source.name == source
    assert run.origin == str(DATA / name)


def test_ingesting_a_file_again_changes_nothing_and_says_so():
    fetch_papers("--file", str(DATA / "arxiv_api_search.atom"))
    before = snapshot()

    lines = fetch_papers("--file", str(DATA / "arxiv_api_search.atom"))

    assert lines[-1] == (
        "4 entries read, 0 created, 0 updated, 4 unchanged, 0 skipped, 0 rejected (nothing changed)"
    )
    assert snapshot() == before


def test_the_format_is_detected_from_the_content_not_the_name(tmp_path):
    disguised = tmp_path / "download.txt"
    shutil.copy(DATA / "arxiv_rss_2025-02-13.xml", disguised)

    fetch_papers("--file", str(disguised))

    run = FetchRun.objects.get()
    assert (run.source.name, run.announced_on) == ("arxiv-rss", dt.date(2025, 2, 13))
    assert (run.listed_count, run.stored_count) == (8, 6)


def test_a_listing_file_reports_its_completeness():
    lines = fetch_papers("--file", str(DATA / "arxiv_rss_2025-02-13.xml"))

    assert lines[-2].startswith(
        "arxiv-rss: partial: some entries rejected; listing of 2025-02-13: 8 listed, 6 stored"
    )


def test_a_hugging_face_file_can_be_dated():
    fetch_papers("--file", str(DATA / "hf_daily_papers_2025-02-27.json"), "--date", "2025-02-27")

    assert Paper.objects.get().hf_featured_on == dt.date(2025, 2, 27)
    assert FetchRun.objects.get().announced_on == dt.date(2025, 2, 27)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("arxiv_api_malformed.atom", "malformed XML, nothing ingested: "),
        ("arxiv_rss_malformed.xml", "malformed XML, nothing ingested: "),
        ("arxiv_api_error.atom", "arXiv API error: incorrect id format for 1234.12345"),
        ("arxiv_api_empty.atom", "empty feed: no entries"),
        ("hf_daily_papers_truncated.json", "truncated or invalid JSON, nothing ingested: "),
    ],
)
def test_a_bad_file_fails_clearly_and_leaves_the_table_untouched(name, error):
    PaperFactory(arxiv_id="2502.07701", title="Stored before", hf_upvotes=3)
    before = snapshot()

    with pytest.raises(CommandError) as failure:
        fetch_papers("--file", str(DATA / name))

    assert str(failure.value).startswith(f"1 of 1 fetches failed: {error}")
    run = FetchRun.objects.get()
    assert run.status == FetchRun.Status.FAILED
    assert run.error.startswith(error)
    assert snapshot() == before


def test_an_empty_file_fails_clearly(tmp_path):
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")

    with pytest.raises(
        CommandError, match="^1 of 1 fetches failed: empty file: nothing to ingest$"
    ):
        fetch_papers("--file", str(empty))

    assert FetchRun.objects.get().status == FetchRun.Status.FAILED


def test_a_file_for_another_kind_of_source_is_refused():
    with pytest.raises(CommandError, match="holds arXiv RSS, but source hf-daily reads"):
        fetch_papers("--file", str(DATA / "arxiv_rss_2025-02-13.xml"), "--source", "hf-daily")

    assert Paper.objects.count() == 0


def test_an_unknown_source_is_named_with_the_ones_there_are():
    with pytest.raises(CommandError) as failure:
        fetch_papers("--source", "arxiv")

    assert str(failure.value) == "no source named 'arxiv' (sources: arxiv-api, arxiv-rss, hf-daily)"


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="is not a file$"):
        fetch_papers("--file", str(tmp_path / "nothing.xml"))


def test_fetching_a_source_shows_progress_and_ends_with_the_summary(sources_at):
    sources_at.reply("/api/daily_papers", Reply(200, recorded("hf_daily_papers_2025-02-14.json")))

    lines = fetch_papers("--source", "hf-daily", "--date", "2025-02-14")

    assert lines[0] == f"hf-daily: reading {sources_at.url}/api/daily_papers?date=2025-02-14"
    assert lines[1].startswith("  6 entries read from ")
    assert lines[-1] == "6 entries read, 4 created, 0 updated, 0 unchanged, 0 skipped, 2 rejected"


def test_without_a_source_every_enabled_one_is_fetched(sources_at):
    Source.objects.exclude(name="hf-daily").update(enabled=False)
    sources_at.reply("/api/daily_papers", Reply(200, recorded("hf_daily_papers_2025-02-27.json")))

    lines = fetch_papers()

    assert lines[-1] == "1 entries read, 1 created, 0 updated, 0 unchanged, 0 skipped, 0 rejected"
    assert [request.path for request in sources_at.requests] == ["/api/daily_papers"]
