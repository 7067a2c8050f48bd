""" "More like this": nearest neighbours on the public paper pages and the digest web view."""

from __future__ import annotations

import pytest
from django.urls import reverse

from newsletter.models import DigestItem
from newsletter.recommend import neighbours, representation
from newsletter.signing import Purpose, make_token
from tests.factories import DigestFactory, SubscriberFactory
from tests.newsletter.recommend_helpers import LANGUAGE, OTHER, VIDEO, make_papers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_representation():
    representation._tfidf_cache.clear()
    neighbours._corpus.clear()
    yield
    representation._tfidf_cache.clear()
    neighbours._corpus.clear()


def test_the_neighbours_of_a_paper_are_on_its_subject_and_not_itself():
    video = make_papers(VIDEO)
    make_papers(LANGUAGE + OTHER)

    found = neighbours.more_like_this(paper=video[0], count=3)

    assert len(found) == 3
    assert video[0] not in found
    assert {paper.title for paper in found} <= set(VIDEO)


def test_a_paper_like_nothing_recent_has_no_neighbours():
    (alone,) = make_papers(["Quantum error correction with surface codes"])

    assert neighbours.more_like_this(paper=alone) == []


def test_the_public_page_lists_the_neighbours(client):
    video = make_papers(VIDEO)
    make_papers(LANGUAGE)

    response = client.get(reverse("newsletter:like_this", args=[video[0].pk]))

    assert response.status_code == 200
    titles = [paper.title for paper in response.context["similar"]]
    assert 3 <= len(titles) <= neighbours.SHOWN
    assert set(titles) <= set(VIDEO[1:])  # none of the language papers
    assert reverse("newsletter:like_this", args=[video[1].pk]) in response.content.decode()


def test_a_hidden_paper_has_no_public_page(client):
    (paper,) = make_papers(VIDEO[:1], is_hidden=True)

    response = client.get(reverse("newsletter:like_this", args=[paper.pk]))

    assert response.status_code == 404


def test_the_day_page_links_each_paper_to_more_like_this(client):
    papers = make_papers(VIDEO[:2])

    content = client.get(reverse("papers:latest")).content.decode()

    for paper in papers:
        assert reverse("newsletter:like_this", args=[paper.pk]) in content


def test_the_digest_web_view_shows_more_like_this_under_each_paper(client):
    video = make_papers(VIDEO)
    make_papers(LANGUAGE)
    reader = SubscriberFactory()
    digest = DigestFactory(subscriber=reader)
    DigestItem.objects.create(digest=digest, subscriber=reader, paper=video[0], rank=1)
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=reader.email)

    response = client.get(reverse("newsletter:view_digest", args=[token]))

    (entry,) = response.context["entries"]
    assert len(entry.similar) == 3
    assert {paper.title for paper in entry.similar} <= set(VIDEO[1:])
    assert "Similar papers:" in response.content.decode()
