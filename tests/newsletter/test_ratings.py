"""👍/👎 on every paper: signed per reader and paper, a GET records nothing, a POST records,
a new vote replaces the old, undo, and bad links change nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client

from newsletter import ratelimits
from newsletter.digests.building import digests_build
from newsletter.digests.delivery import digests_send
from newsletter.models import Digest, Rating
from newsletter.ratings import rating_links, rating_token
from newsletter.recommend import neighbours
from newsletter.signing import Purpose, make_token
from tests.clock import NOW
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

TUESDAY = dt.date(2025, 3, 25)


def rate_path(reader, paper, vote: str = "up") -> str:
    links = rating_links(
        subscriber_id=reader.pk, email=reader.email, paper_id=paper.pk, absolute=False
    )
    return links.up_url if vote == "up" else links.down_url


def post_path(reader, paper) -> str:
    return rate_path(reader, paper).split("?")[0]


def votes() -> list[tuple[int, int, int]]:
    return list(Rating.objects.order_by("pk").values_list("subscriber_id", "paper_id", "vote"))


# --- The page behind the link --------------------------------------------------------------


def test_a_plain_get_records_no_vote(client, retrains):
    reader, paper = SubscriberFactory(), PaperFactory(title="Diffusion for ducks")

    for vote in ("up", "down"):
        response = client.get(rate_path(reader, paper, vote))

        assert response.status_code == 200
        body = response.content.decode()
        assert "Diffusion for ducks" in body
        assert 'name="vote" value="up"' in body and 'name="vote" value="down"' in body
        assert '<form method="post"' in body
    assert client.head(rate_path(reader, paper)).status_code == 200
    assert votes() == []
    assert retrains == []


def test_the_post_records_the_vote_and_says_what_was_recorded_with_undo(
    django_capture_on_commit_callbacks, retrains
):
    reader, paper = SubscriberFactory(), PaperFactory(title="Diffusion for ducks")
    client = Client(enforce_csrf_checks=True)
    client.get(rate_path(reader, paper))  # sets the CSRF cookie, as a browser would

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            post_path(reader, paper),
            {"vote": "up", "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
        )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Recorded 👍 more like this for “Diffusion for ducks”." in body
    assert 'name="action" value="undo"' in body
    assert votes() == [(reader.pk, paper.pk, 1)]
    assert Rating.objects.get().rated_at >= NOW
    assert retrains == [reader.pk]


def test_a_post_without_the_pages_csrf_token_records_nothing():
    reader, paper = SubscriberFactory(), PaperFactory()

    response = Client(enforce_csrf_checks=True).post(post_path(reader, paper), {"vote": "up"})

    assert response.status_code == 403
    assert votes() == []


def test_a_new_vote_replaces_the_old_one(client):
    reader, paper = SubscriberFactory(), PaperFactory()
    client.post(post_path(reader, paper), {"vote": "up"})

    response = client.post(post_path(reader, paper), {"vote": "down"})

    assert "Recorded 👎 not for me" in response.content.decode()
    assert "It replaces your earlier vote." in response.content.decode()
    assert votes() == [(reader.pk, paper.pk, -1)]


def test_the_same_vote_twice_is_one_vote_and_no_second_retrain(
    client, django_capture_on_commit_callbacks, retrains
):
    reader, paper = SubscriberFactory(), PaperFactory()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(post_path(reader, paper), {"vote": "up"})
        client.post(post_path(reader, paper), {"vote": "up"})

    assert votes() == [(reader.pk, paper.pk, 1)]
    assert retrains == [reader.pk]


def test_undo_removes_the_vote(client):
    reader, paper = SubscriberFactory(), PaperFactory(title="Diffusion for ducks")
    client.post(post_path(reader, paper), {"vote": "down"})

    response = client.post(post_path(reader, paper), {"action": "undo"})

    assert "Your vote on “Diffusion for ducks” is removed." in response.content.decode()
    assert votes() == []


def test_the_page_shows_the_readers_current_vote(client):
    reader, paper = SubscriberFactory(), PaperFactory()
    Rating.objects.create(subscriber=reader, paper=paper, vote=-1, rated_at=NOW)

    body = client.get(rate_path(reader, paper, "up")).content.decode()

    assert "You rated it 👎 not for me." in body


def test_one_readers_vote_does_not_touch_anothers(client):
    alice, bob, paper = SubscriberFactory(), SubscriberFactory(), PaperFactory()
    Rating.objects.create(subscriber=bob, paper=paper, vote=1, rated_at=NOW)

    client.post(post_path(alice, paper), {"vote": "down"})

    assert votes() == [(bob.pk, paper.pk, 1), (alice.pk, paper.pk, -1)]


# --- Bad links and bad posts ----------------------------------------------------------------


def bad_tokens(reader, other, paper) -> dict[str, str]:
    good = rating_token(subscriber_id=reader.pk, email=reader.email, paper_id=paper.pk)
    return {
        "tampered": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "another reader's id with this address": rating_token(
            subscriber_id=other.pk, email=reader.email, paper_id=paper.pk
        ),
        "another purpose": make_token(
            purpose=Purpose.MANAGE, subject_id=reader.pk, email=reader.email, paper_id=paper.pk
        ),
        "no paper": make_token(purpose=Purpose.RATE, subject_id=reader.pk, email=reader.email),
        "a paper that is gone": rating_token(
            subscriber_id=reader.pk, email=reader.email, paper_id=paper.pk + 1000
        ),
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "tampered",
        "another reader's id with this address",
        "another purpose",
        "no paper",
        "a paper that is gone",
        "garbage",
    ],
)
def test_a_bad_link_answers_400_and_changes_nothing(client, kind, retrains):
    reader, other, paper = SubscriberFactory(), SubscriberFactory(), PaperFactory()
    Rating.objects.create(subscriber=reader, paper=paper, vote=1, rated_at=NOW)
    token = bad_tokens(reader, other, paper)[kind]

    assert client.get(f"/rate/{token}/?vote=down").status_code == 400
    assert client.post(f"/rate/{token}/", {"vote": "down"}).status_code == 400
    assert client.post(f"/rate/{token}/", {"action": "undo"}).status_code == 400
    assert votes() == [(reader.pk, paper.pk, 1)]
    assert retrains == []


def test_an_expired_link_answers_400_and_changes_nothing(client, pinned_clock):
    reader, paper = SubscriberFactory(), PaperFactory()
    path = post_path(reader, paper)
    pinned_clock.shift(dt.timedelta(days=366))

    assert client.get(path + "?vote=up").status_code == 400
    assert client.post(path, {"vote": "up"}).status_code == 400
    assert votes() == []


def test_a_link_still_works_after_eleven_months(client, pinned_clock):
    reader, paper = SubscriberFactory(), PaperFactory()
    path = post_path(reader, paper)
    pinned_clock.shift(dt.timedelta(days=335))

    assert client.post(path, {"vote": "up"}).status_code == 200
    assert votes() == [(reader.pk, paper.pk, 1)]


def test_a_link_made_before_the_reader_deleted_their_data_and_came_back_is_dead(client):
    reader, paper = SubscriberFactory(email="same@example.com"), PaperFactory()
    path = post_path(reader, paper)
    reader.delete()
    SubscriberFactory(email="same@example.com")

    assert client.post(path, {"vote": "up"}).status_code == 400
    assert votes() == []


@pytest.mark.parametrize("data", [{}, {"vote": "sideways"}, {"vote": "1"}, {"action": "nope"}])
def test_a_post_without_a_known_vote_answers_400_and_records_nothing(client, data):
    reader, paper = SubscriberFactory(), PaperFactory()

    response = client.post(post_path(reader, paper), data)

    assert response.status_code == 400
    assert votes() == []


# --- The links on the cards ------------------------------------------------------------------


def sent_digest(**reader_fields):
    topic = TopicFactory(name="Generative diffusion", query="diffusion")
    for n in range(4):
        PaperFactory(title=f"Diffusion {n}", announced_on=TUESDAY)
    reader = SubscriberFactory(topics=[topic], **reader_fields)
    built = digests_build(subscriber_ids=[reader.pk], edition_on=TUESDAY)
    digests_send(digest_ids=built.digest_ids, token="t")
    return Digest.objects.get(subscriber=reader), mail.outbox[-1]


def rate_links_in(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"<>]+/rate/[^\s\"<>]+", text)


def test_every_card_in_the_email_carries_both_votes_for_that_reader_and_paper(settings):
    digest, message = sent_digest(max_papers=3)
    html = message.alternatives[0][0]
    shown = list(digest.items.order_by("rank").values_list("paper_id", flat=True))

    expected = []
    for paper_id in shown:
        token = rating_token(
            subscriber_id=digest.subscriber_id, email=digest.subscriber.email, paper_id=paper_id
        )
        expected += [
            f"{settings.SITE_URL}/rate/{token}/?vote=up",
            f"{settings.SITE_URL}/rate/{token}/?vote=down",
        ]
    assert [link.replace("&amp;", "&") for link in rate_links_in(html)] == expected
    assert rate_links_in(message.body) == expected
    assert html.count("More like this") == 3 and message.body.count("Not for me") == 3


def test_a_link_from_the_email_opens_the_page_and_records_nothing_until_the_post(client):
    digest, message = sent_digest(max_papers=1)
    link = rate_links_in(message.body)[1].removeprefix("http://127.0.0.1:8000")

    assert client.get(link).status_code == 200
    assert votes() == []
    client.post(link.split("?")[0], {"vote": "down"})
    paper_id = digest.items.get().paper_id
    assert votes() == [(digest.subscriber_id, paper_id, -1)]


def test_the_view_in_browser_and_more_pages_carry_the_votes_too(client, django_assert_num_queries):
    digest, _message = sent_digest(max_papers=3)
    token = make_token(
        purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=digest.subscriber.email
    )

    neighbours.similar_papers_compute()  # stored lists: the page adds two reads, no vectors
    # the digest with its reader, its papers, their TL;DRs, its follow-ups, the stored
    # neighbour lists and the neighbours' cards: signing the votes costs no query
    with django_assert_num_queries(6):
        view = client.get(f"/digest/{token}/").content.decode()
    more = client.get(f"/digest/{token}/more/").content.decode()

    assert view.count("?vote=up") == 3 and view.count("?vote=down") == 3
    assert more.count("?vote=up") == 1 and more.count("?vote=down") == 1
    more_paper = digest.more_paper_ids[0]
    more_token = rating_token(
        subscriber_id=digest.subscriber_id, email=digest.subscriber.email, paper_id=more_paper
    )
    assert f"/rate/{more_token}/?vote=down" in more


def test_a_chinese_readers_cards_and_vote_page_speak_chinese(client):
    _digest, message = sent_digest(max_papers=1, language="zh-hans")

    assert "👍 多来点这样的" in message.body and "👎 不适合我" in message.body
    assert "多来点这样的" in message.alternatives[0][0]
    link = rate_links_in(message.body)[0].removeprefix("http://127.0.0.1:8000")
    page = client.get(link, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "评价这篇论文" in page


def test_votes_past_the_hourly_limit_are_refused_and_change_nothing(
    client, monkeypatch, frozen_clock
):
    monkeypatch.setattr(ratelimits, "VOTES_PER_SUBSCRIBER", "2/h")
    reader, paper = SubscriberFactory(), PaperFactory()
    client.post(post_path(reader, paper), {"vote": "up"})
    client.post(post_path(reader, paper), {"vote": "down"})

    response = client.post(post_path(reader, paper), {"action": "undo"})

    assert response.status_code == 429
    assert votes() == [(reader.pk, paper.pk, -1)]
    assert client.get(rate_path(reader, paper)).status_code == 200  # the page still opens
