"""The fast products behind a reader's scores give what the plain ones give, to the bit: the
digests must not change when scoring gets cheaper."""

from __future__ import annotations

import heapq
import itertools
from collections import Counter

import numpy as np
import scipy.sparse as sp

from newsletter.digests.ranking import (
    ReaderMatches,
    reader_score,
    reader_score_columns,
    rule_order,
)
from newsletter.paper_index import RankingColumns
from newsletter.recommend import recommendations, scoring
from newsletter.recommend.recommendations import RuleOrder
from newsletter.recommend.training import TrainedModel

TERMS = 5000


def sparse_rows(rows: int, per_row: int, *, seed: int) -> sp.csr_matrix:
    """Rows shaped like TF-IDF's: a few hundred terms each, frequent ones shared."""
    rng = np.random.default_rng(seed)
    frequent = rng.zipf(1.3, size=(rows, per_row)) % TERMS
    matrix = sp.csr_matrix(
        (
            rng.random(rows * per_row, dtype=np.float32),
            frequent.ravel(),
            np.arange(0, rows * per_row + 1, per_row),
        ),
        shape=(rows, TERMS),
    )
    matrix.sum_duplicates()  # sorted, unique indices, as the stored models and vectors have
    return matrix


def test_the_interests_product_is_the_plain_sparse_product_to_the_bit():
    papers = sparse_rows(300, 120, seed=1)
    coef = sparse_rows(3 * scoring.ROWS_PER_PRODUCT + 5, 400, seed=2)  # several blocks

    fast = scoring._sparse_products(coef, papers.tocsc())

    plain = (papers @ coef.T).toarray().T
    assert fast.dtype == np.float32
    assert np.array_equal(fast, plain)


def test_probabilities_are_the_same_from_rows_or_columns_of_papers():
    papers = sparse_rows(50, 80, seed=3)
    model = TrainedModel(
        coef=sparse_rows(2, 300, seed=4),
        intercept=np.asarray([-0.5, 0.25], dtype=np.float32),
        liked=sparse_rows(3, 30, seed=5),
        liked_interest=np.asarray([0, 1, 1]),
    )

    by_rows = scoring.probabilities([model], papers)
    by_columns = scoring.probabilities([model], papers.tocsc())

    logits = (papers @ model.coef.T).toarray().T + model.intercept[:, None]
    assert np.array_equal(by_rows, by_columns)
    assert np.allclose(by_rows[0], (1 / (1 + np.exp(-logits))).max(axis=0), atol=1e-6)


def test_reader_score_columns_are_reader_score_for_every_kind_of_match():
    cases = list(itertools.product([False, True], [False, True], [False, True], [0, 1, 2, 3]))

    columns = reader_score_columns(
        strong_hit=np.asarray([case[0] for case in cases]),
        text_hit=np.asarray([case[1] for case in cases]),
        author_hit=np.asarray([case[2] for case in cases]),
        agreeing_filters=np.asarray([case[3] for case in cases]),
    )

    assert columns.tolist() == [
        reader_score(strong_hit=s, text_hit=t, author_hit=a, agreeing_filters=n)
        for s, t, a, n in cases
    ]


def test_a_readers_rule_order_is_the_papers_key_plus_the_reader_part():
    ids = [3, 8, 11, 20, 21, 40]
    columns = RankingColumns(
        paper_ids=np.asarray(ids),
        not_featured=np.asarray([True, False, True, True, True, True]),
        score=np.asarray([0.5, -1.0, 0.25, 0.0, 1.75, -0.5]),
        tie_break=np.asarray([5, 0, 2, 1, 4, 3]),
    )
    keys = {pid: (nf, s, t) for pid, nf, s, t in zip(ids, *columns[1:], strict=True)}
    matches = ReaderMatches(
        filters=[],
        authors=[],
        agreeing=Counter({3: 1, 8: 2, 11: 1, 21: 1}),
        text_hits={3, 8, 21},
        strong_hits={21},
        author_hits={11, 40},
    )

    candidates, order = rule_order(matches, columns)

    assert sorted(candidates.tolist()) == sorted(matches.paper_ids)
    for pid, not_featured, negative_rule, tie in zip(candidates, *order, strict=True):
        mine = reader_score(
            strong_hit=pid in matches.strong_hits,
            text_hit=pid in matches.text_hits,
            author_hit=pid in matches.author_hits,
            agreeing_filters=matches.agreeing.get(pid, 0),
        )
        featured_not, score, tie_break = keys[int(pid)]
        assert (not_featured, negative_rule, tie) == (featured_not, -(score + mine), tie_break)


def test_reranking_is_the_smallest_blended_keys_featured_first():
    rng = np.random.default_rng(9)
    count = 200
    ids = np.arange(1000, 1000 + count, dtype=np.int64)
    matrix = scoring.PaperMatrix.of_vectors(ids, sparse_rows(count, 10, seed=10), tfidf_key="t")
    opinions = rng.uniform(-1, 1, count).astype(np.float32)
    personal = scoring.ReaderScores(
        1,
        12,
        6,
        opinions,
        opinions,
        None,
        matrix.tfidf,
        matrix,  # type: ignore[arg-type]
    )
    candidates = rng.permutation(ids)[:150]
    keys = [
        (bool(rng.random() < 0.9), -float(rng.integers(0, 4)), int(tie))
        for tie in rng.permutation(count)[:150]
    ]

    fast = recommendations.reranked(
        personal, candidates=candidates, order=RuleOrder.of(keys), limit=40
    )

    boost = scoring.model_weight(12) * opinions[candidates - 1000]
    plain = heapq.nsmallest(
        40,
        (
            ((featured, negative_rule - float(b), tie), int(pid))
            for (featured, negative_rule, tie), b, pid in zip(keys, boost, candidates, strict=True)
        ),
    )
    featured = {int(pid) for pid, key in zip(candidates, keys, strict=True) if not key[0]}
    assert fast == [pid for _key, pid in plain]
    assert 0 < len(featured) < 40
    assert set(fast[: len(featured)]) == featured


def test_the_likeness_of_liked_papers_and_a_few_papers_is_their_dot_products():
    liked = sparse_rows(40, 32, seed=7)
    papers = sparse_rows(6, 300, seed=8)
    papers.data[papers.indptr[3] : papers.indptr[4]] = 0  # a paper with no terms: like nothing
    papers.eliminate_zeros()

    rows = np.array([5, 3, 0, 1])

    likeness = recommendations.likeness(liked, papers, rows)

    assert likeness.shape == (40, 4)
    assert np.allclose(likeness, (liked @ papers[rows].T).toarray(), rtol=1e-6, atol=1e-7)
    assert not likeness[:, 1].any()
    assert np.array_equal(
        recommendations.likeness(liked, papers, rows), likeness
    )  # scratch cleared
    assert recommendations.likeness(liked, papers, rows[:0]).shape == (40, 0)


def test_each_readers_best_interest_is_what_reduceat_gives():
    rng = np.random.default_rng(7)
    counts = rng.choice([1, 2, 3, 4], size=40)
    table = rng.random((int(counts.sum()), 30), dtype=np.float32)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))

    before = table.copy()

    best = scoring._best_interest(table, starts)

    assert np.array_equal(best, np.maximum.reduceat(table, starts, axis=0))
    assert np.array_equal(table, before)
