"""One definition of a topic's strong matches: the preview's counts, the topic page and feeds,
the admin's counts and the digest leave passing mentions out of a topic that demands a strong
match, and the digest's why line says what matched and how strongly."""

from __future__ import annotations

import feedparser
import pytest
from django.utils import timezone

from newsletter import paper_index, selectors
from newsletter.digests.building import digests_build
from newsletter.digests.cards import why_text
from newsletter.models import DigestItem
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

# Words enough that a mention after them is past the abstract's opening.
OPENING = "We segment organs in CT scans with a small network trained on very few labels. "


@pytest.fixture(autouse=True)
def fresh_indexes():
    paper_index.forget_paper_indexes()
    yield
    paper_index.forget_paper_indexes()


@pytest.fixture
def papers():
    today = timezone.localdate()
    return {
        "title": PaperFactory(arxiv_id="2503.10001", title="Text-to-image at scale"),
        "repeated": PaperFactory(
            arxiv_id="2503.10002",
            title="A sampler",
            abstract=OPENING + "Text-to-image models, text-to-image data and T2I benchmarks.",
        ),
        "passing": PaperFactory(
            arxiv_id="2503.10003",
            title="Organ segmentation",
            abstract=OPENING + "A pre-trained text-to-image model helps.",
        ),
        "unrelated": PaperFactory(arxiv_id="2503.10004", title="Graphs", announced_on=today),
    }


def strict_topic(**fields):
    return TopicFactory(
        name="Pictures from words",
        slug="image-generation-strict",
        query="text-to-image",
        require_strong_match=True,
        **fields,
    )


def test_the_preview_counts_only_strong_matches_of_a_topic_that_demands_them(papers):
    strict, loose = strict_topic(), TopicFactory(slug="loose", query="text-to-image")

    def preview(topic):
        return selectors.subscription_preview(topics=[topic], query="", categories=[], authors=[])

    assert preview(strict).matched == 2
    assert preview(loose).matched == 3
    assert papers["passing"] not in preview(strict).examples


def test_a_readers_own_query_keeps_its_passing_mentions(papers):
    preview = selectors.subscription_preview(
        topics=[], query="text-to-image", categories=[], authors=[]
    )

    assert preview.matched == 3


def test_the_topic_page_and_its_feed_leave_passing_mentions_out(client, papers):
    strict_topic()

    page = client.get("/topics/image-generation-strict/").content.decode()
    feed = feedparser.parse(client.get("/topics/image-generation-strict/rss/").content)

    assert "2503.10001" in page and "2503.10002" in page
    assert "2503.10003" not in page
    assert "2 papers in the last 7 days." in page
    assert sorted(entry.link for entry in feed.entries) == [
        "https://arxiv.org/abs/2503.10001",
        "https://arxiv.org/abs/2503.10002",
    ]


def test_the_digest_leaves_passing_mentions_out_and_says_why_each_paper_is_in(papers):
    reader = SubscriberFactory(topics=[strict_topic()])

    digests_build(subscriber_ids=[reader.pk], edition_on=timezone.localdate())

    items = {item.paper_id: item.reasons for item in DigestItem.objects.filter(subscriber=reader)}
    assert set(items) == {papers["title"].pk, papers["repeated"].pk}
    assert items[papers["repeated"].pk] == [
        {
            "kind": "topic",
            "label": "Pictures from words",
            "words": ["text to image", "t2i (text to image)"],
            "strength": "strong",
        }
    ]
    assert (
        why_text(items[papers["repeated"].pk])
        == "Pictures from words: text to image, t2i (text to image), strong"
    )


def test_a_topic_that_takes_passing_mentions_says_so_in_the_why_line(papers):
    reader = SubscriberFactory(topics=[TopicFactory(name="T2I", query="text-to-image")])

    digests_build(subscriber_ids=[reader.pk], edition_on=timezone.localdate())

    reasons = DigestItem.objects.get(subscriber=reader, paper=papers["passing"]).reasons
    assert why_text(reasons) == "T2I: text to image, in passing"


def test_a_strong_match_ranks_above_a_passing_mention_with_more_upvotes(papers):
    papers["passing"].hf_upvotes = 50
    papers["passing"].save()
    reader = SubscriberFactory(topics=[TopicFactory(query="text-to-image")])

    digests_build(subscriber_ids=[reader.pk], edition_on=timezone.localdate())

    ranked = DigestItem.objects.filter(subscriber=reader).order_by("rank")
    assert [item.paper_id for item in ranked][-1] == papers["passing"].pk


def test_the_admin_counts_only_strong_matches_of_a_topic_that_demands_them(admin_client, papers):
    strict = strict_topic()

    page = admin_client.get(f"/admin/newsletter/topic/{strict.pk}/change/").content.decode()

    assert '<div class="readonly">2</div>' in page
