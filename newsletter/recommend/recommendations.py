"""What a reader's model does to their digest: re-rank the matched papers by the blended
score, and pick a few papers outside their filters ("Recommended for you"), each with the
liked paper it most resembles; never a paper they were sent before."""

from __future__ import annotations

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


def reranked(
    personal: ReaderScores, *, candidates: np.ndarray, order: RuleOrder, limit: int
) -> list[int]:
    """The best `limit` candidates (paper ids; `order` their keys) by the blended score."""
    if not candidates.size:
        return []
    boost = model_weight(personal.ratings) * personal.opinions_of(candidates)
    # The tie-break differs between any two papers: the order is total, as a sort's must be.
    ranked = np.lexsort((order.tie_break, order.negative_rule - boost, order.not_featured))
    return candidates[ranked[:limit]].tolist()


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
    # A liked paper's few terms times the papers' columns: the same float32 sums as a product
    # with the chosen papers alone, without transposing them into a matrix as tall as the
    # hashed space (~0.2 ms a reader).
    similarity = (personal.model.liked @ personal.vectors.T)[:, chosen]
    similarity = similarity.toarray() if sp.issparse(similarity) else np.asarray(similarity)
    closest = similarity.argmax(axis=0)
    return [
        (int(matrix.paper_ids[row]), titles[int(like)] if int(like) < len(titles) else "")
        for row, like in zip(chosen, closest, strict=True)
    ]
