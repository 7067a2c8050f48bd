"""Editors see whether the digests please: 👍/👎 per day and per topic, the most 👎'd papers
of the week, and each reader's votes and papers in the subscriber export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from newsletter import rating_stats as rating_stats_module
from newsletter.day_counts import day_counts_refresh
from newsletter.models import Digest, ImportedPaper, Rating
from newsletter.rating_stats import VoteCounts, rating_stats
from tests.factories import (
    DigestFactory,
    DigestItemFactory,
    PaperFactory,
    SubscriberFactory,
)

pytestmark = pytest.mark.django_db


def days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def vote(reader, paper, value: int, *, days: int = 0) -> Rating:
    return Rating.objects.create(
        subscriber=reader, paper=paper, vote=value, rated_at=days_ago(days)
    )


def sent(reader, paper, *topics: str) -> None:
    """The paper reached the reader's email because it matched these topics."""
    digest = Digest.objects.filter(subscriber=reader).first() or DigestFactory(subscriber=reader)
    DigestItemFactory(
        digest=digest,
        subscriber=reader,
        paper=paper,
        reasons=[{"kind": "topic", "label": topic, "words": []} for topic in topics],
    )


def test_votes_are_counted_per_day_with_the_share_of_thumbs_down():
    readers = SubscriberFactory.create_batch(4)
    paper = PaperFactory()
    vote(readers[0], paper, 1)
    vote(readers[1], paper, -1)
    vote(readers[2], paper, -1)
    vote(readers[3], paper, 1, days=2)
    vote(SubscriberFactory(), paper, -1, days=20)  # outside the table

    stats = rating_stats(today=timezone.localdate())

    days = dict(stats.days)
    today = timezone.localdate()
    assert len(stats.days) == 14 and stats.days[0][0] == today
    assert days[today] == VoteCounts(up=1, down=2)
    assert days[today].down_percent == 67
    assert days[today - dt.timedelta(days=1)] == VoteCounts()
    assert days[today - dt.timedelta(days=2)] == VoteCounts(up=1, down=0)
    assert stats.week == VoteCounts(up=2, down=2)


def test_a_vote_counts_for_the_topic_the_paper_was_sent_for_not_every_followed_topic():
    ada, bob = SubscriberFactory(), SubscriberFactory()
    robots_paper, both_paper, web_paper = PaperFactory(), PaperFactory(), PaperFactory()
    sent(ada, robots_paper, "Robots")
    sent(bob, both_paper, "Robots", "Diffusion")
    vote(ada, robots_paper, -1)
    vote(bob, both_paper, 1)
    vote(ada, web_paper, 1)  # from the "more" page: in no email
    vote(bob, robots_paper, -1, days=8)  # last week

    topics = rating_stats(today=timezone.localdate()).topics

    assert topics == [
        ("Robots", VoteCounts(up=1, down=1)),
        ("Diffusion", VoteCounts(up=1, down=0)),
        ("", VoteCounts(up=1, down=0)),
    ]


def test_a_big_weeks_topics_are_counted_from_its_latest_votes_and_say_so(monkeypatch):
    monkeypatch.setattr(rating_stats_module, "TOPIC_VOTES_READ", 2)
    reader = SubscriberFactory()
    papers = PaperFactory.create_batch(3)
    for paper in papers:
        sent(reader, paper, "Robots")
    vote(reader, papers[0], -1, days=3)  # the oldest of the week: beyond the latest two
    vote(reader, papers[1], 1, days=1)
    vote(reader, papers[2], 1)

    stats = rating_stats(today=timezone.localdate())

    assert stats.topics == [("Robots", VoteCounts(up=2, down=0))]
    assert stats.topics_from_latest == 2
    assert stats.week == VoteCounts(up=2, down=1)


def test_a_small_weeks_topics_count_every_vote():
    reader = SubscriberFactory()
    paper = PaperFactory()
    sent(reader, paper, "Robots")
    vote(reader, paper, 1)

    assert rating_stats(today=timezone.localdate()).topics_from_latest is None


def test_the_most_disliked_papers_of_the_week_come_first():
    readers = SubscriberFactory.create_batch(3)
    worst = PaperFactory(title="Worst")
    bad = PaperFactory(title="Bad")
    liked = PaperFactory(title="Liked")
    old = PaperFactory(title="Old")
    for reader in readers:
        vote(reader, worst, -1)
        vote(reader, liked, 1)
        vote(reader, old, -1, days=9)
    vote(readers[0], bad, -1)

    disliked = rating_stats(today=timezone.localdate()).most_disliked

    assert [(paper.title, paper.votes) for paper in disliked] == [
        ("Worst", VoteCounts(up=0, down=3)),
        ("Bad", VoteCounts(up=0, down=1)),
    ]


def test_the_numbers_take_five_queries_however_many_votes():
    readers = SubscriberFactory.create_batch(5)
    papers = PaperFactory.create_batch(5)
    for reader in readers:
        for n, paper in enumerate(papers):
            sent(reader, paper, "Robots")
            vote(reader, paper, -1 if n in (1, 3) else 1, days=n % 4)
    day_counts_refresh(today=timezone.localdate())  # the scheduled count of the older days

    with CaptureQueriesContext(connection) as queries:
        stats = rating_stats(today=timezone.localdate())

    # The older days' stored counts, three aggregates over the ratings (today and yesterday,
    # topics, most 👎'd) and one for the most 👎'd papers' titles.
    assert len(queries.captured_queries) == 5
    assert [paper.votes.down for paper in stats.most_disliked] == [5, 5]


def test_editors_see_the_votes_on_the_admin_home_page(editor_client, django_assert_max_num_queries):
    reader = SubscriberFactory()
    paper = PaperFactory(title="A disliked paper", arxiv_id="2503.99999")
    sent(reader, paper, "Robots")
    vote(reader, paper, -1)
    day_counts_refresh(today=timezone.localdate())

    with django_assert_max_num_queries(20):
        page = editor_client.get("/admin/").content.decode()

    assert 'id="paperboy-ratings"' in page
    assert "Last 7 days: 👍 0 · 👎 1" in page
    assert 'data-rating-topic="Robots"' in page
    assert 'data-disliked="2503.99999"' in page and "A disliked paper" in page


def test_the_subscriber_export_has_each_readers_votes_and_papers(editor_client):
    reader = SubscriberFactory(email="ada@example.com", recommendations_enabled=False)
    vote(reader, PaperFactory(arxiv_id="2503.00001"), 1, days=1)
    vote(reader, PaperFactory(arxiv_id="2503.00002"), -1)
    for title, arxiv_id in (("=A title", ""), ("DDPM", "2006.11239")):
        ImportedPaper.objects.create(
            subscriber=reader,
            title=title,
            arxiv_id=arxiv_id,
            origin=ImportedPaper.Origin.BIBTEX,
            imported_at=timezone.now(),
        )
    SubscriberFactory(email="bob@example.com")

    response = editor_client.post(
        "/admin/newsletter/subscriber/",
        {"action": "export_csv", "_selected_action": [reader.pk]},
    )

    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert row["email"] == "ada@example.com"
    assert row["recommendations_enabled"] == "False"
    assert row["ratings"] == "2503.00002:-1 2503.00001:+1"
    assert row["imported_papers"] == "2006.11239 | =A title"
