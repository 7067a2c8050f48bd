"""Each paper's term counts are stored by the tasks that vectorise papers anyway, so the send
workers score a day's papers without a vectoriser (scikit-learn stays in the recommend
workers); a revised text is counted again; the vectors are the same either way."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.conf import settings

from newsletter import paper_index
from newsletter.celery import app as celery_app
from newsletter.models import PaperTerms
from newsletter.recommend import neighbours, representation, scoring
from newsletter.recommend.representation import paper_text
from papers.models import Paper
from tests.clock import TODAY
from tests.newsletter.recommend_helpers import LANGUAGE, OTHER, VIDEO, make_papers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_representation():
    representation._tfidf_cache.clear()
    yield
    representation._tfidf_cache.clear()
    paper_index.forget_paper_indexes()


def rows_of(papers: list[Paper]) -> list[tuple[int, str, str]]:
    return [(paper.pk, paper.title, paper.abstract) for paper in papers]


def no_hashing(monkeypatch) -> None:
    def refuse(texts):
        raise AssertionError(f"hashed {len(texts)} texts")

    monkeypatch.setattr(representation, "term_counts", refuse)


def test_stored_counts_give_the_very_vectors_hashing_gives(monkeypatch):
    papers = make_papers(VIDEO + LANGUAGE, day=TODAY)
    tfidf = representation.current_tfidf()
    hashed = tfidf.vectors([paper_text(p.title, p.abstract) for p in papers])

    first = representation.paper_vectors(tfidf, rows_of(papers), store=True)
    no_hashing(monkeypatch)
    again = representation.paper_vectors(tfidf, rows_of(papers))

    assert PaperTerms.objects.count() == len(papers)
    for vectors in (first, again):
        assert vectors.shape == hashed.shape
        assert (vectors.indptr == hashed.indptr).all()
        assert (vectors.indices == hashed.indices).all()
        assert (vectors.data == hashed.data).all()  # bit for bit
    assert np.allclose(np.asarray(again.multiply(again).sum(axis=1)).ravel(), 1.0)


def test_the_send_path_reads_counts_but_never_stores_them():
    papers = make_papers(VIDEO[:3], day=TODAY)

    representation.paper_vectors(representation.current_tfidf(), rows_of(papers))

    assert PaperTerms.objects.count() == 0


def test_a_paper_whose_text_changed_is_counted_again(monkeypatch):
    paper = make_papers(VIDEO[:1], day=TODAY)[0]
    tfidf = representation.current_tfidf()
    before = representation.paper_vectors(tfidf, rows_of([paper]), store=True)
    Paper.objects.filter(pk=paper.pk).update(abstract="Speculative decoding for language models.")
    paper.refresh_from_db()
    revised = paper_text(paper.title, paper.abstract)

    after = representation.paper_vectors(tfidf, rows_of([paper]), store=True)

    assert (after != before).nnz
    assert (after != tfidf.vectors([revised])).nnz == 0
    stored = PaperTerms.objects.get(paper=paper)
    assert bytes(stored.text_digest) == representation.text_digest(revised)
    no_hashing(monkeypatch)
    assert (representation.paper_vectors(tfidf, rows_of([paper])) != after).nnz == 0


def test_counts_hashed_differently_are_not_used(monkeypatch):
    paper = make_papers(VIDEO[:1], day=TODAY)[0]
    tfidf = representation.current_tfidf()
    representation.paper_vectors(tfidf, rows_of([paper]), store=True)
    PaperTerms.objects.update(features="hashed-tfidf-v0")

    calls = []
    hashing = representation.term_counts
    monkeypatch.setattr(
        representation, "term_counts", lambda texts: calls.append(1) or hashing(texts)
    )
    representation.paper_vectors(tfidf, rows_of([paper]))

    assert calls == [1]


def test_more_like_this_stores_the_counts_the_days_scoring_then_reads(monkeypatch):
    make_papers(OTHER, day=TODAY - dt.timedelta(days=3))
    today = make_papers(VIDEO + LANGUAGE, day=TODAY)
    neighbours.similar_papers_compute()  # what a fetch that added papers enqueues
    assert PaperTerms.objects.count() == len(OTHER) + len(today)

    no_hashing(monkeypatch)
    matrix = scoring.PaperMatrix.build(sorted(rows_of(today)))

    assert matrix.tfidf.shape[0] == len(today)
    assert matrix.tfidf.nnz > 0


def test_vectorising_and_training_run_on_their_own_queue():
    router = celery_app.amqp.router
    for name in (
        "newsletter.tasks.retrain_reader_models",
        "newsletter.tasks.train_reader_models",
        "newsletter.tasks.compute_similar_papers",
    ):
        assert router.route({}, name)["queue"].name == settings.RECOMMEND_QUEUE
    assert router.route({}, "newsletter.tasks.build_and_send_digests")["queue"].name == "celery"
