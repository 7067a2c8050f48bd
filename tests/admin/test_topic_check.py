"""The topic check on a topic's admin page: the last 7 days split into strong and passing
matches with counts, and the near misses, with reasons, in a few queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from newsletter.paper_index import forget_paper_indexes, recent_papers
from newsletter.topic_check import NearMiss, topic_check
from tests.factories import PaperFactory, TopicFactory

pytestmark = pytest.mark.django_db

OPENING = "We segment organs in CT scans with a small network trained on very few labels. "


@pytest.fixture(autouse=True)
def fresh_recent_papers():
    forget_paper_indexes()
    yield
    forget_paper_indexes()


@pytest.fixture
def papers():
    def paper(arxiv_id, title, abstract="We study things.", **fields):
        return PaperFactory(arxiv_id=arxiv_id, title=title, abstract=abstract, **fields).pk

    return {
        "strong": paper("2503.20001", "Video diffusion at scale", categories=["cs.CV"]),
        "passing": paper(
            "2503.20002", "Masks", OPENING + "A video diffusion prior helps.", categories=["cs.CV"]
        ),
        "no video": paper("2503.20003", "Image diffusion", categories=["cs.CV"]),
        "survey": paper("2503.20004", "Video diffusion: a survey", categories=["cs.CV"]),
        "elsewhere": paper("2503.20005", "Video diffusion for text", categories=["cs.CL"]),
        "old": paper(
            "2503.20006",
            "Video diffusion of old",
            categories=["cs.CV"],
            announced_on=timezone.localdate() - dt.timedelta(days=7),
        ),
        "unrelated": paper("2503.20007", "Graphs", categories=["cs.CV"]),
    }


def check_of(topic):
    recent = recent_papers()
    return topic_check(topic=topic, index=recent.index, order=recent.ids_in_display_order)


def test_the_check_splits_matches_by_strength_and_names_each_near_miss(papers):
    topic = TopicFactory(
        query="video diffusion -survey", categories=["cs.CV"], require_strong_match=True
    )

    check = check_of(topic)

    assert check.strong == (papers["strong"],)
    assert check.passing == (papers["passing"],)
    assert check.passing_kept is False
    assert sorted(check.near_misses, key=lambda miss: miss.paper_id) == [
        NearMiss(papers["passing"], "only a passing mention, and the topic demands a strong match"),
        NearMiss(papers["no video"], "has the rest of the query but not “video”"),
        NearMiss(papers["survey"], "left out by -survey"),
        NearMiss(papers["elsewhere"], "matches the query but is not in cs.CV"),
    ]


def test_a_topic_that_takes_passing_mentions_lists_them_as_its_own(papers):
    topic = TopicFactory(query="video diffusion", require_strong_match=False)

    check = check_of(topic)

    assert set(check.strong) == {papers["strong"], papers["survey"], papers["elsewhere"]}
    assert check.passing == (papers["passing"],)
    assert check.passing_kept is True
    assert [miss.paper_id for miss in check.near_misses] == [papers["no video"]]


def test_the_change_page_shows_the_check_in_a_few_queries(
    editor_client, papers, django_assert_num_queries
):
    topic = TopicFactory(
        query="video diffusion -survey", categories=["cs.CV"], require_strong_match=True
    )
    editor_client.get(f"/admin/newsletter/topic/{topic.pk}/change/")  # the index, built once

    # session, user, the topic with its followers, the editor's two permission lookups; the
    # latest day's part: the recent window's state, its count and papers; the check: the
    # recent window's state and the titles of every paper it shows (match counts are cached)
    with django_assert_num_queries(10):
        page = editor_client.get(f"/admin/newsletter/topic/{topic.pk}/change/").content.decode()

    assert "Strong matches: 1" in page
    assert "Passing mentions, left out (the topic demands a strong match): 1" in page
    assert "Near misses: 4" in page
    assert "left out by -survey" in page
    assert "has the rest of the query but not “video”" in page
    assert "Video diffusion of old" not in page
    assert "Graphs" not in page


def test_a_categories_only_topic_lists_what_is_in_its_categories(editor_client, papers):
    topic = TopicFactory(query="", categories=["cs.CL"])

    page = editor_client.get(f"/admin/newsletter/topic/{topic.pk}/change/").content.decode()

    assert "In its categories: 1" in page
    assert "Video diffusion for text" in page
