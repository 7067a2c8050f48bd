"""Public paper pages and topic feeds: the right papers, none hidden, few queries, cached."""

from __future__ import annotations

import datetime as dt
import re

import feedparser
import pytest
from django.conf import settings
from django.utils import timezone

from newsletter.models import Subscriber
from papers.curation import papers_set_featured, papers_set_hidden
from papers.views import PAGE_SIZE
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.localdate()


def arxiv_ids_on(response) -> list[str]:
    """The papers a page shows, in order (each card carries its arXiv id as its anchor)."""
    return re.findall(r'<article class="paper[^"]*" id="([^"]+)"', response.content.decode())


def test_latest_page_shows_todays_papers_featured_first_then_trending(client):
    PaperFactory(arxiv_id="2503.00001", hf_upvotes=3)
    PaperFactory(arxiv_id="2503.00002", hf_upvotes=40)
    PaperFactory(arxiv_id="2503.00003", hf_upvotes=0, is_featured=True)
    PaperFactory(arxiv_id="2503.00004", announced_on=today() - dt.timedelta(days=1))

    response = client.get("/papers/")

    assert response.status_code == 200
    assert arxiv_ids_on(response) == ["2503.00003", "2503.00002", "2503.00001"]


def test_latest_page_shows_the_last_announcement_day_when_today_has_none(client):
    friday = today() - dt.timedelta(days=2)
    PaperFactory(arxiv_id="2503.00010", announced_on=friday)
    PaperFactory(arxiv_id="2503.00011", announced_on=friday - dt.timedelta(days=1))

    response = client.get("/papers/")

    assert arxiv_ids_on(response) == ["2503.00010"]
    assert f'href="/papers/{friday - dt.timedelta(days=1)}/"' in response.content.decode()


def test_latest_page_without_any_paper_says_so(client):
    response = client.get("/papers/")

    assert response.status_code == 200
    assert "No papers yet" in response.content.decode()


def test_day_page_shows_that_day_with_links_to_the_neighbouring_days(client):
    day = today() - dt.timedelta(days=5)
    PaperFactory(arxiv_id="2503.00020", announced_on=day - dt.timedelta(days=3))
    PaperFactory(arxiv_id="2503.00021", announced_on=day)
    PaperFactory(arxiv_id="2503.00022", announced_on=day + dt.timedelta(days=1))

    response = client.get(f"/papers/{day}/")

    assert response.status_code == 200
    assert arxiv_ids_on(response) == ["2503.00021"]
    page = response.content.decode()
    assert f'href="/papers/{day - dt.timedelta(days=3)}/" rel="prev"' in page
    assert f'href="/papers/{day + dt.timedelta(days=1)}/" rel="next"' in page


def test_day_without_papers_is_not_found_but_links_to_the_nearest_days(client):
    day = today() - dt.timedelta(days=3)
    PaperFactory(announced_on=day - dt.timedelta(days=1))

    response = client.get(f"/papers/{day}/")

    assert response.status_code == 404
    assert f'href="/papers/{day - dt.timedelta(days=1)}/"' in response.content.decode()


@pytest.mark.parametrize("path", ["/papers/2025-02-30/", "/papers/25-01-01/"])
def test_an_impossible_date_is_not_found(client, path):
    assert client.get(path).status_code == 404


def test_a_future_day_is_not_found(client):
    PaperFactory(announced_on=today() + dt.timedelta(days=1))

    assert client.get(f"/papers/{today() + dt.timedelta(days=1)}/").status_code == 404


def test_day_page_is_paged(client):
    PaperFactory.create_batch(PAGE_SIZE + 3)

    first = client.get("/papers/")
    second = client.get("/papers/?page=2")

    assert len(arxiv_ids_on(first)) == PAGE_SIZE
    assert len(arxiv_ids_on(second)) == 3
    assert set(arxiv_ids_on(first)).isdisjoint(arxiv_ids_on(second))
    assert 'href="?page=2" rel="next"' in first.content.decode()


def test_a_card_shows_abstract_links_code_venue_and_the_editors_note(client):
    PaperFactory(
        arxiv_id="2503.00030",
        abstract="We propose a fast sampler.",
        code_url="https://github.com/example/fast",
        comment="Accepted at CVPR 2025",
        editor_note="The clearest write-up this week.",
        hf_upvotes=12,
    )

    page = client.get("/papers/").content.decode()

    assert "We propose a fast sampler." in page
    assert 'href="https://arxiv.org/abs/2503.00030"' in page
    assert 'href="https://arxiv.org/pdf/2503.00030"' in page
    assert 'href="https://github.com/example/fast"' in page
    assert "Accepted at CVPR 2025" in page
    assert "The clearest write-up this week." in page
    assert "▲ 12" in page


def test_text_from_feeds_is_escaped(client):
    PaperFactory(title="Bounds for <b>x</b> & $α$", abstract="<script>alert(1)</script>")

    page = client.get("/papers/").content.decode()

    assert "Bounds for &lt;b&gt;x&lt;/b&gt; &amp; $α$" in page
    assert "<script>alert(1)</script>" not in page


def test_day_page_makes_the_same_few_queries_for_many_papers(client, django_assert_num_queries):
    PaperFactory.create_batch(PAGE_SIZE)

    # latest day, count, the page's papers, previous day, next day
    with django_assert_num_queries(5):
        response = client.get("/papers/")

    assert len(arxiv_ids_on(response)) == PAGE_SIZE


def test_a_cached_page_is_served_without_touching_the_database(client, django_assert_num_queries):
    PaperFactory(arxiv_id="2503.00040")
    client.get("/papers/")

    with django_assert_num_queries(0):
        response = client.get("/papers/")

    assert arxiv_ids_on(response) == ["2503.00040"]
    assert "max-age=60" in response["Cache-Control"]


def test_hiding_a_paper_takes_it_off_a_cached_page_at_once(
    client, django_capture_on_commit_callbacks
):
    kept, hidden = PaperFactory(arxiv_id="2503.00050"), PaperFactory(arxiv_id="2503.00051")
    assert set(arxiv_ids_on(client.get("/papers/"))) == {"2503.00050", "2503.00051"}

    with django_capture_on_commit_callbacks(execute=True):
        papers_set_hidden(paper_ids=[hidden.pk], hidden=True)

    assert arxiv_ids_on(client.get("/papers/")) == [kept.arxiv_id]


def test_featuring_a_paper_moves_it_to_the_top_of_a_cached_page(
    client, django_capture_on_commit_callbacks
):
    PaperFactory(arxiv_id="2503.00060", hf_upvotes=50)
    quiet = PaperFactory(arxiv_id="2503.00061", hf_upvotes=0)
    client.get("/papers/")

    with django_capture_on_commit_callbacks(execute=True):
        papers_set_featured(paper_ids=[quiet.pk], featured=True)

    assert arxiv_ids_on(client.get("/papers/")) == ["2503.00061", "2503.00060"]


# --- topics -------------------------------------------------------------------------------


def test_topic_page_lists_recent_papers_matching_query_and_categories(client):
    TopicFactory(slug="vision-diffusion", query="diffusion", categories=["cs.CV"])
    PaperFactory(arxiv_id="2503.00070", title="Diffusion for images", categories=["cs.CV"])
    PaperFactory(arxiv_id="2503.00071", title="Diffusion for text", categories=["cs.CL"])
    PaperFactory(arxiv_id="2503.00072", title="Segmentation", categories=["cs.CV"])
    PaperFactory(
        arxiv_id="2503.00073",
        title="Old diffusion",
        categories=["cs.CV"],
        announced_on=today() - dt.timedelta(days=7),
    )

    response = client.get("/topics/vision-diffusion/")

    assert response.status_code == 200
    assert arxiv_ids_on(response) == ["2503.00070"]


def test_a_categories_only_topic_lists_every_paper_in_them_newest_first(client):
    TopicFactory(slug="cv", query="", categories=["cs.CV"])
    PaperFactory(arxiv_id="2503.00080", categories=["cs.LG", "cs.CV"])
    PaperFactory(arxiv_id="2503.00081", announced_on=today() - dt.timedelta(days=6))
    PaperFactory(arxiv_id="2503.00082", categories=["cs.CL"])

    response = client.get("/topics/cv/")

    assert arxiv_ids_on(response) == ["2503.00080", "2503.00081"]


def test_topic_page_is_paged_in_display_order(client):
    TopicFactory(slug="zymurgy", query="zymurgy")
    PaperFactory.create_batch(PAGE_SIZE + 2, title="Zymurgy")
    PaperFactory(arxiv_id="2504.00001", title="Zymurgy, featured", is_featured=True)

    first = client.get("/topics/zymurgy/")
    second = client.get("/topics/zymurgy/?page=2")

    assert arxiv_ids_on(first)[0] == "2504.00001"
    assert len(arxiv_ids_on(first)) == PAGE_SIZE
    assert len(arxiv_ids_on(second)) == 3
    assert set(arxiv_ids_on(first)).isdisjoint(arxiv_ids_on(second))
    assert f"{PAGE_SIZE + 3} papers in the last 7 days." in first.content.decode()


def test_topic_page_makes_the_same_few_queries_for_many_papers(client, django_assert_num_queries):
    TopicFactory(slug="diffusion", query="diffusion")
    PaperFactory.create_batch(PAGE_SIZE, title="Diffusion again")

    # topic, the recent window's state, its papers and active topics for the index (once
    # per process and change), the editors' synonyms (once per process and change), the
    # page's papers
    with django_assert_num_queries(6):
        response = client.get("/topics/diffusion/")

    assert len(arxiv_ids_on(response)) == PAGE_SIZE


def test_an_inactive_or_unknown_topic_is_not_found(client):
    TopicFactory(slug="retired", is_active=False)

    assert client.get("/topics/retired/").status_code == 404
    assert client.get("/topics/retired/rss/").status_code == 404
    assert client.get("/topics/nope/").status_code == 404


def test_topic_index_links_each_active_topic_and_its_feeds(client):
    TopicFactory(name="Sparse attention", slug="sparse-attention")
    TopicFactory(name="Retired topic", slug="retired-topic", is_active=False)

    page = client.get("/topics/").content.decode()

    assert 'href="/topics/sparse-attention/"' in page
    assert 'href="/topics/sparse-attention/rss/"' in page
    assert 'href="/topics/sparse-attention/atom/"' in page
    assert "retired-topic" not in page


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_topic_feed_carries_the_topics_papers_newest_first(client, kind):
    TopicFactory(name="Score models", slug="score-models", query="diffusion")
    PaperFactory(
        arxiv_id="2503.00090",
        title="Older diffusion",
        announced_on=today() - dt.timedelta(days=1),
    )
    PaperFactory(
        arxiv_id="2503.00091",
        title="Diffusion with <tags> & more",
        abstract="Scores & <b>bounds</b>.",
        authors=["A. One", "B. Two"],
    )
    PaperFactory(arxiv_id="2503.00092", title="Unrelated")

    response = client.get(f"/topics/score-models/{kind}/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith(f"application/{kind}+xml")
    feed = feedparser.parse(response.content)
    assert feed.feed.title == "Paperboy: Score models"
    assert [entry.link for entry in feed.entries] == [
        "https://arxiv.org/abs/2503.00091",
        "https://arxiv.org/abs/2503.00090",
    ]
    newest = feed.entries[0]
    assert newest.title == "Diffusion with <tags> & more"
    assert "Scores &amp; &lt;b&gt;bounds&lt;/b&gt;." in newest.summary
    assert newest.author == "A. One, B. Two"


def test_hidden_papers_appear_on_no_public_page_or_feed(client):
    TopicFactory(slug="diffusion", query="diffusion")
    PaperFactory(arxiv_id="2503.00100", title="Visible diffusion")
    PaperFactory(arxiv_id="2503.00101", title="Hidden diffusion", is_hidden=True)
    only_hidden_day = today() - dt.timedelta(days=1)
    PaperFactory(arxiv_id="2503.00102", is_hidden=True, announced_on=only_hidden_day)

    paths = [
        "/papers/",
        f"/papers/{today()}/",
        "/topics/diffusion/",
        "/topics/diffusion/rss/",
        "/topics/diffusion/atom/",
    ]
    for path in paths:
        body = client.get(path).content.decode()
        assert "2503.00100" in body, path
        assert "2503.00101" not in body, path
        assert f"/papers/{only_hidden_day}/" not in body, path
    assert client.get(f"/papers/{only_hidden_day}/").status_code == 404


# --- a reader's private feed --------------------------------------------------------------


def private_feed_path(subscriber) -> str:
    from newsletter.feeds import subscriber_feed_url

    return subscriber_feed_url(subscriber).removeprefix(settings.SITE_URL)


def test_a_readers_private_feed_carries_their_topics_and_own_filter(client):
    topic = TopicFactory(query="diffusion")
    reader = SubscriberFactory(topics=[topic], own_query="robot", categories=["cs.RO"])
    PaperFactory(arxiv_id="2503.00401", title="Diffusion policies")
    PaperFactory(arxiv_id="2503.00402", title="Robot hands", categories=["cs.RO"])
    PaperFactory(arxiv_id="2503.00403", title="Robot vision", categories=["cs.CV"])
    PaperFactory(arxiv_id="2503.00404", title="Diffusion, hidden", is_hidden=True)

    response = client.get(private_feed_path(reader))

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=900"
    assert response["X-Robots-Tag"] == "noindex"
    links = [entry.link for entry in feedparser.parse(response.content).entries]
    assert sorted(links) == [
        "https://arxiv.org/abs/2503.00401",
        "https://arxiv.org/abs/2503.00402",
    ]


def test_a_private_feed_link_only_works_for_its_reader_while_subscribed(client):
    reader = SubscriberFactory(email="ada@example.com")
    path = private_feed_path(reader)

    assert client.get(path.replace("/feed/", "/feed/x")).status_code == 404
    reader.email = "someone-else@example.com"
    reader.save()
    assert client.get(path).status_code == 404

    gone = SubscriberFactory(status=Subscriber.Status.UNSUBSCRIBED)
    assert client.get(private_feed_path(gone)).status_code == 404


@pytest.mark.usefixtures("frozen_clock")  # the expected link is signed with the same second
def test_the_manage_page_links_the_private_feed(client):
    from newsletter.signing import Purpose, signed_url

    reader = SubscriberFactory()
    manage = signed_url(purpose=Purpose.MANAGE, subject_id=reader.pk, email=reader.email)

    page = client.get(manage.removeprefix(settings.SITE_URL)).content.decode()

    assert f'href="{settings.SITE_URL}{private_feed_path(reader)}"' in page
