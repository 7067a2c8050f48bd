"""The live preview: one definition of what a choice matches, counted over the last week."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from newsletter import paper_index, ratelimits, selectors
from newsletter.matching import IndexedPaper, PaperIndex
from newsletter.models import Subscriber
from papers.models import Paper
from tests.factories import PaperFactory, TopicFactory
from tests.newsletter.subscription_helpers import signup_data

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("frozen_clock"),  # one rate-limit window for the whole test
]


def index_of(*papers: IndexedPaper) -> PaperIndex:
    return PaperIndex.build(papers)


CORPUS = index_of(
    IndexedPaper(1, "Diffusion for video", "We denoise.", ["cs.CV"], ["Ada Lovelace"]),
    IndexedPaper(2, "Diffusion language models", "Text.", ["cs.CL"], ["Alan Turing"]),
    IndexedPaper(3, "Robot grasping", "Hands.", ["cs.RO"], ["Grace Hopper"]),
    IndexedPaper(4, "A survey of diffusion", "Overview.", ["cs.CV"], ["Ada Lovelace"]),
    IndexedPaper(5, "Graph networks", "Nodes.", ["cs.LG"], ["Edsger Dijkstra"]),
)


def matched(*, topics=(), query="", categories=(), authors=()):
    return selectors.subscription_paper_ids(
        topics=topics, query=query, categories=categories, authors=authors, index=CORPUS
    )


def test_own_query_alone_searches_every_paper():
    assert matched(query="diffusion -survey") == {1, 2}


def test_own_query_and_own_categories_must_both_hold():
    assert matched(query="diffusion", categories=["cs.CV"]) == {1, 4}


def test_own_categories_alone_bring_everything_in_them():
    assert matched(categories=["cs.RO", "cs.LG"]) == {3, 5}


def test_authors_match_separately_from_the_query():
    assert matched(query="diffusion", categories=["cs.CL"], authors=["grace hopper"]) == {2, 3}


def test_a_topic_with_query_and_categories_needs_both_and_topics_add_up():
    video = TopicFactory.build(pk=101, query="diffusion", categories=["cs.CV"])
    graphs = TopicFactory.build(pk=102, query="", categories=["cs.LG"])

    assert matched(topics=[video, graphs]) == {1, 4, 5}
    assert matched(topics=[video], query="robot") == {1, 3, 4}


def test_nothing_chosen_matches_nothing():
    assert matched() == frozenset()


def recent(day_offset: int, **fields) -> Paper:
    return PaperFactory(announced_on=timezone.localdate() - dt.timedelta(days=day_offset), **fields)


def test_papers_a_day_are_matches_over_the_announcement_days_present():
    for offset in (0, 0, 1, 3):
        recent(offset, title="Diffusion things")
    recent(1, title="Unrelated")

    preview = selectors.subscription_preview(
        topics=[], query="diffusion", categories=[], authors=[]
    )

    assert preview.matched == 4
    assert preview.day_count == 3
    assert preview.per_day == pytest.approx(4 / 3)
    assert preview.per_day_rounded == 1


def test_only_the_last_seven_days_of_visible_papers_count():
    recent(0, title="Unrelated today")
    shown = recent(6, title="Diffusion in window")
    recent(7, title="Diffusion too old")
    recent(0, title="Diffusion hidden", is_hidden=True)

    preview = selectors.subscription_preview(
        topics=[], query="diffusion", categories=[], authors=[]
    )

    assert preview.matched == 1
    assert [paper.pk for paper in preview.examples] == [shown.pk]


def test_the_window_ends_on_the_newest_announcement_day_when_fetches_paused():
    recent(10, title="Diffusion last week of fetching")

    preview = selectors.subscription_preview(
        topics=[], query="diffusion", categories=[], authors=[]
    )

    assert (preview.matched, preview.day_count) == (1, 1)


def test_examples_are_a_few_recent_ones_featured_and_trending_first():
    plain = recent(0, title="Diffusion plain", hf_upvotes=1)
    trending = recent(0, title="Diffusion trending", hf_upvotes=90)
    featured = recent(0, title="Diffusion featured", is_featured=True)
    older = recent(2, title="Diffusion older", hf_upvotes=500)
    for _ in range(4):
        recent(3, title="Diffusion filler")

    preview = selectors.subscription_preview(
        topics=[], query="diffusion", categories=[], authors=[]
    )

    assert [paper.pk for paper in preview.examples[:4]] == [
        featured.pk,
        trending.pk,
        plain.pk,
        older.pk,
    ]
    assert len(preview.examples) == selectors.PREVIEW_EXAMPLES


def test_cross_lists_can_be_left_out():
    recent(0, title="Diffusion new")
    recent(0, title="Diffusion crossed", announce_type=Paper.AnnounceType.CROSS)

    with_cross = selectors.subscription_preview(
        topics=[], query="diffusion", categories=[], authors=[]
    )
    without = selectors.subscription_preview(
        topics=[], query="diffusion", categories=[], authors=[], include_cross_lists=False
    )

    assert (with_cross.matched, without.matched) == (2, 1)


def test_the_index_is_built_once_and_rebuilt_when_a_paper_changes():
    paper = recent(0, title="Diffusion one")
    first = paper_index.recent_papers()

    assert paper_index.recent_papers() is first

    Paper.objects.filter(pk=paper.pk).update(
        is_hidden=True, updated_at=timezone.now() + dt.timedelta(seconds=1)
    )
    recent(0, title="Diffusion two")
    rebuilt = paper_index.recent_papers()

    assert rebuilt is not first
    assert rebuilt.index.paper_ids == {Paper.objects.get(title="Diffusion two").pk}


def test_a_cached_preview_costs_two_queries(client, django_assert_num_queries):
    recent(0, title="Diffusion one")
    client.get("/preview/", {"own_query": "diffusion"})

    # The freshness check, and the examples.
    with django_assert_num_queries(2):
        response = client.get("/preview/", {"own_query": "diffusion"})

    assert response.status_code == 200


def test_the_preview_fragment_says_about_how_many_a_day_and_shows_examples(client):
    for number in range(3):
        recent(0, title=f"Diffusion paper {number}")
    recent(1, title="Diffusion again")

    response = client.get("/preview/", {"own_query": "diffusion"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "About 2 papers a day" in page
    assert "(4 papers over 2 announcement days)" in page
    assert "Diffusion paper 0" in page
    assert "<html" not in page


def test_a_malformed_query_shows_its_message_in_the_preview(client):
    response = client.get("/preview/", {"own_query": '"unclosed'})

    assert response.status_code == 200
    assert "A quote is not closed" in response.content.decode()


def test_previews_are_rate_limited_per_ip(client):
    limit = int(ratelimits.PREVIEWS_PER_IP.split("/")[0])
    for _ in range(limit):
        client.get("/preview/", {"own_query": "x"}, REMOTE_ADDR="192.0.2.9")

    response = client.get("/preview/", {"own_query": "x"}, REMOTE_ADDR="192.0.2.9")

    assert response.status_code == 429
    assert "Too many previews" in response.content.decode()


def test_the_preview_button_works_without_javascript_and_subscribes_nobody(client, mailoutbox):
    recent(0, title="Diffusion paper")

    response = client.post(
        "/", signup_data(action="preview", email="", own_query="diffusion", max_papers="x")
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Fewer than one paper a day" in page or "About 1 paper a day" in page
    assert 'value="diffusion"' in page  # the form comes back as typed
    assert "errorlist" not in page  # no complaints about the fields not yet filled
    assert Subscriber.objects.count() == 0
    assert mailoutbox == []


def test_topics_on_the_page_say_about_how_many_papers_a_day_they_bring(client):
    TopicFactory(name="Quantum sheep", query="sheep", categories=[])
    recent(0, title="Sheep one")
    recent(0, title="Sheep two")

    page = client.get("/").content.decode()

    assert "≈ 2 a day" in page
