""" "More like this": a paper's nearest neighbours among recent visible papers, by cosine
similarity over the default representation (one sparse product per paper)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.db.models import Count, Max
from django.utils import timezone

from newsletter.recommend import representation
from newsletter.recommend.representation import paper_text
from papers.models import Paper
from papers.selectors import papers_in_order, visible_papers

NEIGHBOUR_DAYS = 90
NEIGHBOUR_LIMIT = 20_000  # most recent papers searched: a bound on memory (~40 MB)
SHOWN = 5
# Below this cosine similarity a paper is not "like" another, whatever its rank.
MIN_SIMILARITY = 0.1


@dataclass(frozen=True)
class Corpus:
    paper_ids: np.ndarray
    vectors: sp.csr_matrix
    key: str


_lock = threading.Lock()
_corpus: dict[tuple[object, ...], Corpus] = {}


def corpus() -> Corpus:
    """Recent visible papers as unit vectors, built once per process and kept until the set
    of papers changes (one aggregate tells)."""
    since = timezone.localdate() - dt.timedelta(days=NEIGHBOUR_DAYS)
    recent = visible_papers().filter(announced_on__gte=since)
    state = recent.aggregate(count=Count("id"), newest=Max("id"), updated=Max("updated_at"))
    tfidf = representation.current_tfidf()
    key = (since, tfidf.key, *state.values())
    with _lock:
        found = _corpus.get(key)
        if found is None:
            newest_first = recent.order_by("-announced_on", "-id")
            rows = list(newest_first.values_list("id", "title", "abstract")[:NEIGHBOUR_LIMIT])
            found = Corpus(
                paper_ids=np.asarray([pid for pid, _t, _a in rows], dtype=np.int64),
                vectors=tfidf.vectors([paper_text(t, a) for _pid, t, a in rows]),
                key=tfidf.key,
            )
            _corpus.clear()
            _corpus[key] = found
    return found


def similar_paper_ids(*, papers: Sequence[Paper], count: int = SHOWN) -> dict[int, list[int]]:
    """For each paper, the ids of up to `count` recent papers most like it, best first."""
    if not papers:
        return {}
    found = corpus()
    if found.paper_ids.size == 0:
        return {paper.pk: [] for paper in papers}
    tfidf = representation.current_tfidf()
    queries = tfidf.vectors([paper_text(paper.title, paper.abstract) for paper in papers])
    similarity = (queries @ found.vectors.T).toarray()
    result: dict[int, list[int]] = {}
    for paper, row in zip(papers, similarity, strict=True):
        row[found.paper_ids == paper.pk] = -1.0
        best = np.argsort(-row, kind="stable")[:count]
        result[paper.pk] = [int(found.paper_ids[i]) for i in best if row[i] >= MIN_SIMILARITY]
    return result


def more_like_this(*, paper: Paper, count: int = SHOWN) -> list[Paper]:
    ids = similar_paper_ids(papers=[paper], count=count)[paper.pk]
    return list(papers_in_order(ids=ids))


def similar_papers(*, papers: Sequence[Paper], count: int = 3) -> dict[int, list[Paper]]:
    """The neighbours of several papers (a digest page), loaded in one query."""
    ids = similar_paper_ids(papers=papers, count=count)
    every = {paper.pk: paper for paper in papers_in_order(ids=sorted(set().union(*ids.values())))}
    return {pid: [every[i] for i in found if i in every] for pid, found in ids.items()}
