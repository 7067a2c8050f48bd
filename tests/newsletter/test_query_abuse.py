"""What a typed query may cost: too broad a query is refused with a message the reader sees
(sign-up, manage page, preview), the in-process caches stay bounded, and manage-page saves
are rate-limited."""

from __future__ import annotations

import itertools

import pytest

from newsletter import forms, matching, ratelimits
from newsletter.emails import subscriber_links
from newsletter.matching import (
    MAX_PHRASE_CHECKS,
    PHRASE_CACHE_ENTRIES,
    IndexedPaper,
    PaperIndex,
    QueryTooBroad,
    parse_query,
)
from newsletter.models import Subscriber
from tests.factories import PaperFactory, SubscriberFactory
from tests.newsletter.subscription_helpers import path_of, signup_data

COMMON = "of to in is on we as at by an".split()
TOO_BROAD_MESSAGE = "too many phrases of common words"


def phrases_of_common_words(count: int = 40) -> str:
    """The attack: `count` three-word phrases of the commonest words (within 500 characters)."""
    triples = itertools.islice(itertools.permutations(COMMON, 3), count)
    return " ".join('"' + " ".join(triple) + '"' for triple in triples)


def common_abstract(n: int) -> str:
    return f"paper {n} " + " ".join(COMMON * 3)


def test_forty_common_phrases_over_fourteen_thousand_papers_are_refused_and_a_normal_query_runs():
    # The attacker's numbers: 14,000 recent papers, forty three-word phrases of common words.
    index = PaperIndex.build(
        IndexedPaper(n, f"Paper {n}", common_abstract(n)) for n in range(14_000)
    )
    attack = parse_query(phrases_of_common_words(40))
    assert len(attack.canonical) <= matching.MAX_QUERY_LENGTH

    with pytest.raises(QueryTooBroad, match=TOO_BROAD_MESSAGE):
        index.search(attack)
    # Refused before any phrase is confirmed: 40 phrases x 14,000 candidates would be 560,000.
    assert len(index._cache) == len(index._query_cache) == 0
    assert len(index.search(parse_query("paper 7"))) == 1
    # Even one such phrase alone stays within the bound (14,000 checks).
    assert 14_000 <= MAX_PHRASE_CHECKS
    assert len(index.search(parse_query('"of to in"'))) == 14_000


def test_the_phrase_cache_stays_within_its_bounds_under_fresh_queries():
    index = PaperIndex.build(IndexedPaper(n, f"alpha beta {n}", "gamma delta") for n in range(50))

    for n in range(PHRASE_CACHE_ENTRIES + 100):
        index.search(parse_query(f'"alpha beta" -"gamma w{n}"'))

    assert len(index._cache) <= PHRASE_CACHE_ENTRIES
    assert len(index._query_cache) <= matching.QUERY_CACHE_ENTRIES
    assert index._query_cache.size <= matching.QUERY_CACHE_IDS


def test_the_query_check_remembers_a_bounded_number_of_queries(db):
    for n in range(forms.QUERY_CHECKS_REMEMBERED + 100):
        forms.validated_query(f"robot{n} OR arm{n}")

    # validated_query itself remembers nothing; the syntax verdicts it keeps are bounded.
    assert not hasattr(forms.validated_query, "cache_info")
    info = forms.syntax_problem_in.cache_info()
    assert info.maxsize == forms.QUERY_CHECKS_REMEMBERED <= 1024
    assert info.currsize <= info.maxsize


@pytest.fixture
def broad_papers(db, monkeypatch):
    """Enough recent papers of common words that forty phrases of them are too broad here
    (the bound scaled down to this small table, so the test stays fast)."""
    for n in range(30):
        PaperFactory(title=f"Paper {n}", abstract=common_abstract(n))
    monkeypatch.setattr(matching, "MAX_PHRASE_CHECKS", 30 * 10)


@pytest.mark.usefixtures("broad_papers")
def test_the_sign_up_form_shows_the_too_broad_message_and_stores_nothing(client):
    response = client.post(
        "/", signup_data(own_query=phrases_of_common_words()), REMOTE_ADDR="203.0.113.7"
    )

    assert response.status_code == 400
    assert TOO_BROAD_MESSAGE in response.content.decode()
    assert not Subscriber.objects.exists()


@pytest.mark.usefixtures("broad_papers")
def test_the_preview_says_why_instead_of_showing_no_papers(client):
    response = client.get("/preview/", {"own_query": phrases_of_common_words()})

    assert response.status_code == 200
    assert TOO_BROAD_MESSAGE in response.content.decode()


def manage_path(subscriber) -> str:
    return path_of(subscriber_links(subscriber)["manage_url"])


def saved_preferences(**overrides):
    data = signup_data(**{"action": "save", **overrides})
    del data["email"], data["website"]
    return data


@pytest.mark.usefixtures("broad_papers")
def test_the_manage_page_shows_the_too_broad_message_and_keeps_the_old_query(client):
    reader = SubscriberFactory(own_query="robots")

    response = client.post(
        manage_path(reader), saved_preferences(own_query=phrases_of_common_words())
    )

    assert response.status_code == 400
    assert TOO_BROAD_MESSAGE in response.content.decode()
    reader.refresh_from_db()
    assert reader.own_query == "robots"


def test_manage_saves_have_the_documented_limits():
    assert (ratelimits.MANAGE_SAVES_PER_SUBSCRIBER, ratelimits.MANAGE_SAVES_PER_IP) == (
        "20/h",
        "60/h",
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_clock")
def test_manage_saves_are_rate_limited_per_reader(client, monkeypatch):
    monkeypatch.setattr(ratelimits, "MANAGE_SAVES_PER_SUBSCRIBER", "4/h")  # fewer pages to post
    reader = SubscriberFactory(own_query="robots")
    per_hour = 4
    for n in range(per_hour):
        assert (
            client.post(
                manage_path(reader),
                saved_preferences(own_query=f"robot{n}"),
                REMOTE_ADDR=f"10.0.0.{n}",
            ).status_code
            == 200
        )

    refused = client.post(
        manage_path(reader), saved_preferences(own_query="one more"), REMOTE_ADDR="10.0.1.1"
    )

    assert refused.status_code == 429
    reader.refresh_from_db()
    assert reader.own_query == f"robot{per_hour - 1}"
    # Leaving is never rate-limited.
    unsubscribe = client.post(manage_path(reader), {"action": "unsubscribe"})
    assert unsubscribe.status_code == 200
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_clock")
def test_manage_saves_are_rate_limited_per_ip(client, monkeypatch):
    monkeypatch.setattr(ratelimits, "MANAGE_SAVES_PER_IP", "4/h")  # fewer pages to post
    per_hour = 4
    readers = SubscriberFactory.create_batch(per_hour + 1)
    for n, reader in enumerate(readers[:-1]):
        assert (
            client.post(
                manage_path(reader),
                saved_preferences(own_query=f"robot{n}"),
                REMOTE_ADDR="10.9.9.9",
            ).status_code
            == 200
        )

    refused = client.post(
        manage_path(readers[-1]), saved_preferences(own_query="new"), REMOTE_ADDR="10.9.9.9"
    )

    assert refused.status_code == 429
    readers[-1].refresh_from_db()
    assert readers[-1].own_query == ""
