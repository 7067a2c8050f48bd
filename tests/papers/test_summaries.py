"""LLM summaries against a fake chat-completions server on 127.0.0.1: one sentence in the
reader's language, cached per paper and language, within the day's budget; garbage, HTML, a
5 MB body or no answer cost one timeout at most, are logged, and store nothing."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest

from papers.models import PaperSummary, SummaryBudget
from papers.summaries import (
    MAX_FAILURES_IN_A_ROW,
    ChatClient,
    calls_made,
    clean_summary,
    summaries_by_paper,
    summaries_make,
)
from tests.clock import TODAY
from tests.factories import PaperFactory
from tests.papers.conftest import RecordedServer, Reply, completion

pytestmark = pytest.mark.django_db

ENDPOINT = "/v1/chat/completions"
TIMEOUT = 0.5


@pytest.fixture
def llm(settings, server: RecordedServer) -> RecordedServer:
    settings.SUMMARY_API_URL = f"{server.url}/v1"
    settings.SUMMARY_MODEL = "tiny-model"
    settings.SUMMARY_API_KEY = "sk-test"
    settings.SUMMARY_TIMEOUT = TIMEOUT
    settings.SUMMARY_RETRIES = 1
    settings.SUMMARY_DAILY_CALLS = 100
    return server


def make(pairs, **options):
    return summaries_make(wanted=pairs, client=ChatClient(backoff=0.01), today=TODAY, **options)


def asked(server: RecordedServer) -> list[dict]:
    return [json.loads(request.body) for request in server.seen(ENDPOINT)]


def test_a_summary_is_asked_for_in_the_readers_language_and_stored(llm):
    paper = PaperFactory(title="Diffusion for video", abstract="We denoise frames.")
    llm.reply(ENDPOINT, completion("该方法用扩散模型逐帧去噪生成视频。"))

    report = make([(paper.pk, "zh-hans")])

    assert (report.made, report.failed) == (1, 0)
    stored = PaperSummary.objects.get()
    assert (stored.language, stored.text, stored.model) == (
        "zh-hans",
        "该方法用扩散模型逐帧去噪生成视频。",
        "tiny-model",
    )
    (request,) = asked(llm)
    assert request["model"] == "tiny-model"
    assert "Simplified Chinese" in request["messages"][0]["content"]
    assert "Title: Diffusion for video" in request["messages"][1]["content"]
    assert "We denoise frames." in request["messages"][1]["content"]
    assert llm.seen(ENDPOINT)[0].headers["Authorization"] == "Bearer sk-test"


def test_a_stored_summary_is_never_asked_for_again(llm):
    paper = PaperFactory()
    llm.reply(ENDPOINT, completion("It studies things."))
    make([(paper.pk, "en")])

    second = make([(paper.pk, "en"), (paper.pk, "en")])

    assert (second.made, second.skipped) == (0, 1)
    assert len(llm.seen(ENDPOINT)) == 1
    assert summaries_by_paper(paper_ids=[paper.pk]) == {paper.pk: (("en", "It studies things."),)}


def test_each_language_is_its_own_summary(llm):
    paper = PaperFactory()
    llm.reply(ENDPOINT, completion("English one."), completion("中文的一句。"))

    make([(paper.pk, "en"), (paper.pk, "zh-hans")])

    assert summaries_by_paper(paper_ids=[paper.pk]) == {
        paper.pk: (("en", "English one."), ("zh-hans", "中文的一句。"))
    }


def test_a_language_paperboy_does_not_speak_is_not_asked_for(llm):
    paper = PaperFactory()

    report = make([(paper.pk, "fr")])

    assert report.made == 0
    assert llm.seen(ENDPOINT) == []


def test_without_a_base_url_nothing_is_asked(llm, settings):
    settings.SUMMARY_API_URL = ""
    paper = PaperFactory()

    make([(paper.pk, "en")])

    assert llm.seen(ENDPOINT) == []
    assert not PaperSummary.objects.exists()


def test_the_daily_budget_stops_the_calls_and_a_new_day_has_a_new_one(llm, settings):
    settings.SUMMARY_DAILY_CALLS = 2
    papers = PaperFactory.create_batch(3)
    llm.reply(ENDPOINT, completion("A sentence."))

    report = make([(paper.pk, "en") for paper in papers])

    assert report.made == 2
    assert "budget" in report.stopped
    assert len(llm.seen(ENDPOINT)) == 2
    assert calls_made(day=TODAY) == 2
    assert PaperSummary.objects.exclude(text="").count() == 2
    # The paper the budget stopped was not tried: tomorrow it is.
    tomorrow = summaries_make(
        wanted=[(paper.pk, "en") for paper in papers],
        client=ChatClient(backoff=0.01),
        today=TODAY + dt.timedelta(days=1),
    )
    assert tomorrow.made == 1
    assert SummaryBudget.objects.get(day=TODAY + dt.timedelta(days=1)).calls == 1


def test_a_retry_is_a_call_of_the_budget(llm):
    paper = PaperFactory()
    llm.reply(ENDPOINT, Reply(503, b"busy"), completion("After a retry."))

    report = make([(paper.pk, "en")])

    assert report.made == 1
    assert len(llm.seen(ENDPOINT)) == 2
    assert calls_made(day=TODAY) == 2


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(200, b"\x00\xff garbage \x13 not json"), "not a chat completion"),
        (
            Reply(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {}),
            "not a chat completion",
        ),
        (Reply(200, b'{"choices": []}'), "not a chat completion"),
        (Reply(200, b'{"choices": [{"message": {"content": 42}}]}'), "not text"),
        (completion("   "), "an empty summary"),
        (Reply(200, b"x" * (5 * 1024 * 1024)), "an answer over"),
        (Reply(400, b'{"error": "bad model"}'), "HTTP 400"),
    ],
    ids=["garbage", "html", "no-choice", "not-text", "empty", "5-MB", "refused"],
)
def test_a_bad_answer_costs_one_call_is_logged_and_stores_no_summary(llm, caplog, reply, reason):
    paper = PaperFactory(arxiv_id="2503.99999")
    llm.reply(ENDPOINT, reply)

    with caplog.at_level(logging.WARNING, logger="papers.summaries"):
        started = time.monotonic()
        report = make([(paper.pk, "en")])
        elapsed = time.monotonic() - started

    assert (report.made, report.failed) == (0, 1)
    assert len(llm.seen(ENDPOINT)) == 1
    assert elapsed < TIMEOUT * 2
    assert summaries_by_paper(paper_ids=[paper.pk]) == {}
    assert reason in PaperSummary.objects.get().error
    assert any("2503.99999" in line and reason in line for line in caplog.messages)


@pytest.mark.parametrize(
    "reply",
    [Reply(hang=True), Reply(200, completion("Too slow to arrive.").body, drip=0.2)],
    ids=["no-answer", "dripping"],
)
def test_no_answer_costs_one_timeout_and_is_not_retried(llm, caplog, reply):
    paper = PaperFactory()
    llm.reply(ENDPOINT, reply)

    with caplog.at_level(logging.WARNING, logger="papers.summaries"):
        started = time.monotonic()
        report = make([(paper.pk, "en")])
        elapsed = time.monotonic() - started

    assert report.failed == 1
    assert len(llm.seen(ENDPOINT)) == 1
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT * 3
    assert "no answer within 0.5 s" in PaperSummary.objects.get().error
    assert any("no answer within" in line for line in caplog.messages)


def test_a_failed_paper_is_tried_once_a_day(llm):
    paper = PaperFactory()
    llm.reply(ENDPOINT, Reply(200, b"garbage"), completion("Works tomorrow."))
    make([(paper.pk, "en")])

    make([(paper.pk, "en")])
    assert len(llm.seen(ENDPOINT)) == 1

    summaries_make(
        wanted=[(paper.pk, "en")],
        client=ChatClient(backoff=0.01),
        today=TODAY + dt.timedelta(days=1),
    )
    assert PaperSummary.objects.get().text == "Works tomorrow."


def test_a_dead_endpoint_stops_the_run_after_a_few_failures(llm, settings):
    settings.SUMMARY_RETRIES = 0
    papers = PaperFactory.create_batch(MAX_FAILURES_IN_A_ROW + 5)
    llm.reply(ENDPOINT, Reply(200, b"<html>maintenance</html>"))

    report = make([(paper.pk, "en") for paper in papers])

    assert report.failed == MAX_FAILURES_IN_A_ROW
    assert "failures in a row" in report.stopped
    assert len(llm.seen(ENDPOINT)) == MAX_FAILURES_IN_A_ROW


def test_a_refused_connection_is_retried_then_logged(settings, caplog):
    settings.SUMMARY_API_URL = "http://127.0.0.1:9/v1"  # the discard port: nobody listens
    settings.SUMMARY_TIMEOUT = TIMEOUT
    settings.SUMMARY_RETRIES = 1
    paper = PaperFactory()

    report = make([(paper.pk, "en")])

    assert report.failed == 1
    assert calls_made(day=TODAY) == 2
    assert "connection failed" in PaperSummary.objects.get().error


def test_a_summary_is_stored_as_plain_bounded_text(llm):
    paper = PaperFactory()
    llm.reply(
        ENDPOINT,
        completion(
            "<think>The user wants one line.</think>**TL;DR:** <b>Uses $\\alpha$-nets</b> "
            "&amp; <script>alert(1)</script>more\x00 data " + "word " * 200
        ),
    )

    make([(paper.pk, "en")])

    text = PaperSummary.objects.get().text
    assert text.startswith("Uses α-nets & alert(1)more data word word")
    assert "<" not in text and "\x00" not in text and "think" not in text
    assert len(text) <= 400 and text.endswith("…")


def test_cleaning_keeps_comparisons_that_are_not_tags():
    assert clean_summary("Beats baselines when n < 10 and k > 3.") == (
        "Beats baselines when n < 10 and k > 3."
    )
