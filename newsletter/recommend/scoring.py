"""Scores of a batch of readers over a window's papers: every reader's interest weights
stacked into one matrix and multiplied by the papers' matrix once (never a Python loop over
reader x paper), and the blend of that model score with the digest's rule score."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from django.db import connection

from newsletter.models import ReaderModel
from newsletter.recommend import representation
from newsletter.recommend.representation import paper_text
from newsletter.recommend.training import Model, StoredModel, stacked_weights

logger = logging.getLogger(__name__)

# The model's say grows with the reader's ratings: half its full weight at this many.
MODEL_WEIGHT = 10.0
HALF_WEIGHT_AT = 5
# Interest rows multiplied at once: bounds the dense (terms x rows) block of their weights
# (~6 MB at 32 rows of 4,096 weights on the bench's window) and the (papers x rows) product.
ROWS_PER_PRODUCT = 32
# Readers whose interests' scores (interests x papers, float32) and opinions are held at once.
READERS_PER_TABLE = 256


def model_weight(ratings: int) -> float:
    return MODEL_WEIGHT * ratings / (ratings + HALF_WEIGHT_AT) if ratings > 0 else 0.0


# How far from the window's typical paper (in robust standard deviations) an opinion counts.
OPINION_CLIP = 3.0


def blended(rule: float | np.ndarray, opinion: float | np.ndarray, *, ratings: int):
    """The digest's score with the model's: the rule score plus the model's opinion in
    [-1, 1] (a liked-like paper up, a 👎-like one down), weighted by the ratings behind it."""
    return rule + model_weight(ratings) * opinion


def opinions(table: np.ndarray) -> np.ndarray:
    """Each row's scores relative to its own papers, in [-1, 1]. A model trained on a few
    dozen papers gives unseen ones probabilities squeezed near its intercept; what it knows is
    their order and spread, so the blend takes standard scores, not raw probabilities. Robust
    ones (median, MAD): the reader's own rated papers, far out, must not set the scale."""
    median = np.median(table, axis=1, keepdims=True)
    spread = 1.4826 * np.median(np.abs(table - median), axis=1, keepdims=True)
    spread[spread == 0] = 1.0
    return np.clip((table - median) / spread, -OPINION_CLIP, OPINION_CLIP) / OPINION_CLIP


@dataclass
class PaperMatrix:
    """A window's papers as rows: TF-IDF always, embeddings when configured and reachable."""

    paper_ids: np.ndarray  # ascending
    tfidf: sp.csr_matrix
    tfidf_by_term: sp.csc_matrix  # the same, column-major: see _interest_products
    tfidf_key: str
    embeddings: np.ndarray | None
    _rows: dict[frozenset[int], np.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, papers: Sequence[tuple[int, str, str]]) -> PaperMatrix:
        """From (id, title, abstract) in ascending id order."""
        tfidf = representation.current_tfidf()
        embeddings = None
        if papers and representation.embeddings_model_name():
            texts = [paper_text(title, abstract) for _pid, title, abstract in papers]
            embeddings = representation.embed_or_none(texts, purpose="digest papers")
        return cls.of_vectors(
            np.asarray([pid for pid, _title, _abstract in papers], dtype=np.int64),
            representation.paper_vectors(tfidf, papers),
            tfidf_key=tfidf.key,
            embeddings=embeddings,
        )

    @classmethod
    def of_vectors(
        cls,
        paper_ids: np.ndarray,
        tfidf: sp.csr_matrix,
        *,
        tfidf_key: str,
        embeddings: np.ndarray | None = None,
    ) -> PaperMatrix:
        return cls(
            paper_ids=paper_ids,
            tfidf=tfidf,
            tfidf_by_term=tfidf.tocsc(),
            tfidf_key=tfidf_key,
            embeddings=embeddings,
        )

    def rows(self, paper_ids: Iterable[int]) -> np.ndarray:
        """The rows of those of `paper_ids` that are in the window, in their order."""
        ids = paper_ids if isinstance(paper_ids, np.ndarray) else np.fromiter(paper_ids, np.int64)
        if not self.paper_ids.size:
            return np.zeros(0, dtype=np.int64)
        rows = np.searchsorted(self.paper_ids, ids).clip(max=self.paper_ids.size - 1)
        return rows[self.paper_ids[rows] == ids]

    def rows_of_set(self, paper_ids: frozenset[int]) -> np.ndarray:
        """Rows of a set many readers share (a window's eligible papers), computed once."""
        with self._lock:
            rows = self._rows.get(paper_ids)
            if rows is None:
                if len(self._rows) > 32:
                    self._rows.clear()
                rows = self._rows[paper_ids] = self.rows(paper_ids)
        return rows


_matrix_lock = threading.Lock()
# Keyed by the window's id while it lives (a PaperWindow is not hashable): the digest code's
# own cache decides how long a window lives, and its matrix goes with it.
_matrices: dict[int, PaperMatrix] = {}


def window_matrix(window) -> PaperMatrix:
    """The papers of a digest run's window (newsletter's PaperWindow) as a matrix, built once
    per window and process."""
    with _matrix_lock:
        matrix = _matrices.get(id(window))
        if matrix is None:
            from papers.models import Paper

            ids = sorted(window.facts)
            papers: list[tuple[int, str, str]] = []
            for start in range(0, len(ids), 5000):
                papers += Paper.objects.filter(pk__in=ids[start : start + 5000]).values_list(
                    "id", "title", "abstract"
                )
            papers.sort()
            matrix = _matrices[id(window)] = PaperMatrix.build(papers)
            weakref.finalize(window, _matrices.pop, id(window), None)
    return matrix


@dataclass
class ReaderScores:
    """One reader's model probability and opinion (see `opinions`) for every paper of the
    window (row order)."""

    subscriber_id: int
    ratings: int
    positives: int
    probabilities: np.ndarray
    opinions: np.ndarray
    model: Model
    # The window's papers in the model's representation (sparse ones column-major: a few
    # liked papers' terms are multiplied with them without transposing the papers).
    vectors: sp.csc_matrix | np.ndarray
    matrix: PaperMatrix

    def opinions_of(self, paper_ids: Sequence[int]) -> np.ndarray:
        return self.opinions[self.matrix.rows(paper_ids)]


def probabilities(models: Sequence[Model], papers) -> np.ndarray:
    """(readers x papers): each reader's best interest, as a probability. The interests of
    every reader are stacked and multiplied with the papers in one product per block."""
    by_interest = _interest_probabilities(models, papers)
    starts = np.cumsum([0] + [model.interest_count for model in models[:-1]])
    return _best_interest(by_interest, starts)


def _interest_probabilities(models: Sequence[Model], papers) -> np.ndarray:
    """(interests x papers), every interest of every reader in `models`, stacked. `papers`:
    dense rows, or sparse ones (column-major ones spare a conversion)."""
    coef = stacked_weights(models)
    intercepts = np.concatenate([model.intercept for model in models]).astype(np.float32)
    if sp.issparse(coef):
        by_interest = _sparse_products(coef, sp.csc_matrix(papers))
    else:
        by_interest = _dense_products(coef, papers)
    by_interest += intercepts[:, None]
    np.negative(by_interest, out=by_interest)
    np.exp(by_interest, out=by_interest)
    by_interest += 1.0
    np.reciprocal(by_interest, out=by_interest)
    return by_interest


def _dense_products(coef: np.ndarray, papers: np.ndarray) -> np.ndarray:
    by_interest = np.empty((coef.shape[0], papers.shape[0]), dtype=np.float32)
    for start in range(0, coef.shape[0], ROWS_PER_PRODUCT):
        block = coef[start : start + ROWS_PER_PRODUCT]
        by_interest[start : start + block.shape[0]] = np.asarray(papers @ block.T).T
    return by_interest


def _sparse_products(coef: sp.csr_matrix, papers_by_term: sp.csc_matrix) -> np.ndarray:
    """coef @ papers.T, dense (interests x papers), in float32.

    A block of interests' weights is made dense over only the terms it uses, and multiplied
    with the papers' columns of those terms: scipy's sparse x dense product runs a tight loop
    per stored paper entry, ~6x faster than the sparse x sparse one (which builds a sparse
    result, made dense after). Each (interest, paper) sum still adds the paper's terms in
    ascending order, in float32, so the scores are the same to the bit.
    """
    by_interest = np.empty((coef.shape[0], papers_by_term.shape[0]), dtype=np.float32)
    used = np.zeros(coef.shape[1], dtype=bool)
    position = np.empty(coef.shape[1], dtype=np.int64)  # read only where written
    for start in range(0, coef.shape[0], ROWS_PER_PRODUCT):
        block = coef[start : start + ROWS_PER_PRODUCT]
        used[block.indices] = True
        terms = np.flatnonzero(used)
        used[terms] = False
        position[terms] = np.arange(terms.size)
        width = block.shape[0]
        weights = np.zeros((terms.size, width), dtype=np.float32)
        weights.reshape(-1)[
            position[block.indices] * width + np.repeat(np.arange(width), np.diff(block.indptr))
        ] = block.data
        by_interest[start : start + block.shape[0]] = (papers_by_term[:, terms] @ weights).T
    return by_interest


def _best_interest(by_interest: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each reader's best row (readers' interests are consecutive rows from `starts`): what
    np.maximum.reduceat gives, in at most MAX_INTERESTS - 1 vectorised maxima (reduceat along
    rows took twice as long here)."""
    counts = np.diff(np.append(starts, by_interest.shape[0]))
    best = by_interest[starts]
    for extra in range(1, int(counts.max(initial=1))):
        readers = np.flatnonzero(counts > extra)
        best[readers] = np.maximum(best[readers], by_interest[starts[readers] + extra])
    return best


def interest_scores(models: Sequence[Model], papers) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, opinions), readers x papers: each reader's best interest. The opinion
    is the best of each interest's own standing among the papers (see `opinions`), so a small
    interest, whose model scores lower in raw terms, is not outshone by a big one's."""
    probabilities_ = np.empty((len(models), papers.shape[0]), dtype=np.float32)
    best = np.empty_like(probabilities_)
    starts = np.cumsum([0] + [model.interest_count for model in models[:-1]])
    for start in range(0, len(models), READERS_PER_TABLE):
        chunk = models[start : start + READERS_PER_TABLE]
        by_interest = _interest_probabilities(chunk, papers)
        first = starts[start : start + len(chunk)] - starts[start]
        probabilities_[start : start + len(chunk)] = _best_interest(by_interest, first)
        best[start : start + len(chunk)] = _best_interest(opinions(by_interest), first)
    return probabilities_, best


_MODEL_FIELDS = (
    "subscriber",
    "features",
    "rating_count",
    "positive_count",
    "weights",
    "liked_titles",
    "embedding_model",
    "embedding_weights",
)


def _stored_models(subscriber_ids: Sequence[int]) -> list[tuple]:
    """The trained models of these readers, as tuples of _MODEL_FIELDS. On PostgreSQL through
    a binary cursor: as text a model's bytes come as hex, twice as long, which the worker then
    decodes (~0.1 ms of its CPU a model, a tenth of what scoring it costs)."""
    ids = list(subscriber_ids)
    if connection.vendor != "postgresql":
        return list(
            ReaderModel.objects.filter(subscriber_id__in=ids, weights__isnull=False).values_list(
                *_MODEL_FIELDS
            )
        )
    from psycopg import Cursor

    columns = ", ".join(ReaderModel._meta.get_field(name).column for name in _MODEL_FIELDS)
    statement = (
        f"SELECT {columns} FROM {ReaderModel._meta.db_table}"
        " WHERE subscriber_id = ANY(%s) AND weights IS NOT NULL"
    )
    connection.ensure_connection()
    with Cursor(connection.connection) as cursor:
        cursor.execute(statement, [ids], binary=True)
        return cursor.fetchall()


def reader_scores(*, subscriber_ids: Sequence[int], window) -> dict[int, ReaderScores]:
    """Scores of the readers (of a digest chunk) who have a trained model; two queries and
    one product per representation, however many readers and papers."""
    rows = _stored_models(subscriber_ids)
    if not rows:
        return {}
    matrix = window_matrix(window)
    if matrix.paper_ids.size == 0:
        return {}
    embedding_name = representation.embeddings_model_name()
    groups: dict[str, list[tuple[int, int, int, Model]]] = {"tfidf": [], "embeddings": []}
    outdated = unreadable = 0
    for sid, features, ratings, positives, weights, titles, emb_model, emb_weights in rows:
        if (
            matrix.embeddings is not None
            and emb_weights is not None
            and emb_model == embedding_name
        ):
            kind, stored = "embeddings", emb_weights
        elif features == matrix.tfidf_key:
            kind, stored = "tfidf", weights
        else:
            outdated += 1  # trained on other term statistics: the next retrain fixes it
            continue
        try:
            model = StoredModel(stored, liked_titles=titles)
        except (ValueError, KeyError, TypeError):
            # Damaged, or written by a newer version during a rolling upgrade: this email goes
            # out with the rule score alone rather than not at all.
            unreadable += 1
            continue
        groups[kind].append((sid, ratings, positives, model))
    if outdated:
        logger.info("%d reader models are for older term statistics; not used", outdated)
    if unreadable:
        logger.warning("%d reader models could not be read; not used", unreadable)
    scores: dict[int, ReaderScores] = {}
    for kind, members in groups.items():
        if not members:
            continue
        vectors = matrix.embeddings if kind == "embeddings" else matrix.tfidf_by_term
        table, relative = interest_scores([model for *_rest, model in members], vectors)
        for (sid, ratings, positives, model), row, opinion in zip(
            members, table, relative, strict=True
        ):
            scores[sid] = ReaderScores(
                sid, ratings, positives, row, opinion, model, vectors, matrix
            )
    return scores
