""" "More like this": each recent visible paper's nearest neighbours by cosine similarity over
the default representation, computed in batches by a task and stored (SimilarPapers); pages
only read the stored lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from django.utils import timezone

from newsletter.models import SimilarPapers
from newsletter.recommend import representation
from papers.models import Paper
from papers.selectors import papers_in_order, visible_papers

NEIGHBOUR_DAYS = 90
NEIGHBOUR_LIMIT = 20_000  # most recent papers searched: a bound on memory (~40 MB)
SHOWN = 5
# Stored beyond what a page shows, so a neighbour hidden later leaves a full list.
STORED = 10
# Below this cosine similarity a paper is not "like" another, whatever its rank.
MIN_SIMILARITY = 0.1
# Rows of one similarity product: BATCH x NEIGHBOUR_LIMIT float32 is 20 MB at most.
BATCH = 256


@dataclass(frozen=True)
class ComputeReport:
    papers: int
    seconds: float

    @property
    def papers_per_second(self) -> float:
        return self.papers / self.seconds if self.seconds else 0.0


def _window_rows(today: dt.date) -> list[tuple[int, str, str]]:
    since = today - dt.timedelta(days=NEIGHBOUR_DAYS)
    newest_first = visible_papers().filter(announced_on__gte=since).order_by("-announced_on", "-id")
    return list(newest_first.values_list("id", "title", "abstract")[:NEIGHBOUR_LIMIT])


def similar_papers_compute(
    *,
    progress: Callable[[int, int], None] = lambda done, total: None,
    today: dt.date | None = None,
) -> ComputeReport:
    """Recompute the stored neighbours of every paper in the window (the NEIGHBOUR_DAYS up to
    `today`, the server's date unless given), BATCH rows of the similarity product at a
    time, and drop the lists of papers that left it; each paper's term counts are stored on
    the way (PaperTerms: the day's scoring reads them). Idempotent: the same catalogue gives
    the same lists (rows are upserted, ties broken by position)."""
    started = timezone.now()
    clock = dt.datetime.now(tz=dt.UTC)
    rows = _window_rows(today or timezone.localdate())
    paper_ids = np.asarray([pid for pid, _t, _a in rows], dtype=np.int64)
    vectors = representation.paper_vectors(representation.current_tfidf(), rows, store=True)
    transposed = vectors.T.tocsc()
    keep = min(STORED + 1, len(rows))
    for start in range(0, len(rows), BATCH):
        similarity = (vectors[start : start + BATCH] @ transposed).toarray()
        for offset in range(similarity.shape[0]):
            similarity[offset, start + offset] = -1.0  # never the paper itself
        if keep < similarity.shape[1]:
            candidates = np.argpartition(-similarity, keep - 1, axis=1)[:, :keep]
        else:
            candidates = np.tile(np.arange(similarity.shape[1]), (similarity.shape[0], 1))
        stored = []
        for offset, columns in enumerate(candidates):
            scores = similarity[offset, columns]
            order = np.lexsort((columns, -scores))[:STORED]
            best = [(int(paper_ids[columns[i]]), float(scores[i])) for i in order]
            best = [(pid, round(score, 4)) for pid, score in best if score >= MIN_SIMILARITY]
            stored.append(
                SimilarPapers(
                    paper_id=int(paper_ids[start + offset]),
                    neighbour_ids=[pid for pid, _s in best],
                    scores=[score for _pid, score in best],
                    computed_at=started,
                )
            )
        SimilarPapers.objects.bulk_create(
            stored,
            update_conflicts=True,
            unique_fields=["paper"],
            update_fields=["neighbour_ids", "scores", "computed_at"],
        )
        progress(min(start + BATCH, len(rows)), len(rows))
    SimilarPapers.objects.filter(computed_at__lt=started).delete()
    seconds = (dt.datetime.now(tz=dt.UTC) - clock).total_seconds()
    return ComputeReport(papers=len(rows), seconds=seconds)


def similar_paper_ids(*, papers: Sequence[Paper]) -> dict[int, list[int]]:
    """For each paper, the stored ids of the papers most like it, best first (none for a
    paper not computed yet): one query, no vectorising."""
    stored = dict(
        SimilarPapers.objects.filter(paper__in=[paper.pk for paper in papers]).values_list(
            "paper_id", "neighbour_ids"
        )
    )
    return {paper.pk: list(stored.get(paper.pk, [])) for paper in papers}


def more_like_this(*, paper: Paper, count: int = SHOWN) -> list[Paper]:
    """Up to `count` neighbours still visible now, best first."""
    ids = similar_paper_ids(papers=[paper])[paper.pk]
    return papers_in_order(ids=ids)[:count]


def similar_papers(*, papers: Sequence[Paper], count: int = 3) -> dict[int, list[Paper]]:
    """The visible neighbours of several papers (a digest page): two queries in all."""
    if not papers:
        return {}
    ids = similar_paper_ids(papers=papers)
    every = {paper.pk: paper for paper in papers_in_order(ids=sorted(set().union(*ids.values())))}
    return {pid: [every[i] for i in found if i in every][:count] for pid, found in ids.items()}
