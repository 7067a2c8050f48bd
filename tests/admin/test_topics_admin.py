"""Topics in admin: what each matched lately and who follows it; bad queries never saved."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from newsletter.models import Subscriber, Topic
from newsletter.paper_index import recent_papers
from newsletter.selectors import topic_paper_ids
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/newsletter/topic/"


def today() -> dt.date:
    return timezone.localdate()


def topic_form(**overrides) -> dict[str, str]:
    return {
        "name": "Sparse attention",
        "slug": "sparse-attention",
        "description": "",
        "query": '"sparse attention" OR "linear attention"',
        "categories": "",
        "is_active": "on",
        "position": "5",
    } | overrides


# --- which papers a topic matches ---------------------------------------------------------


def test_a_topic_matches_its_query_within_its_categories_or_either_alone():
    diffusion_cv = PaperFactory(title="Diffusion for images", categories=["cs.CV"]).pk
    diffusion_cl = PaperFactory(title="Diffusion for text", categories=["cs.CL"]).pk
    plain_cv = PaperFactory(title="Segmentation", categories=["cs.CV"]).pk
    both = TopicFactory(query="diffusion", categories=["cs.CV"])
    query_only = TopicFactory(query="diffusion", categories=[])
    categories_only = TopicFactory(query="", categories=["cs.CV"])
    index = recent_papers().index

    matches = topic_paper_ids(topics=[both, query_only, categories_only], index=index)

    assert matches == {
        both.pk: {diffusion_cv},
        query_only.pk: {diffusion_cv, diffusion_cl},
        categories_only.pk: {diffusion_cv, plain_cv},
    }


def test_topics_match_over_the_last_seven_days_of_visible_papers_only():
    kept = {PaperFactory().pk, PaperFactory(announced_on=today() - dt.timedelta(days=6)).pk}
    PaperFactory(announced_on=today() - dt.timedelta(days=7))
    PaperFactory(is_hidden=True)

    assert recent_papers().index.paper_ids == kept


# --- saving topics ------------------------------------------------------------------------


def test_a_malformed_query_cannot_be_saved_and_the_editor_is_told_why(admin_client):
    response = admin_client.post(
        "/admin/newsletter/topic/add/", topic_form(query='"sparse attention')
    )

    assert response.status_code == 200
    assert "A quote is not closed: add the closing &quot;." in response.content.decode()
    assert not Topic.objects.filter(slug="sparse-attention").exists()


def test_a_malformed_query_cannot_replace_a_good_one(admin_client):
    topic = TopicFactory(slug="diffusion", query="diffusion")

    response = admin_client.post(
        f"/admin/newsletter/topic/{topic.pk}/change/",
        topic_form(name=topic.name, slug="diffusion", query="video OR"),
    )

    assert response.status_code == 200
    assert "The query ends with OR" in response.content.decode()
    topic.refresh_from_db()
    assert topic.query == "diffusion"


def test_a_topic_needs_a_query_or_categories(admin_client):
    response = admin_client.post(
        "/admin/newsletter/topic/add/", topic_form(query="", categories="")
    )

    assert "Give the topic a query, categories, or both." in response.content.decode()
    assert not Topic.objects.filter(slug="sparse-attention").exists()


def test_categories_are_typed_as_text_and_stored_as_a_list(admin_client):
    response = admin_client.post(
        "/admin/newsletter/topic/add/", topic_form(categories="cs.CV, cs.LG cs.CV")
    )

    assert response.status_code == 302
    topic = Topic.objects.get(slug="sparse-attention")
    assert topic.categories == ["cs.CV", "cs.LG"]
    assert topic.query == '"sparse attention" OR "linear attention"'


def test_an_editor_gives_a_topic_its_chinese_name_and_description(admin_client):
    form = admin_client.get("/admin/newsletter/topic/add/").content.decode()
    response = admin_client.post(
        "/admin/newsletter/topic/add/",
        topic_form(name_zh="稀疏注意力", description_zh="稀疏与线性注意力机制。"),
    )

    assert 'name="name_zh"' in form and 'name="description_zh"' in form
    assert response.status_code == 302
    topic = Topic.objects.get(slug="sparse-attention")
    assert (topic.name_zh, topic.description_zh) == ("稀疏注意力", "稀疏与线性注意力机制。")
    assert topic.name_in("zh-hans") == "稀疏注意力" and topic.name_in("en") == "Sparse attention"


def test_a_bad_category_is_refused(admin_client):
    response = admin_client.post("/admin/newsletter/topic/add/", topic_form(categories="cs.CV!"))

    assert "is not an arXiv category like cs.CV" in response.content.decode()
    assert not Topic.objects.filter(slug="sparse-attention").exists()


def test_editing_a_topic_refreshes_its_public_page_at_once(
    admin_client, client, django_capture_on_commit_callbacks
):
    topic = TopicFactory(slug="attention", query="transformer")
    PaperFactory(arxiv_id="2503.00201", title="Linear attention")
    assert "2503.00201" not in client.get("/topics/attention/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            f"/admin/newsletter/topic/{topic.pk}/change/",
            topic_form(name=topic.name, slug="attention", query="attention"),
        )

    assert "2503.00201" in client.get("/topics/attention/").content.decode()


# --- counts and preview -------------------------------------------------------------------


def row_of(page: str, name: str) -> str:
    match = re.search(rf"<tr>(?:(?!</tr>).)*>{re.escape(name)}</a>(?:(?!</tr>).)*</tr>", page, re.S)
    assert match, name
    return match.group(0)


def test_the_list_shows_papers_matched_in_seven_days_and_active_followers(editor_client):
    topic = TopicFactory(name="Test diffusion", query="diffusion")
    PaperFactory(title="Diffusion today")
    PaperFactory(title="Diffusion last week", announced_on=today() - dt.timedelta(days=6))
    PaperFactory(title="Diffusion too old", announced_on=today() - dt.timedelta(days=7))
    PaperFactory(title="Diffusion hidden", is_hidden=True)
    SubscriberFactory.create_batch(2, topics=[topic])
    SubscriberFactory(topics=[topic], status=Subscriber.Status.UNSUBSCRIBED)

    row = row_of(editor_client.get(CHANGELIST).content.decode(), "Test diffusion")

    assert '<td class="field-matched_recently">2</td>' in row
    assert '<td class="field-followers">2</td>' in row


def test_the_topic_list_builds_one_index_for_all_topics(
    admin_client, django_assert_max_num_queries
):
    TopicFactory.create_batch(20, query="zymurgy")
    PaperFactory.create_batch(30, title="Zymurgy", categories=["q-bio.PE"])

    # session, user, two counts, topics with followers, the recent window's state and its
    # papers and active topics (read once per process and change), topics to match, the
    # editors' synonyms (once per process and change)
    with django_assert_max_num_queries(10):
        response = admin_client.get(CHANGELIST)

    assert response.content.decode().count('<td class="field-matched_recently">30</td>') == 20


def test_the_change_page_previews_the_latest_days_matches(editor_client):
    topic = TopicFactory(query="diffusion", categories=["cs.CV"])
    yesterday = today() - dt.timedelta(days=1)
    PaperFactory(arxiv_id="2503.00301", title="Diffusion in vision", announced_on=yesterday)
    PaperFactory(
        arxiv_id="2503.00302",
        title="Diffusion in text",
        announced_on=yesterday,
        categories=["cs.CL"],
    )
    PaperFactory(
        arxiv_id="2503.00303",
        title="Older diffusion",
        announced_on=yesterday - dt.timedelta(days=1),
    )

    page = editor_client.get(f"/admin/newsletter/topic/{topic.pk}/change/").content.decode()
    latest_day = page.split("field-latest_day_matches")[1].split("field-recent_check")[0]

    assert f"1 paper on {yesterday.isoformat()}." in latest_day
    assert "Diffusion in vision" in latest_day
    assert "Diffusion in text" not in latest_day
    assert "Older diffusion" not in latest_day
