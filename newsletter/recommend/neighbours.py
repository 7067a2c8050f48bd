""" "More like this": a paper's nearest neighbours among recent visible papers, by cosine
similarity over the default representation (one sparse product per paper)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
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
    tfidf: representation.Tfidf
    built: float


_lock = threading.Lock()
_corpus: dict[str, Corpus] = {}
# New papers and editors' hides reach the lists within this, as on the cached public pages.
CORPUS_SECONDS = 300


def corpus() -> Corpus:
    """Recent visible papers as unit vectors, built once per process and rebuilt after
    CORPUS_SECONDS (a page view costs no query for it in between)."""
    with _lock:
        found = _corpus.get("recent")
        if found is not None and time.monotonic() - found.built < CORPUS_SECONDS:
            return found
        since = timezone.localdate() - dt.timedelta(days=NEIGHBOUR_DAYS)
        newest_first = (
            visible_papers().filter(announced_on__gte=since).order_by("-announced_on", "-id")
        )
        rows = list(newest_first.values_list("id", "title", "abstract")[:NEIGHBOUR_LIMIT])
        tfidf = representation.current_tfidf()
        found = _corpus["recent"] = Corpus(
            paper_ids=np.asarray([pid for pid, _t, _a in rows], dtype=np.int64),
            vectors=tfidf.vectors([paper_text(t, a) for _pid, t, a in rows]),
            tfidf=tfidf,
            built=time.monotonic(),
        )
    return found


def similar_paper_ids(*, papers: Sequence[Paper], count: int = SHOWN) -> dict[int, list[int]]:
    """For each paper, the ids of up to `count` recent papers most like it, best first."""
    if not papers:
        return {}
    found = corpus()
    if found.paper_ids.size == 0:
        return {paper.pk: [] for paper in papers}
    queries = found.tfidf.vectors([paper_text(paper.title, paper.abstract) for paper in papers])
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
