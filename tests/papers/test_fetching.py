"""Fetching through a real HTTP server on 127.0.0.1: the daily arXiv run, back-fills,
Hugging Face, the beat ticks, and every way a source can fail."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from papers import services
from papers.models import FetchRun, Paper, Source
from papers.sources.arxiv_ids import split_arxiv_id
from papers.tasks import fetch_arxiv_listings, fetch_hf_daily_papers, fetch_source
from tests.factories import PaperFactory
from tests.papers.conftest import Reply, recorded

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
LISTING_DAY = dt.date(2025, 2, 13)
RSS_PATH = "/rss/cs.CV+cs.LG"
API_PATH = "/api/query"
HF_PATH = "/api/daily_papers"
Status = FetchRun.Status


def source(name: str) -> Source:
    return Source.objects.get(name=name)


@pytest.fixture
def arxiv(sources_at):
    """The arXiv sources read cs.CV and cs.LG; the API answers id_list lookups from the
    recorded lookup feed, with only the entries asked for (as the real one does)."""
    Source.objects.filter(kind__in=["arxiv_rss", "arxiv_api"]).update(categories=["cs.CV", "cs.LG"])
    sources_at.route(API_PATH, lambda query: Reply(200, lookup_answer(query["id_list"])))
    return sources_at


def lookup_answer(id_list: str, *, known: set[str] | None = None) -> bytes:
    text = recorded("arxiv_api_lookup_2025-02-13.atom").decode()
    head, *entries = text.split("  <entry>")
    entries[-1] = entries[-1].replace("</feed>\n", "")
    wanted = set(id_list.split(","))
    if known is not None:
        wanted &= known
    kept = [
        entry
        for entry in entries
        if split_arxiv_id(re.search(r"<id>(.*?)</id>", entry)[1])[0] in wanted
    ]
    head = re.sub(r"(<opensearch:totalResults[^>]*>)\d+", rf"\g<1>{len(kept)}", head)
    return ("  <entry>".join([head, *kept]) + "</feed>\n").encode()


def snapshot() -> list[dict]:
    return list(Paper.objects.order_by("arxiv_id").values())


# --- the daily arXiv run -------------------------------------------------------------------


def test_daily_run_reads_the_listing_then_looks_the_ids_up_in_batches(arxiv, monkeypatch, settings):
    settings.ARXIV_REQUEST_INTERVAL = 0.5
    monkeypatch.setattr(services, "LOOKUP_BATCH_SIZE", 4)
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))

    listing, lookup = services.source_fetch(source_id=source("arxiv-rss").pk)

    assert listing.source.name == "arxiv-rss"
    assert (listing.status, listing.announced_on) == (Status.PARTIAL, LISTING_DAY)
    assert (listing.entries_read, listing.created_count, listing.skipped_count) == (11, 6, 3)
    assert listing.rejected_count == 2
    assert listing.error == (
        "2 entries rejected: entry 10 (2502.09612): no title; entry 11 (ManiTrend: Bridging "
        "Future Generation and Action Prediction with 3D Flow for Rob): no arXiv id"
    )
    assert lookup.source.name == "arxiv-api"
    assert (lookup.status, lookup.updated_count, lookup.error) == (Status.SUCCEEDED, 6, "")
    asked = [request.query for request in arxiv.seen(API_PATH)]
    assert asked == [
        {"id_list": "2502.08927,2502.09307,2502.09411,2502.09434", "max_results": "4"},
        {"id_list": "2502.09611,2502.09775", "max_results": "2"},
    ]
    paper = Paper.objects.get(arxiv_id="2502.09434")
    assert paper.announced_on == LISTING_DAY
    assert paper.comment.startswith("12 pages,9 figures")
    assert paper.code_url == "https://github.com/liuxiao-guan/IET_AGC"
    # Spaced at the client; an arrival can lag its slot on a loaded machine (0.2 s allowed
    # for), and unspaced they would be ~1 ms apart.
    times = [request.at for request in arxiv.requests]
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(times))


def test_completeness_compares_the_listing_with_the_papers_stored(arxiv):
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))

    listing, _ = services.source_fetch(source_id=source("arxiv-rss").pk)

    # Six new and cross items stored; the untitled and the id-less items are missing.
    assert (listing.listed_count, listing.stored_count) == (8, 6)
    assert listing.missing_count == 2


def test_replacements_of_stored_papers_are_looked_up_too(arxiv):
    PaperFactory(
        arxiv_id="2412.05000",
        latest_version=1,
        announced_on=dt.date(2024, 12, 9),
        seen_in_sources=["arxiv_api", "arxiv_rss"],
    )
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))

    services.source_fetch(source_id=source("arxiv-rss").pk)

    looked_up = ",".join(request.query["id_list"] for request in arxiv.seen(API_PATH))
    assert "2412.05000" in looked_up
    replaced = Paper.objects.get(arxiv_id="2412.05000")
    assert (replaced.latest_version, replaced.announced_on) == (2, dt.date(2024, 12, 9))


def test_refetching_the_same_listing_changes_nothing(arxiv):
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))
    services.source_fetch(source_id=source("arxiv-rss").pk)
    before = snapshot()

    runs = services.source_fetch(source_id=source("arxiv-rss").pk)

    assert len(runs) == 1  # every listed paper has its metadata: no lookups
    assert (runs[0].created_count, runs[0].updated_count, runs[0].unchanged_count) == (0, 0, 6)
    assert snapshot() == before


def test_papers_the_api_does_not_index_yet_wait_for_the_next_tick(sources_at):
    Source.objects.filter(kind__in=["arxiv_rss", "arxiv_api"]).update(categories=["cs.CV", "cs.LG"])
    known = {"2502.09775", "2502.09611", "2502.09434", "2502.09411"}
    sources_at.route(API_PATH, lambda q: Reply(200, lookup_answer(q["id_list"], known=known)))
    sources_at.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))

    _, lookup = services.source_fetch(source_id=source("arxiv-rss").pk)

    assert lookup.status == Status.PARTIAL
    assert lookup.error == (
        "2 of 6 papers are not in the API's index yet; looked up again on the next tick"
    )
    with time_machine.travel(dt.datetime(2025, 2, 13, 1, 20, tzinfo=NEW_YORK), tick=False):
        due = services.arxiv_listings_due(now=dt.datetime.now(dt.UTC))
    assert due == [services.DueFetch(source("arxiv-rss").pk, LISTING_DAY, lookup_only=True)]


def test_a_listing_not_out_yet_waits_and_the_next_try_reuses_the_run(arxiv):
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-12.xml")))
    rss = source("arxiv-rss")

    (waiting,) = services.source_fetch(source_id=rss.pk, on=LISTING_DAY, scheduled=True)
    (again,) = services.source_fetch(source_id=rss.pk, on=LISTING_DAY, scheduled=True)

    assert again.pk == waiting.pk
    assert (again.status, again.attempts) == (Status.WAITING, 2)
    assert again.error == (
        "the listing for 2025-02-13 is not out yet: the feed is still dated 2025-02-12 "
        "(2 tries); the next tick tries again"
    )
    assert Paper.objects.count() == 0

    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))
    listing, _ = services.source_fetch(source_id=rss.pk, on=LISTING_DAY, scheduled=True)

    assert (listing.pk, listing.status, listing.attempts) == (waiting.pk, Status.PARTIAL, 3)
    assert FetchRun.objects.filter(source=rss).count() == 1


def test_a_scheduled_fetch_of_a_stored_listing_does_nothing(arxiv):
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))
    rss = source("arxiv-rss")
    services.source_fetch(source_id=rss.pk, on=LISTING_DAY, scheduled=True)
    requests = len(arxiv.requests)

    assert services.source_fetch(source_id=rss.pk, on=LISTING_DAY, scheduled=True) == []
    assert len(arxiv.requests) == requests


def test_asking_the_rss_for_an_older_day_points_to_the_back_fill(arxiv):
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))

    (run,) = services.source_fetch(source_id=source("arxiv-rss").pk, on=dt.date(2025, 2, 12))

    assert run.status == Status.FAILED
    assert run.error == (
        "the RSS only serves its current listing, dated 2025-02-13; back-fill 2025-02-12 "
        "with: fetch_papers --source <an arxiv-api source> --date 2025-02-12"
    )
    assert Paper.objects.count() == 0


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        (
            [Reply(503, b"busy")],
            r"^HTTP 503 Service Unavailable from http://127\.0\.0\.1:\d+/rss/cs\.CV\+cs\.LG "
            r"after 3 attempts$",
        ),
        ([Reply(200, b"never", hang=True)], r"^no answer within 1 s from .* after 3 attempts$"),
        ([Reply(200, recorded("arxiv_rss_malformed.xml"))], "^malformed XML, nothing ingested: "),
        ([Reply(200, b"")], "^empty response: no feed in it$"),
        (
            [Reply(200, recorded("arxiv_rss_weekend.xml"))],
            "^empty feed: the listing for 2025-02-15 has no items$",
        ),
    ],
    ids=["http-503", "timeout", "malformed", "empty-body", "empty-listing"],
)
def test_a_bad_answer_fails_the_run_clearly_and_leaves_the_table_untouched(
    arxiv, settings, replies, error
):
    settings.HTTP_TIMEOUT = 1.0  # ample for a local answer, and a hang never answers
    PaperFactory(arxiv_id="2502.09411", title="Stored before")
    before = snapshot()
    arxiv.reply(RSS_PATH, *replies)

    (run,) = services.source_fetch(source_id=source("arxiv-rss").pk)

    assert run.status == Status.FAILED
    assert re.search(error, run.error), run.error
    assert run.finished_at is not None
    assert (run.entries_read, run.created_count, run.updated_count) == (0, 0, 0)
    assert snapshot() == before
    assert arxiv.seen(API_PATH) == []


def test_503_then_a_timeout_then_success_is_one_good_run(arxiv, settings):
    settings.HTTP_TIMEOUT = 1.0  # ample for a local answer, and a hang never answers
    arxiv.reply(
        RSS_PATH,
        Reply(503, b"busy"),
        Reply(200, b"never", hang=True),
        Reply(200, recorded("arxiv_rss_2025-02-13.xml")),
    )

    listing, _ = services.source_fetch(source_id=source("arxiv-rss").pk)

    assert listing.status == Status.PARTIAL  # the two rejected items, nothing else
    assert listing.created_count == 6
    assert len(arxiv.seen(RSS_PATH)) == 3


def ill_formed(kind: str) -> bytes:
    """The good listing of 2025-02-13, spoiled the ways feedparser's ill-formed feeds are."""
    good = recorded("arxiv_rss_2025-02-13.xml")
    title = good.index(b"<title>", good.index(b"<item>")) + len(b"<title>")
    return {
        "cut-in-half": good[: len(good) // 2],
        "undefined-entity": good[:title] + b"&nbsp;" + good[title:],
        "mismatched-tag": good.replace(b"</title>", b"</titel>", 2),
        "nul-byte": good[:title] + b"\x00" + good[title:],
        # One stray Latin-1 byte in a UTF-8 document: feedparser would re-decode the whole
        # listing as another charset and every accented name would be stored garbled.
        "stray-latin-1-byte": good[:title] + b"caf\xe9 " + good[title:],
        "html-error-page": b"<html><body><h1>Rate exceeded</h1></body></html>",
    }[kind]


@pytest.mark.parametrize(
    "kind",
    [
        "cut-in-half",
        "undefined-entity",
        "mismatched-tag",
        "nul-byte",
        "stray-latin-1-byte",
        "html-error-page",
    ],
)
def test_an_ill_formed_listing_fails_untouched_and_the_next_run_recovers(arxiv, kind):
    PaperFactory(arxiv_id="2502.09411", title="Stored before, by Zoë")
    before = snapshot()
    arxiv.reply(RSS_PATH, Reply(200, ill_formed(kind)))

    (failed,) = services.source_fetch(source_id=source("arxiv-rss").pk)

    assert failed.status == Status.FAILED
    assert failed.error.startswith(("malformed XML, nothing ingested: ", "expected rss or atom"))
    assert snapshot() == before
    assert arxiv.seen(API_PATH) == []

    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))
    listing, lookup = services.source_fetch(source_id=source("arxiv-rss").pk)

    assert (listing.status, listing.created_count) == (Status.PARTIAL, 5)
    assert lookup.status == Status.SUCCEEDED
    assert Paper.objects.count() == 6  # the five new ones and the one stored before
    assert not Paper.objects.filter(title__contains="\u0102").exists()  # no "Ă" mojibake


def test_a_lookup_that_fails_keeps_the_listing_and_says_where_it_stopped(arxiv, monkeypatch):
    monkeypatch.setattr(services, "LOOKUP_BATCH_SIZE", 4)
    answers = iter([Reply(200, lookup_answer("2502.08927,2502.09307,2502.09411,2502.09434"))])
    arxiv.route(API_PATH, lambda query: next(answers, Reply(503, b"busy")))
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))

    listing, lookup = services.source_fetch(source_id=source("arxiv-rss").pk)

    assert listing.created_count == 6
    assert lookup.status == Status.PARTIAL
    assert lookup.updated_count == 4
    assert lookup.error.startswith("lookup stopped at id 5 of 6: HTTP 503 Service Unavailable")


def test_two_fetches_of_arxiv_never_run_at_once(arxiv):
    cache.add("papers:fetch-lock:arxiv", "someone else", 60)

    with pytest.raises(services.SourceBusy, match="another fetch from arxiv is running"):
        services.source_fetch(source_id=source("arxiv-api").pk, on=LISTING_DAY)

    assert arxiv.requests == []
    assert FetchRun.objects.count() == 0


# --- back-filling a day through the API search ------------------------------------------


def test_a_day_is_back_filled_page_by_page_through_the_api_search(sources_at, monkeypatch):
    monkeypatch.setattr(services, "SEARCH_PAGE_SIZE", 3)
    Source.objects.filter(name="arxiv-api").update(categories=["cs.CV", "cs.LG"])
    pages = {"0": "arxiv_api_backfill_page1.atom", "3": "arxiv_api_backfill_page2.atom"}
    sources_at.route(API_PATH, lambda query: Reply(200, recorded(pages[query["start"]])))

    (run,) = services.source_fetch(source_id=source("arxiv-api").pk, on=LISTING_DAY)

    assert (run.status, run.entries_read, run.created_count) == (Status.SUCCEEDED, 5, 5)
    first, second = sources_at.seen(API_PATH)
    assert first.query == {
        "search_query": "(cat:cs.CV OR cat:cs.LG) AND submittedDate:[202502111900 TO 202502121859]",
        "start": "0",
        "max_results": "3",
        "sortBy": "submittedDate",
        "sortOrder": "ascending",
    }
    assert second.query["start"] == "3"
    assert set(Paper.objects.values_list("announced_on", flat=True)) == {LISTING_DAY}


def test_back_filling_a_day_without_a_listing_asks_nothing(sources_at):
    (run,) = services.source_fetch(source_id=source("arxiv-api").pk, on=dt.date(2025, 2, 15))

    assert run.status == Status.NO_ANNOUNCEMENT
    assert run.error == "no arXiv listing on Saturdays: arXiv does not announce on Friday evenings"
    assert sources_at.requests == []


@pytest.mark.parametrize(
    ("name", "error"),
    [
        (
            "arxiv_api_error.atom",
            "stopped at entry 1: arXiv API error: incorrect id format for 1234.12345",
        ),
        ("arxiv_api_empty.atom", "empty feed: no entries"),
    ],
)
def test_an_api_error_or_empty_search_fails_the_back_fill(sources_at, name, error):
    sources_at.reply(API_PATH, Reply(200, recorded(name)))

    (run,) = services.source_fetch(source_id=source("arxiv-api").pk, on=LISTING_DAY)

    assert (run.status, run.error) == (Status.FAILED, error)
    assert Paper.objects.count() == 0


# --- Hugging Face ---------------------------------------------------------------------------


def test_hugging_face_is_asked_for_the_day_and_upvotes_refresh_on_every_fetch(sources_at):
    sources_at.reply(HF_PATH, Reply(200, recorded("hf_daily_papers_2025-02-14.json")))
    hf = source("hf-daily")

    (first,) = services.source_fetch(source_id=hf.pk, on=dt.date(2025, 2, 14))
    later = recorded("hf_daily_papers_2025-02-14.json").replace(b'"upvotes": 57', b'"upvotes": 80')
    sources_at.reply(HF_PATH, Reply(200, later))
    (second,) = services.source_fetch(source_id=hf.pk, on=dt.date(2025, 2, 14))

    assert sources_at.seen(HF_PATH)[0].query == {"date": "2025-02-14"}
    assert (first.status, first.created_count, first.rejected_count) == (Status.PARTIAL, 4, 2)
    assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 1, 3)
    assert Paper.objects.get(arxiv_id="2502.07701").hf_upvotes == 80


def test_an_empty_hugging_face_day_is_no_announcement(sources_at):
    sources_at.reply(HF_PATH, Reply(200, recorded("hf_daily_papers_weekend.json")))

    (run,) = services.source_fetch(source_id=source("hf-daily").pk, on=dt.date(2025, 2, 15))

    assert (run.status, run.error) == (
        Status.NO_ANNOUNCEMENT,
        "Hugging Face lists no papers for 2025-02-15 (none on weekends)",
    )


def test_truncated_hugging_face_json_fails_and_writes_nothing(sources_at):
    PaperFactory(arxiv_id="2502.07701", hf_upvotes=3)
    before = snapshot()
    sources_at.reply(HF_PATH, Reply(200, recorded("hf_daily_papers_truncated.json")))

    (run,) = services.source_fetch(source_id=source("hf-daily").pk)

    assert run.status == Status.FAILED
    assert run.error.startswith("truncated or invalid JSON, nothing ingested: ")
    assert snapshot() == before


def test_a_hugging_face_answer_cut_off_mid_transfer_fails_untouched_and_the_next_run_recovers(
    sources_at,
):
    day = recorded("hf_daily_papers_2025-02-14.json")
    PaperFactory(arxiv_id="2502.07701", hf_upvotes=3)
    before = snapshot()
    sources_at.reply(HF_PATH, Reply(200, day, cut_after=len(day) // 2))

    (failed,) = services.source_fetch(source_id=source("hf-daily").pk, on=dt.date(2025, 2, 14))

    assert failed.status == Status.FAILED
    assert failed.error.startswith("connection failed or broke off (ChunkedEncodingError) from ")
    assert failed.error.endswith(" after 3 attempts")
    assert len(sources_at.seen(HF_PATH)) == 3
    assert snapshot() == before

    sources_at.reply(HF_PATH, Reply(200, day, cut_after=len(day) // 2), Reply(200, day))
    (recovered,) = services.source_fetch(source_id=source("hf-daily").pk, on=dt.date(2025, 2, 14))

    assert (recovered.status, recovered.created_count, recovered.updated_count) == (
        Status.PARTIAL,
        3,
        1,
    )
    assert Paper.objects.get(arxiv_id="2502.07701").hf_upvotes == 57
    assert len(sources_at.seen(HF_PATH)) == 5  # the cut answer was retried within the run


# --- the beat ticks ---------------------------------------------------------------------------


def test_the_tick_fetches_the_listing_once_it_is_due_in_new_york(
    arxiv, django_capture_on_commit_callbacks
):
    arxiv.reply(RSS_PATH, Reply(200, recorded("arxiv_rss_2025-02-13.xml")))
    # 05:20 UTC on 13 February is 00:20 in New York: Thursday's listing is due.
    with time_machine.travel(dt.datetime(2025, 2, 13, 5, 20, tzinfo=dt.UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            fetch_arxiv_listings()
        with django_capture_on_commit_callbacks(execute=True):
            fetch_arxiv_listings()

    listing = FetchRun.objects.get(source__name="arxiv-rss")
    assert (listing.announced_on, listing.status) == (LISTING_DAY, Status.PARTIAL)
    assert len(arxiv.seen(RSS_PATH)) == 1


def test_the_tick_before_midnight_in_new_york_does_not_fetch_the_next_listing(
    arxiv, django_capture_on_commit_callbacks
):
    FetchRun.objects.create(
        source=source("arxiv-rss"), announced_on=dt.date(2025, 2, 12), status=Status.SUCCEEDED
    )
    # 04:20 UTC is still 23:20 on Wednesday in New York (EST).
    with time_machine.travel(dt.datetime(2025, 2, 13, 4, 20, tzinfo=dt.UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            fetch_arxiv_listings()

    assert arxiv.requests == []


def test_no_announcement_today_is_recorded_once(arxiv, django_capture_on_commit_callbacks):
    rss = source("arxiv-rss")
    FetchRun.objects.create(source=rss, announced_on=dt.date(2025, 2, 14), status=Status.SUCCEEDED)
    saturday_noon = dt.datetime(2025, 2, 15, 12, tzinfo=NEW_YORK)

    with time_machine.travel(saturday_noon, tick=False):
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                fetch_arxiv_listings()

    (none,) = FetchRun.objects.filter(source=rss, status=Status.NO_ANNOUNCEMENT)
    assert none.announced_on == dt.date(2025, 2, 15)
    assert none.error == "no arXiv listing on Saturdays: arXiv does not announce on Friday evenings"
    assert arxiv.requests == []


def test_a_failed_listing_is_retried_on_the_weekend(arxiv, django_capture_on_commit_callbacks):
    rss = source("arxiv-rss")
    FetchRun.objects.create(source=rss, announced_on=dt.date(2025, 2, 14), status=Status.FAILED)
    arxiv.reply(RSS_PATH, Reply(503, b"busy"))

    with time_machine.travel(dt.datetime(2025, 2, 15, 12, tzinfo=NEW_YORK), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            fetch_arxiv_listings()

    assert len(arxiv.seen(RSS_PATH)) == 3  # one try and two retries, for Friday's listing


def test_a_listing_that_never_came_is_closed_when_the_next_one_is_due(arxiv):
    rss = source("arxiv-rss")
    stale = FetchRun.objects.create(
        source=rss, announced_on=dt.date(2025, 2, 12), status=Status.WAITING
    )

    services.arxiv_listings_due(now=dt.datetime(2025, 2, 13, 0, 30, tzinfo=NEW_YORK))

    stale.refresh_from_db()
    assert stale.status == Status.NO_ANNOUNCEMENT
    assert stale.error == "no listing with this date appeared before the next one was due"


def test_disabled_sources_are_not_fetched(sources_at, django_capture_on_commit_callbacks):
    Source.objects.update(enabled=False)

    with time_machine.travel(dt.datetime(2025, 2, 13, 5, 20, tzinfo=dt.UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            fetch_arxiv_listings()
            fetch_hf_daily_papers()

    assert sources_at.requests == []
    assert FetchRun.objects.count() == 0


def test_a_busy_source_task_logs_and_returns(arxiv, caplog):
    cache.add("papers:fetch-lock:arxiv", "someone else", 60)

    fetch_source(source_id=source("arxiv-rss").pk, on="2025-02-13", scheduled=True)

    assert "another fetch from arxiv is running" in caplog.text
    assert arxiv.requests == []
