"""What follow-ups are made of: the last two weeks of Hugging Face lists read again once a day
(one request per list), and the moments a code link appeared, the upvotes moved and a new
version changed the abstract, from recorded responses of one list across several days."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from papers import services
from papers.models import FetchRun, Paper, Source, UpvoteCount
from papers.sources import arxiv_api
from papers.tasks import fetch_hf_daily_papers
from tests.factories import PaperFactory
from tests.papers.conftest import DATA, Reply, recorded

pytestmark = pytest.mark.django_db

HF_PATH = "/api/daily_papers"
LIST_DAY = dt.date(2025, 2, 14)
FIRST_READ = dt.datetime(2025, 2, 14, 18, 0, tzinfo=dt.UTC)
THREE_DAYS_LATER = dt.datetime(2025, 2, 17, 18, 0, tzinfo=dt.UTC)
TEN_DAYS_LATER = dt.datetime(2025, 2, 24, 18, 0, tzinfo=dt.UTC)
AS_FIRST_READ = "hf_daily_papers_2025-02-14.json"
AS_OF_17TH = "hf_daily_papers_2025-02-14_refetched_2025-02-17.json"
AS_OF_24TH = "hf_daily_papers_2025-02-14_refetched_2025-02-24.json"


def hf_source() -> Source:
    return Source.objects.get(name="hf-daily")


def read_list_at(sources_at, moment: dt.datetime, recording: str) -> None:
    sources_at.reply(HF_PATH, Reply(200, recorded(recording)))
    with time_machine.travel(moment, tick=False):
        services.source_fetch(source_id=hf_source().pk, on=LIST_DAY)


def tick_at(moment: dt.datetime, capture) -> None:
    with time_machine.travel(moment, tick=False), capture(execute=True):
        fetch_hf_daily_papers()


def test_the_tick_reads_the_last_two_weeks_of_lists_in_one_task_one_request_each(
    sources_at, django_capture_on_commit_callbacks
):
    sources_at.reply(HF_PATH, Reply(200, recorded("hf_daily_papers_2025-02-27.json")))

    tick_at(dt.datetime(2025, 2, 27, 17, 50, tzinfo=dt.UTC), django_capture_on_commit_callbacks)

    asked = [request.query["date"] for request in sources_at.seen(HF_PATH)]
    assert asked == [f"2025-02-{day}" for day in range(14, 28)]
    assert Paper.objects.get(arxiv_id="2502.09411").hf_upvotes == 48


def test_older_lists_are_read_once_a_day_today_and_yesterday_on_every_tick(
    sources_at, django_capture_on_commit_callbacks
):
    sources_at.reply(HF_PATH, Reply(200, recorded("hf_daily_papers_2025-02-27.json")))
    tick_at(dt.datetime(2025, 2, 27, 5, 50, tzinfo=dt.UTC), django_capture_on_commit_callbacks)
    sources_at.requests.clear()

    tick_at(dt.datetime(2025, 2, 27, 11, 50, tzinfo=dt.UTC), django_capture_on_commit_callbacks)

    assert [r.query["date"] for r in sources_at.seen(HF_PATH)] == ["2025-02-26", "2025-02-27"]


def test_an_old_list_that_failed_is_read_again_on_the_next_tick(
    sources_at, django_capture_on_commit_callbacks
):
    sources_at.route(
        HF_PATH,
        lambda query: (
            Reply(503, b"busy")
            if query["date"] == "2025-02-20"
            else Reply(200, recorded("hf_daily_papers_weekend.json"))
        ),
    )
    tick_at(dt.datetime(2025, 2, 27, 5, 50, tzinfo=dt.UTC), django_capture_on_commit_callbacks)
    assert FetchRun.objects.get(announced_on=dt.date(2025, 2, 20)).status == FetchRun.Status.FAILED
    sources_at.requests.clear()

    tick_at(dt.datetime(2025, 2, 27, 11, 50, tzinfo=dt.UTC), django_capture_on_commit_callbacks)

    asked = {r.query["date"] for r in sources_at.seen(HF_PATH)}
    assert asked == {"2025-02-20", "2025-02-26", "2025-02-27"}


def test_a_code_link_added_later_is_stamped_when_it_first_appears(sources_at):
    read_list_at(sources_at, FIRST_READ, AS_FIRST_READ)
    assert Paper.objects.get(arxiv_id="2502.09411").code_link_seen_at is None

    read_list_at(sources_at, THREE_DAYS_LATER, AS_OF_17TH)
    read_list_at(sources_at, TEN_DAYS_LATER, AS_OF_24TH)

    image_rag = Paper.objects.get(arxiv_id="2502.09411")
    assert image_rag.code_url == "https://github.com/rotem-shalev/ImageRAG"
    assert image_rag.code_link_seen_at == THREE_DAYS_LATER


def test_a_paper_that_came_with_its_code_is_stamped_when_first_seen(sources_at):
    read_list_at(sources_at, FIRST_READ, AS_FIRST_READ)
    read_list_at(sources_at, THREE_DAYS_LATER, AS_OF_17TH)

    magic = Paper.objects.get(arxiv_id="2502.07701")
    assert magic.code_link_seen_at == FIRST_READ


def test_upvotes_are_counted_once_a_day_as_they_jump(sources_at):
    read_list_at(sources_at, FIRST_READ, AS_FIRST_READ)
    read_list_at(sources_at, THREE_DAYS_LATER, AS_OF_17TH)
    read_list_at(sources_at, TEN_DAYS_LATER, AS_OF_24TH)

    mani_trend = Paper.objects.get(arxiv_id="2502.10028")
    counts = UpvoteCount.objects.filter(paper=mani_trend).order_by("counted_on")
    assert [(c.counted_on, c.upvotes) for c in counts] == [
        (dt.date(2025, 2, 14), 9),
        (dt.date(2025, 2, 17), 140),
        (dt.date(2025, 2, 24), 152),
    ]
    assert mani_trend.hf_upvotes == 152
    assert mani_trend.hf_upvotes_changed_at == TEN_DAYS_LATER


def test_a_list_read_again_unchanged_counts_and_stamps_nothing(sources_at):
    read_list_at(sources_at, FIRST_READ, AS_FIRST_READ)
    read_list_at(sources_at, THREE_DAYS_LATER, AS_OF_17TH)
    rows_before = UpvoteCount.objects.count()

    read_list_at(sources_at, TEN_DAYS_LATER, AS_OF_17TH)

    assert UpvoteCount.objects.count() == rows_before
    assert Paper.objects.get(arxiv_id="2502.10028").hf_upvotes_changed_at == THREE_DAYS_LATER
    assert not UpvoteCount.objects.filter(counted_on=TEN_DAYS_LATER.date()).exists()


def test_two_reads_on_one_day_keep_the_days_last_count(sources_at):
    read_list_at(sources_at, FIRST_READ, AS_FIRST_READ)
    read_list_at(sources_at, FIRST_READ + dt.timedelta(hours=4), AS_OF_17TH)

    mani_trend = Paper.objects.get(arxiv_id="2502.10028")
    assert list(UpvoteCount.objects.filter(paper=mani_trend).values_list("upvotes", flat=True)) == [
        140
    ]


def test_a_new_version_whose_abstract_changed_is_stamped_and_its_code_link_found(sources_at):
    read_list_at(sources_at, FIRST_READ, AS_FIRST_READ)
    survey = Paper.objects.get(arxiv_id="2405.05538")
    assert (survey.latest_version, survey.code_url) == (1, "")

    with time_machine.travel(TEN_DAYS_LATER, tick=False):
        run = services.file_ingest(path=DATA / "arxiv_api_lookup_2405.05538v2.atom")

    survey.refresh_from_db()
    assert run.status == FetchRun.Status.SUCCEEDED
    assert survey.latest_version == 2
    assert "a benchmark that compares 30 of them" in survey.abstract
    assert survey.abstract_changed_at == TEN_DAYS_LATER
    assert survey.code_url == "https://github.com/pcs-survey/PCS-Bench"
    assert survey.code_link_seen_at == TEN_DAYS_LATER


def test_a_new_version_with_the_same_words_is_not_a_changed_abstract():
    (record,) = arxiv_api.parse(recorded("arxiv_api_lookup_2405.05538v2.atom")).records
    rewrapped = "  ".join(record.abstract.split()).replace("Finally,", "Finally ,")
    PaperFactory(arxiv_id="2405.05538", latest_version=1, abstract=rewrapped)

    services.file_ingest(path=DATA / "arxiv_api_lookup_2405.05538v2.atom")

    survey = Paper.objects.get(arxiv_id="2405.05538")
    assert survey.latest_version == 2
    assert survey.abstract_changed_at is None


def test_an_older_version_read_late_is_not_a_new_version():
    PaperFactory(arxiv_id="2405.05538", latest_version=3, abstract="The third version's text.")

    services.file_ingest(path=DATA / "arxiv_api_lookup_2405.05538v2.atom")

    survey = Paper.objects.get(arxiv_id="2405.05538")
    assert (survey.latest_version, survey.abstract) == (3, "The third version's text.")
    assert survey.abstract_changed_at is None
