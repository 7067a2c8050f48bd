""" "More like this": nearest neighbours on the public paper pages and the digest web view."""

from __future__ import annotations

import pytest
from django.urls import reverse

from newsletter.models import DigestItem, SimilarPapers
from newsletter.recommend import neighbours, representation
from newsletter.signing import Purpose, make_token
from papers.models import FetchRun
from papers.tasks import enqueue_after_papers_added
from tests.factories import DigestFactory, SubscriberFactory
from tests.newsletter.recommend_helpers import LANGUAGE, OTHER, VIDEO, make_papers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_representation():
    representation._tfidf_cache.clear()
    yield
    representation._tfidf_cache.clear()


@pytest.fixture
def forbid_vectorising(monkeypatch):
    """Call it once the lists are stored: from then on building a vector fails the test
    (pages only read stored lists)."""

    def refuse(self, texts):
        raise AssertionError("a page vectorised papers")

    return lambda: monkeypatch.setattr(representation.Tfidf, "vectors", refuse)


def stored_lists() -> dict[int, tuple[list[int], list[float]]]:
    return {
        row.paper_id: (row.neighbour_ids, row.scores)
        for row in SimilarPapers.objects.order_by("paper_id")
    }


def test_the_task_stores_neighbours_on_the_subject_best_first_and_not_the_paper_itself():
    video = make_papers(VIDEO)
    make_papers(LANGUAGE + OTHER)

    report = neighbours.similar_papers_compute()

    assert report.papers == len(VIDEO + LANGUAGE + OTHER)
    ids, scores = stored_lists()[video[0].pk]
    assert video[0].pk not in ids
    assert 3 <= len(ids) <= neighbours.STORED
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= neighbours.MIN_SIMILARITY
    assert set(ids[:3]) <= {paper.pk for paper in video}
    assert [paper.pk for paper in neighbours.more_like_this(paper=video[0], count=3)] == ids[:3]


def test_a_paper_like_nothing_recent_stores_an_empty_list():
    (alone,) = make_papers(["Quantum error correction with surface codes"])
    make_papers(VIDEO)

    neighbours.similar_papers_compute()

    assert stored_lists()[alone.pk] == ([], [])
    assert neighbours.more_like_this(paper=alone) == []


def test_the_task_is_idempotent():
    make_papers(VIDEO + LANGUAGE)
    neighbours.similar_papers_compute()
    first = stored_lists()

    neighbours.similar_papers_compute()

    assert stored_lists() == first
    assert SimilarPapers.objects.count() == len(VIDEO + LANGUAGE)


def test_a_paper_that_left_the_window_loses_its_list():
    video = make_papers(VIDEO)
    neighbours.similar_papers_compute()
    video[0].is_hidden = True
    video[0].save(update_fields=["is_hidden"])

    neighbours.similar_papers_compute()

    assert video[0].pk not in stored_lists()


def test_a_paper_not_computed_yet_shows_no_neighbours(client, forbid_vectorising):
    video = make_papers(VIDEO)
    forbid_vectorising()

    response = client.get(reverse("newsletter:like_this", args=[video[0].pk]))

    assert response.status_code == 200
    assert list(response.context["similar"]) == []


def test_a_neighbour_hidden_since_the_run_disappears_without_recomputing(
    client, forbid_vectorising
):
    video = make_papers(VIDEO)
    forbid_vectorising()
    SimilarPapers.objects.create(
        paper=video[0],
        neighbour_ids=[video[1].pk, video[2].pk, video[3].pk],
        scores=[0.5, 0.4, 0.3],
        computed_at=video[0].created_at,
    )
    video[1].is_hidden = True
    video[1].save(update_fields=["is_hidden"])

    response = client.get(reverse("newsletter:like_this", args=[video[0].pk]))

    assert [paper.pk for paper in response.context["similar"]] == [video[2].pk, video[3].pk]


def test_the_public_page_lists_the_neighbours(
    client, django_assert_num_queries, forbid_vectorising
):
    video = make_papers(VIDEO)
    make_papers(LANGUAGE)
    neighbours.similar_papers_compute()
    forbid_vectorising()

    # the paper, its stored list, the neighbours' cards
    with django_assert_num_queries(3):
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


def test_the_digest_web_view_shows_more_like_this_under_each_paper(client, forbid_vectorising):
    video = make_papers(VIDEO)
    make_papers(LANGUAGE)
    neighbours.similar_papers_compute()
    forbid_vectorising()
    reader = SubscriberFactory()
    digest = DigestFactory(subscriber=reader)
    DigestItem.objects.create(digest=digest, subscriber=reader, paper=video[0], rank=1)
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=reader.email)

    response = client.get(reverse("newsletter:view_digest", args=[token]))

    (entry,) = response.context["entries"]
    assert len(entry.similar) == 3
    assert {paper.title for paper in entry.similar} <= set(VIDEO[1:])
    assert "Similar papers:" in response.content.decode()


def finished_run(*, status: str, created: int) -> FetchRun:
    return FetchRun.objects.create(origin="test", status=status, created_count=created)


def test_a_fetch_that_added_papers_computes_the_lists(django_capture_on_commit_callbacks):
    video = make_papers(VIDEO)
    run = finished_run(status=FetchRun.Status.SUCCEEDED, created=len(VIDEO))

    with django_capture_on_commit_callbacks(execute=True):
        enqueued = enqueue_after_papers_added([run])

    assert enqueued is True
    assert set(stored_lists()) == {paper.pk for paper in video}


def test_a_fetch_that_added_nothing_or_failed_computes_nothing(django_capture_on_commit_callbacks):
    make_papers(VIDEO)
    runs = [
        finished_run(status=FetchRun.Status.SUCCEEDED, created=0),
        finished_run(status=FetchRun.Status.FAILED, created=3),
        None,
    ]

    with django_capture_on_commit_callbacks(execute=True):
        enqueued = enqueue_after_papers_added(runs)

    assert enqueued is False
    assert stored_lists() == {}
