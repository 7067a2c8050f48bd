"""Queries that would match nothing or everything are refused with the reason, nothing saved;
a topic that would take most recent papers too, while a reader's own broad query is theirs."""

from __future__ import annotations

import pytest

from newsletter.matching import parse_query
from newsletter.models import Subscriber, Topic
from newsletter.paper_index import forget_paper_indexes
from newsletter.query_bounds import query_bounds_problem
from tests.factories import PaperFactory
from tests.newsletter.subscription_helpers import signup_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_recent_papers():
    forget_paper_indexes()
    yield
    forget_paper_indexes()


@pytest.mark.parametrize(
    "text",
    [
        "diffusion -diffusion",
        "diffusion -diffused",
        '"image generation" -image',
        '"image generation"~ -generating',
        '"text-to-image" OR "text-to-video" -text',
        '"score matching" -"score matching"',
        '"score matching" -score-matching',
        "title:diffusion -diffusion",
        "title:diffusion -title:diffusion",
    ],
)
def test_a_query_whose_exclusion_leaves_out_all_it_finds_matches_nothing(text):
    assert "would match nothing" in query_bounds_problem(parse_query(text))


@pytest.mark.parametrize("text", ["the", "we OR our", "the model -diffusion", "using-the-data"])
def test_a_query_of_words_in_every_abstract_matches_everything(text):
    assert "would match almost every paper" in query_bounds_problem(parse_query(text))


@pytest.mark.parametrize(
    "text",
    [
        'image -"image generation"',
        '"image generation"~ -"image generation"',
        '"score matching" -"score matched"',
        "diffusion OR video -diffusion",
        "the diffusion",
        "t2i -text",  # the synonym finds "T2I" papers without the word "text"
        "diffusion -title:diffusion",  # diffusion in the abstract only
    ],
)
def test_queries_that_can_match_something_are_accepted(text):
    assert query_bounds_problem(parse_query(text)) == ""


def test_the_sign_up_form_refuses_a_query_that_matches_nothing_and_stores_nothing(client):
    response = client.post(
        "/", signup_data(own_query="diffusion -diffusion"), REMOTE_ADDR="203.0.113.8"
    )

    assert response.status_code == 400
    assert "would match nothing" in response.content.decode()
    assert not Subscriber.objects.exists()


def topic_form(**overrides) -> dict[str, str]:
    return {
        "name": "Benchmarks",
        "slug": "benchmarks",
        "description": "",
        "query": "benchmark",
        "categories": "",
        "is_active": "on",
        "position": "5",
    } | overrides


@pytest.fixture
def benchmark_papers():
    for number in range(60):
        PaperFactory(
            title=f"Paper {number}",
            abstract="We benchmark things." if number % 3 else "We study graphs.",
            categories=["cs.CV"] if number < 10 else ["cs.LG"],
        )


@pytest.mark.usefixtures("benchmark_papers")
def test_a_topic_that_takes_most_recent_papers_is_refused_with_the_count(admin_client):
    response = admin_client.post("/admin/newsletter/topic/add/", topic_form())

    assert response.status_code == 200
    assert "matches 40 of the 60 recent papers it looks at" in response.content.decode()
    assert not Topic.objects.filter(slug="benchmarks").exists()


@pytest.mark.usefixtures("benchmark_papers")
def test_a_topic_query_that_says_what_it_is_about_is_saved(admin_client):
    response = admin_client.post(
        "/admin/newsletter/topic/add/", topic_form(query="benchmark graphs OR graph")
    )

    assert response.status_code == 302
    assert Topic.objects.filter(slug="benchmarks").exists()


@pytest.mark.usefixtures("benchmark_papers")
def test_a_readers_own_broad_query_is_their_choice(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the sign-up task stores it
        response = client.post("/", signup_data(own_query="benchmark"), REMOTE_ADDR="203.0.113.9")

    assert "Check your inbox" in response.content.decode()
    assert Subscriber.objects.get().own_query == "benchmark"


def test_a_topic_that_matches_nothing_is_refused_and_not_saved(admin_client):
    response = admin_client.post(
        "/admin/newsletter/topic/add/", topic_form(query='"image generation" -image')
    )

    assert response.status_code == 200
    assert "would match nothing" in response.content.decode()
    assert not Topic.objects.filter(slug="benchmarks").exists()
