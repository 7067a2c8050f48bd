"""A worker keeps paper cards across batches: the next batch reads only what changed, and a
paper edited, hidden, featured or given a TL;DR in between shows as it is now."""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter.digests.cards import load_cards
from papers.curation import papers_set_featured, papers_set_hidden
from papers.models import PaperSummary
from papers.summaries import ChatClient, summaries_make
from tests.clock import TODAY
from tests.factories import PaperFactory
from tests.papers.conftest import RecordedServer, Reply, completion

pytestmark = pytest.mark.django_db

ENDPOINT = "/v1/chat/completions"


def test_the_next_batch_reads_the_papers_versions_and_nothing_else_when_none_changed(
    django_assert_num_queries,
):
    papers = PaperFactory.create_batch(3)
    ids = {paper.pk for paper in papers}
    first = load_cards(ids)

    with django_assert_num_queries(1):
        again = load_cards(ids)

    assert again == first
    assert all(again[pk] is first[pk] for pk in ids)  # the same objects: kept, not rebuilt


def test_only_a_paper_new_to_the_worker_is_read_in_full(django_assert_num_queries):
    kept, new = PaperFactory(), PaperFactory(title="Fresh off the press")
    load_cards({kept.pk})

    with django_assert_num_queries(3):  # versions, the new paper, its summaries
        cards = load_cards({kept.pk, new.pk})

    assert cards[new.pk].title == "Fresh off the press"


def test_a_paper_edited_between_batches_shows_its_new_card():
    paper = PaperFactory(editor_note="")
    load_cards({paper.pk})
    paper.editor_note = "Read section 4 first."
    paper.save()

    assert load_cards({paper.pk})[paper.pk].editor_note == "Read section 4 first."


def test_a_paper_hidden_or_featured_from_admin_between_batches_is_seen_at_once():
    hidden, featured = PaperFactory(), PaperFactory()
    load_cards({hidden.pk, featured.pk})

    papers_set_hidden(paper_ids=[hidden.pk], hidden=True)
    papers_set_featured(paper_ids=[featured.pk], featured=True)
    cards = load_cards({hidden.pk, featured.pk})

    assert hidden.pk not in cards
    assert cards[featured.pk].is_featured


def test_a_tldr_that_came_a_day_after_a_failed_try_reaches_a_kept_card(settings):
    paper = PaperFactory()
    with RecordedServer() as server:
        settings.SUMMARY_API_URL = f"{server.url}/v1"
        settings.SUMMARY_MODEL = "tiny-model"
        settings.SUMMARY_DAILY_CALLS = 10
        settings.SUMMARY_RETRIES = 1
        server.reply(ENDPOINT, Reply(200, b"garbage"), completion("It denoises frames."))
        summaries_make(wanted=[(paper.pk, "en")], client=ChatClient(backoff=0.01), today=TODAY)
        assert load_cards({paper.pk})[paper.pk].summaries == ()  # kept with the failed try

        summaries_make(
            wanted=[(paper.pk, "en")],
            client=ChatClient(backoff=0.01),
            today=TODAY + dt.timedelta(days=1),
        )

    assert PaperSummary.objects.get().text == "It denoises frames."
    assert load_cards({paper.pk})[paper.pk].summaries == (("en", "It denoises frames."),)
