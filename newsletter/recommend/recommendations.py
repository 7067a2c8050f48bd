"""What a reader's model does to their digest: re-rank the matched papers by the blended
score, and pick a few papers outside their filters ("Recommended for you"), each with the
liked paper it most resembles; never a paper they were sent before."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from newsletter.recommend.scoring import ReaderScores, model_weight

# A recommendation must stand out among the window's papers for this reader's model: two
# robust standard deviations above the typical paper (see scoring.opinions).
RECOMMEND_ABOVE = 2.0 / 3.0
RECOMMENDED = "recommended"


class RuleOrder(NamedTuple):
    """The digest's own key of each candidate, as columns: not featured, minus the rule
    score, tie-break (editors' featured papers stay first)."""

    not_featured: np.ndarray
    negative_rule: np.ndarray
    tie_break: np.ndarray

    @classmethod
    def of(cls, keys: Sequence[tuple[bool, float, int]]) -> RuleOrder:
        return cls(
            np.asarray([key[0] for key in keys], dtype=bool),
            np.asarray([key[1] for key in keys], dtype=np.float64),
            np.asarray([key[2] for key in keys], dtype=np.int64),
        )

    def best(self, ids: np.ndarray, limit: int, *, boost: np.ndarray | float = 0.0) -> list[int]:
        """The best `limit` of `ids` (the papers these keys are of) in this order, each
        paper's rule score raised by its `boost` (a reader's model; none: the rule alone)."""
        # The tie-break differs between any two papers: the order is total, as a sort's must be.
        ranked = np.lexsort((self.tie_break, self.negative_rule - boost, self.not_featured))
        return ids[ranked[:limit]].tolist()


def reranked(
    personal: ReaderScores, *, candidates: np.ndarray, order: RuleOrder, limit: int
) -> list[int]:
    """The best `limit` candidates (paper ids; `order` their keys) by the blended score."""
    if not candidates.size:
        return []
    boost = model_weight(personal.ratings) * personal.opinions_of(candidates)
    return order.best(candidates, limit, boost=boost)


def recommended(
    personal: ReaderScores,
    *,
    eligible: frozenset[int],
    excluded: Iterable[int] | np.ndarray,
    count: int,
) -> list[tuple[int, str]]:
    """Up to `count` eligible papers not in `excluded` (the reader's matches and everything
    sent before) that the model rates highly, best first, each with the title of the liked
    paper it is most like."""
    if count <= 0 or personal.positives == 0 or not eligible:
        return []
    matrix = personal.matrix
    rows = matrix.rows_of_set(eligible)
    if rows.size == 0:
        return []
    wanted = personal.opinions[rows] >= RECOMMEND_ABOVE
    shut = np.zeros(matrix.paper_ids.size, dtype=bool)
    shut[matrix.rows(excluded)] = True
    wanted &= ~shut[rows]
    standing = np.flatnonzero(wanted)  # few: two robust deviations above the typical paper
    best = standing[np.argsort(-personal.probabilities[rows[standing]], kind="stable")[:count]]
    if best.size == 0:
        return []
    chosen = rows[best]
    titles = personal.model.liked_titles
    liked = personal.model.liked
    if sp.issparse(liked):
        similarity = likeness(liked, personal.matrix.tfidf, chosen)
    else:
        similarity = np.asarray(liked @ personal.vectors[chosen].T)
    closest = similarity.argmax(axis=0)
    return [
        (int(matrix.paper_ids[row]), titles[int(like)] if int(like) < len(titles) else "")
        for row, like in zip(chosen, closest, strict=True)
    ]


def likeness(liked: sp.csr_matrix, papers: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """(liked papers x papers[rows]) dot products, for a few rows: each row spread over a
    dense scratch row of the hashed space, read at the liked papers' terms (a few dozen
    each), and cleared again. A sparse product would transpose the rows into a matrix as
    tall as the hashed space, or multiply the liked papers with the whole window (~0.3 ms a
    reader)."""
    scratch = _scratch_row(papers.shape[1])
    liked_row = np.repeat(np.arange(liked.shape[0]), np.diff(liked.indptr))
    similarity = np.zeros((liked.shape[0], len(rows)))
    for column, row in enumerate(rows):
        terms = papers.indices[papers.indptr[row] : papers.indptr[row + 1]]
        scratch[terms] = papers.data[papers.indptr[row] : papers.indptr[row + 1]]
        similarity[:, column] = np.bincount(
            liked_row, weights=liked.data * scratch[liked.indices], minlength=liked.shape[0]
        )
        scratch[terms] = 0.0
    return similarity


_scratch = threading.local()


def _scratch_row(width: int) -> np.ndarray:
    """A row of zeros as wide as the hashed space (1 MB), one per thread, zero between uses."""
    row = getattr(_scratch, "row", None)
    if row is None or row.size != width:
        row = _scratch.row = np.zeros(width, dtype=np.float32)
    return row
