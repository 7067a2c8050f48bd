"""Follow-ups in the reader's private feed: the updates their sent digests told them, one
item each, titled by kind, linking the code or the paper, escaped, bounded; never in a
public feed."""

from __future__ import annotations

import datetime as dt
import itertools

import feedparser
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from newsletter.feeds import subscriber_feed_url
from newsletter.followups import FEED_FOLLOWUPS
from newsletter.models import Digest, FollowUp
from tests.factories import DigestFactory, PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

SENT_AT = dt.datetime(2025, 2, 21, 7, 0, tzinfo=dt.UTC)
EDITIONS = (dt.date(2025, 1, 1) + dt.timedelta(days=n) for n in itertools.count())


def feed_path(subscriber) -> str:
    return subscriber_feed_url(subscriber).removeprefix(settings.SITE_URL)


def told(subscriber, *, digest=None, position=1, kind=FollowUp.Kind.CODE, detail=None, **paper):
    digest = digest or DigestFactory(
        subscriber=subscriber, status=Digest.Status.SENT, sent_at=SENT_AT, edition_on=next(EDITIONS)
    )
    return FollowUp.objects.create(
        digest=digest,
        subscriber=subscriber,
        paper=PaperFactory(**paper),
        kind=kind,
        position=position,
        detail=detail or {},
    )


def entries(client, subscriber) -> list:
    response = client.get(feed_path(subscriber))
    assert response.status_code == 200
    return feedparser.parse(response.content).entries


def test_the_private_feed_carries_each_update_titled_by_its_kind(client):
    reader = SubscriberFactory()
    digest = DigestFactory(subscriber=reader, status=Digest.Status.SENT, sent_at=SENT_AT)
    told(
        reader,
        digest=digest,
        position=1,
        kind=FollowUp.Kind.CODE,
        detail={"code_url": "https://github.com/fudan/imagerag"},
        arxiv_id="2502.09411",
        title="ImageRAG",
    )
    told(
        reader,
        digest=digest,
        position=2,
        kind=FollowUp.Kind.TRENDING,
        detail={"upvotes_then": 9, "upvotes_now": 140},
        arxiv_id="2502.10028",
        title="ManiTrend",
    )
    told(
        reader,
        digest=digest,
        position=3,
        kind=FollowUp.Kind.NEW_VERSION,
        detail={"version": 2},
        arxiv_id="2405.05538",
        title="A survey",
    )

    parsed = entries(client, reader)

    assert [(entry.title, entry.link) for entry in parsed] == [
        ("Code released: ImageRAG", "https://github.com/fudan/imagerag"),
        ("Trending: ManiTrend", "https://arxiv.org/abs/2502.10028"),
        ("New version: A survey", "https://arxiv.org/abs/2405.05538"),
    ]
    assert [entry.id for entry in parsed] == [
        "https://arxiv.org/abs/2502.09411#update-code",
        "https://arxiv.org/abs/2502.10028#update-trending",
        "https://arxiv.org/abs/2405.05538#update-new_version",
    ]
    assert parsed[1].summary == "Trending on Hugging Face: 9 → 140 upvotes since you got it"
    assert parsed[2].summary == "New version (v2): the abstract changed"
    assert parsed[0].published_parsed[:4] == (2025, 2, 21, 7)


def test_updates_come_before_the_readers_matches(client):
    reader = SubscriberFactory(topics=[TopicFactory(query="diffusion")])
    PaperFactory(arxiv_id="2503.00401", title="Diffusion policies")
    told(reader, detail={"code_url": "https://github.com/a/b"}, arxiv_id="2502.09411")

    links = [entry.link for entry in entries(client, reader)]

    assert links == ["https://github.com/a/b", "https://arxiv.org/abs/2503.00401"]


def test_only_updates_of_sent_digests_of_this_reader_and_visible_papers_appear(client):
    reader, other = SubscriberFactory(), SubscriberFactory()
    told(reader, arxiv_id="2502.00001", title="Told")
    for status in (Digest.Status.PENDING, Digest.Status.FAILED, Digest.Status.SKIPPED_EMPTY):
        told(
            reader,
            digest=DigestFactory(subscriber=reader, status=status, edition_on=next(EDITIONS)),
            arxiv_id=f"2502.0{len(status):04d}",
            title=f"Not sent: {status}",
        )
    told(reader, arxiv_id="2502.00002", title="Hidden since", is_hidden=True)
    told(other, arxiv_id="2502.00003", title="Someone else's")

    assert [entry.title for entry in entries(client, reader)] == ["Code released: Told"]


def test_the_newest_updates_come_first_and_their_count_is_bounded(client):
    reader = SubscriberFactory()
    for day in range(FEED_FOLLOWUPS + 2):
        told(
            reader,
            digest=DigestFactory(
                subscriber=reader,
                status=Digest.Status.SENT,
                sent_at=SENT_AT + dt.timedelta(days=day),
                edition_on=SENT_AT.date() + dt.timedelta(days=day),
            ),
            title=f"Paper {day}",
        )

    titles = [entry.title for entry in entries(client, reader)]

    assert titles == [f"Code released: Paper {day}" for day in range(FEED_FOLLOWUPS + 1, 1, -1)]


def test_titles_and_links_from_outside_are_escaped_and_a_bad_code_link_is_not_followed(client):
    reader = SubscriberFactory()
    told(
        reader,
        detail={"code_url": "javascript:alert(1)"},
        arxiv_id="2502.09411",
        title="<script>alert(1)</script> & more",
    )

    response = client.get(feed_path(reader))
    body = response.content.decode()
    (entry,) = feedparser.parse(response.content).entries

    assert "<script>" not in body
    assert "javascript:" not in body
    assert entry.title == "Code released: <script>alert(1)</script> & more"
    assert entry.link == "https://arxiv.org/abs/2502.09411"
    assert entry.summary == "Code released:"


def test_a_public_topic_feed_carries_no_updates(client):
    topic = TopicFactory(slug="diffusion", query="diffusion")
    reader = SubscriberFactory(topics=[topic])
    told(reader, arxiv_id="2502.09411", title="Diffusion, with code now")

    for path in ("/topics/diffusion/rss/", "/topics/diffusion/atom/"):
        response = client.get(path)
        assert response.status_code == 200
        assert "#update-" not in response.content.decode()
        assert "Code released" not in response.content.decode()


def followup_queries(client, path) -> tuple[int, int]:
    """(all queries, those reading follow-ups) of one poll of the feed."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    sql = [query["sql"] for query in queries.captured_queries]
    return len(sql), sum('"newsletter_followup"' in statement for statement in sql)


def test_updates_cost_the_feed_one_query_however_many(client):
    reader = SubscriberFactory()
    path = feed_path(reader)
    told(reader, title="One")
    client.get(path)  # new papers rebuild the recent papers' index once
    with_one = followup_queries(client, path)

    for n in range(FEED_FOLLOWUPS):
        told(reader, title=f"More {n}")
    client.get(path)
    with_many = followup_queries(client, path)

    assert with_one[1] == 1
    assert with_many == with_one
