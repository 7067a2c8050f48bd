"""What a reader's model does to their digest: re-rank the matched papers by the blended
score, and pick a few papers outside their filters ("Recommended for you"), each with the
liked paper it most resembles; never a paper they were sent before."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection

import numpy as np
import scipy.sparse as sp

from newsletter.recommend.scoring import ReaderScores, model_weight

# A recommendation must stand out among the window's papers for this reader's model: two
# robust standard deviations above the typical paper (see scoring.opinions).
RECOMMEND_ABOVE = 2.0 / 3.0
RECOMMENDED = "recommended"


def reranked(
    personal: ReaderScores,
    *,
    candidates: Collection[int],
    order: Callable[[int], tuple[bool, float, int]],
    limit: int,
) -> list[int]:
    """The best `limit` candidates by the blended score. `order` is the digest's own key
    (not featured, -rule score, tie-break): editors' featured papers stay first."""
    ids = list(candidates)
    if not ids:
        return []
    keys = [order(pid) for pid in ids]
    opinion = model_weight(personal.ratings) * personal.opinions_of(ids)
    return [
        pid
        for _key, pid in heapq.nsmallest(
            limit,
            (
                ((featured, negative_rule - float(boost), tie), pid)
                for (featured, negative_rule, tie), boost, pid in zip(
                    keys, opinion, ids, strict=True
                )
            ),
        )
    ]


def recommended(
    personal: ReaderScores,
    *,
    eligible: frozenset[int],
    excluded: Collection[int],
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
    scores = personal.probabilities[rows].copy()
    scores[personal.opinions[rows] < RECOMMEND_ABOVE] = -np.inf
    if excluded:
        scores[np.isin(rows, matrix.rows(excluded))] = -np.inf
    best = np.argsort(-scores, kind="stable")[:count]
    best = best[np.isfinite(scores[best])]
    if best.size == 0:
        return []
    chosen = rows[best]
    liked = personal.model.liked
    titles = personal.model.liked_titles
    similarity = liked @ personal.vectors[chosen].T
    similarity = similarity.toarray() if sp.issparse(similarity) else np.asarray(similarity)
    closest = similarity.argmax(axis=0)
    return [
        (int(matrix.paper_ids[row]), titles[int(like)] if int(like) < len(titles) else "")
        for row, like in zip(chosen, closest, strict=True)
    ]
