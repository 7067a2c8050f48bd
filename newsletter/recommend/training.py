"""A model per reader: 👍 and imported papers are positives, 👎 and a sample of background
papers negatives (weighted), one linear model per interest (the reader's filters that their
👍 match, or clusters of the 👍), so a reader with two interests is not averaged into one;
stored in ReaderModel."""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import random
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from django.db import connection
from django.db.models import F, Max, Q
from django.utils import timezone
from threadpoolctl import ThreadpoolController

from newsletter.matching import IndexedPaper, PaperIndex, ParsedQueries, filter_paper_ids
from newsletter.models import ImportedPaper, Rating, ReaderModel, Subscriber
from newsletter.recommend import representation
from newsletter.recommend.representation import paper_text

logger = logging.getLogger(__name__)

MAX_INTERESTS = 4
# Clusters of 👍 (for readers whose filters do not tell their interests apart) need this
# many 👍 each: with fewer, the benchmark's two-interest readers did better with one model.
LIKED_PER_INTEREST = 8
# An interest told by a filter gets its own model from this many 👍 matching it: one, as a
# small interest's first 👍 is what a single model drowns (bench/personalisation.py, --swap).
LIKED_PER_FILTER = 1
BACKGROUND_PAPERS = 100
BACKGROUND_POOL = 2000
# A 👎 says "not this" outright; a random background paper only "probably not this".
DISLIKE_WEIGHT = 3.0
BACKGROUND_WEIGHT = 0.2
# Ridge penalty, relative to the mean example weight (chosen on the personalisation
# benchmark's --swap run: learning on held-out, judged on tuning papers).
REGULARISATION = 0.3
# The intercept is the weight of a constant feature of this value (so it is penalised too).
INTERCEPT_FEATURE = 1.0
# Weights kept per interest, the largest by magnitude: a model stays a few dozen KB.
KEPT_WEIGHTS = 4096
LIKED_KEPT = 100  # liked papers kept for the "like <paper>" line
LIKED_TERMS = 32  # of each, its heaviest terms: enough to tell which one a paper is like
# Models stored per upsert: psycopg escapes a whole statement's bytes at once (200 models of
# ~0.3 MB in one INSERT peaked a worker at ~750 MB; models are now ~31 KB).
UPSERT_BATCH = 50


def _rows(matrix) -> int:
    return int(matrix.shape[0])


def _used_columns(matrix: sp.csr_matrix) -> np.ndarray:
    # A sort: np.unique took ~3 ms a call here, a bincount over the 2**18 width ~1 ms, ~0.2.
    ordered = np.sort(matrix.indices)
    return (
        ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered
    )


def _compact(matrix: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """The matrix over only the columns its rows use (renumbered), and those columns."""
    columns = _used_columns(matrix)
    position = np.empty(matrix.shape[1], dtype=np.int32)  # read only where written
    position[columns] = np.arange(len(columns), dtype=np.int32)
    compact = sp.csr_matrix(
        (matrix.data, position[matrix.indices], matrix.indptr),
        shape=(_rows(matrix), len(columns)),
    )
    return compact, columns


def _by_feature(vectors: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """The vectors transposed, a row per feature they use, and those features: a product
    with them then skips the hashed space's empty rows."""
    compact, features = _compact(vectors)
    return sp.csr_matrix(compact.T), features


def _stack(parts: Sequence):
    if not any(_rows(part) for part in parts):
        return parts[0]
    parts = [part for part in parts if _rows(part)]
    if any(sp.issparse(part) for part in parts):
        return sp.vstack(parts, format="csr")
    return np.vstack(parts)


def _gram(matrix) -> np.ndarray:
    product = matrix @ matrix.T
    return np.asarray(product.toarray() if sp.issparse(product) else product, dtype=np.float64)


@dataclass
class TrainedModel:
    """Weights of each interest (rows of `coef`), and the liked papers behind them."""

    coef: sp.csr_matrix | np.ndarray | SplitRows
    intercept: np.ndarray
    liked: sp.csr_matrix | np.ndarray | SplitRows
    liked_interest: np.ndarray
    liked_titles: list[str] = field(default_factory=list)

    @property
    def interest_count(self) -> int:
        return int(self.coef.shape[0])

    def to_bytes(self) -> bytes:
        # float16 values: scores only order papers, and half the bytes to store and load.
        arrays: dict[str, np.ndarray] = {
            "intercept": self.intercept.astype(np.float32),
            "liked_interest": self.liked_interest.astype(np.int8),
        }
        for name in ("coef", "liked"):
            value = getattr(self, name)
            if sp.issparse(value):
                value = SplitRows.of(value)
            if isinstance(value, SplitRows):
                arrays[f"{name}_data"] = value.data
                arrays[f"{name}_low"] = value.low
                arrays[f"{name}_blocks"] = value.blocks
                arrays[f"{name}_shape"] = np.asarray(value.shape, dtype=np.int64)
            else:
                arrays[name] = np.asarray(value, dtype=np.float16)
        return _pack(arrays)

    @classmethod
    def from_bytes(cls, data: bytes, *, liked_titles: Sequence[str] = ()) -> TrainedModel:
        stored = StoredModel(data, liked_titles=liked_titles)
        return cls(
            coef=stored.coef,
            intercept=stored.intercept,
            liked=stored.liked,
            liked_interest=stored.liked_interest,
            liked_titles=stored.liked_titles,
        )


class StoredModel:
    """A stored model read as scoring needs it: the same attributes as a TrainedModel, each
    matrix built only when first asked for. Scoring stacks a batch's weights straight from
    the stored arrays (see `stacked_weights`: a matrix per model, then their stack, took
    ~0.25 ms more a reader), and only a reader with recommendations needs their liked papers."""

    def __init__(self, data: bytes, *, liked_titles: Sequence[str] = ()) -> None:
        self.arrays = _unpack(bytes(data))
        self.intercept = self.arrays["intercept"].astype(np.float32)
        for name in ("coef", "liked"):
            _check_stored(self.arrays, name)
        if _stored_rows(self.arrays, "coef") != self.interest_count:
            raise ValueError("a stored model's weights and intercepts disagree")
        self.liked_interest = self.arrays["liked_interest"].astype(np.int64)
        self.liked_titles = list(liked_titles)

    @property
    def interest_count(self) -> int:
        return int(self.intercept.shape[0])

    @functools.cached_property
    def coef(self) -> sp.csr_matrix | np.ndarray:
        return self._matrix("coef")

    @functools.cached_property
    def liked(self) -> sp.csr_matrix | np.ndarray:
        return self._matrix("liked")

    def split_weights(self) -> SplitRows | None:
        """The weights as stored, or None if they are dense or stored before the indices
        were split."""
        return self._split("coef")

    def _split(self, name: str) -> SplitRows | None:
        stored = self.arrays
        if f"{name}_low" not in stored:
            return None
        return SplitRows(
            data=stored[f"{name}_data"],
            low=stored[f"{name}_low"],
            blocks=stored[f"{name}_blocks"],
            width=int(stored[f"{name}_shape"][1]),
        )

    def _matrix(self, name: str):
        stored = self.arrays
        if name in stored:
            return stored[name].astype(np.float32)
        if (split := self._split(name)) is not None:
            return split.matrix()
        return sp.csr_matrix(  # stored before the indices were split
            (
                stored[f"{name}_data"].astype(np.float32),
                stored[f"{name}_indices"].copy(),
                stored[f"{name}_indptr"].copy(),
            ),
            shape=tuple(int(n) for n in stored[f"{name}_shape"]),
        )


def _stored_rows(stored: dict[str, np.ndarray], name: str) -> int:
    return int(stored[name].shape[0] if name in stored else stored[f"{name}_shape"][0])


def _check_stored(stored: dict[str, np.ndarray], name: str) -> None:
    """A stored matrix is whole: what stacking it with others (no matrix of its own, so none
    of scipy's checks) relies on. KeyError or ValueError if not."""
    if name in stored:
        return
    data, shape = stored[f"{name}_data"], stored[f"{name}_shape"]
    if f"{name}_low" in stored:
        low, blocks = stored[f"{name}_low"], stored[f"{name}_blocks"]
        if not (
            blocks.ndim == 2
            and low.size == data.size == int(blocks.sum())
            and blocks.shape == (int(shape[0]), -(-int(shape[1]) // (1 << INDEX_BLOCK_BITS)))
        ):
            raise ValueError(f"a stored model's {name} arrays disagree")
    elif f"{name}_indices" not in stored or f"{name}_indptr" not in stored:
        raise KeyError(f"a stored model without its {name} indices")


# A model just trained, or one read for scoring.
Model = TrainedModel | StoredModel


def stacked_weights(models: Sequence[Model]) -> sp.csr_matrix | np.ndarray:
    """Every interest's weights of these models, one row each, in order (float32). Stored
    models' split arrays are joined at once, without a matrix per model."""
    found = [
        split
        for model in models
        if isinstance(model, StoredModel) and (split := model.split_weights()) is not None
    ]
    if len(found) < len(models) or len({split.width for split in found}) != 1:
        coefs = [model.coef for model in models]
        if sp.issparse(coefs[0]):
            return sp.vstack(coefs, format="csr")
        return np.vstack(coefs)
    return SplitRows(
        data=np.concatenate([split.data for split in found]),
        low=np.concatenate([split.low for split in found]),
        blocks=np.concatenate([split.blocks for split in found]),
        width=found[0].width,
    ).matrix()


# Feature numbers are stored as their low 16 bits, with how many of each row's (ascending)
# entries fall in each block of 2**16 features: the hashed space is 2**18 wide, and int32
# numbers were two thirds of a model's bytes, written by training and read by every send.
INDEX_BLOCK_BITS = 16


@dataclass(frozen=True)
class SplitRows:
    """Sparse rows as they are stored: float16 values, each entry's column number's low
    INDEX_BLOCK_BITS bits, and per row and block of 2**INDEX_BLOCK_BITS columns the count of
    the row's (ascending) entries in it. Training splits a batch's weights once and hands
    each reader a slice: a scipy matrix per reader, split again, was ~15 % of training."""

    data: np.ndarray
    low: np.ndarray
    blocks: np.ndarray
    width: int

    @classmethod
    def of(cls, matrix) -> SplitRows:
        matrix = sp.csr_matrix(matrix)
        if not matrix.has_sorted_indices:
            matrix = matrix.sorted_indices()
        low, blocks = _split_indices(matrix)
        return cls(
            data=matrix.data.astype(np.float16), low=low, blocks=blocks, width=int(matrix.shape[1])
        )

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.blocks.shape[0]), self.width

    @functools.cached_property
    def _row_starts(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(self.blocks.sum(axis=1, dtype=np.int64))))

    def rows(self, start: int, stop: int) -> SplitRows:
        """Rows start to stop (views of these arrays)."""
        first, last = int(self._row_starts[start]), int(self._row_starts[stop])
        return SplitRows(
            data=self.data[first:last],
            low=self.low[first:last],
            blocks=self.blocks[start:stop],
            width=self.width,
        )

    def matrix(self) -> sp.csr_matrix:
        """As a float32 matrix."""
        indices, indptr = _joined_indices(self.low, self.blocks)
        return sp.csr_matrix(
            (self.data.astype(np.float32), indices, indptr), shape=(len(indptr) - 1, self.width)
        )


def _split_indices(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """A matrix's column numbers (sorted within rows) as (low bits, per row and block of
    2**INDEX_BLOCK_BITS columns the count of entries in it)."""
    rows = _rows(matrix)
    blocks = max(1, -(-int(matrix.shape[1]) // (1 << INDEX_BLOCK_BITS)))
    # Each entry's place in the rows laid end to end (ascending), cut at every block's start.
    row_start = np.repeat(
        np.arange(rows, dtype=np.int64) * (blocks << INDEX_BLOCK_BITS), np.diff(matrix.indptr)
    )
    cuts = np.arange(rows * blocks + 1, dtype=np.int64) << INDEX_BLOCK_BITS
    counts = np.diff(np.searchsorted(row_start + matrix.indices, cuts)).reshape(rows, blocks)
    # A row holds at most 2**16 entries of a block, which one more than uint16 can count.
    counts = counts.astype(np.uint16 if counts.size == 0 or counts.max() < 1 << 16 else np.int32)
    return matrix.indices.astype(np.uint16), counts  # the cast keeps the low 16 bits


def _joined_indices(low: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The column numbers and row pointers back from _split_indices' arrays."""
    rows, blocks = counts.shape
    indices = low.astype(np.int32)
    if blocks > 1:
        high = np.tile(np.arange(blocks, dtype=np.int32) << INDEX_BLOCK_BITS, rows)
        indices += np.repeat(high, counts.reshape(-1))
    indptr = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(counts.sum(axis=1), out=indptr[1:])
    return indices, indptr


# Stored models: this tag, a JSON header (name -> dtype, shape, offset), the raw arrays. Not
# .npz: a digest chunk loads hundreds of models, and np.load's zip parsing took ~7 ms each.
MODEL_FORMAT = b"PBM1"


def _pack(arrays: dict[str, np.ndarray]) -> bytes:
    header: dict[str, list] = {}
    offset = 0
    for name, array in arrays.items():
        header[name] = [array.dtype.str, list(array.shape), offset]
        offset += array.nbytes
    encoded = json.dumps(header).encode()
    return b"".join(
        [MODEL_FORMAT, len(encoded).to_bytes(4, "little"), encoded]
        + [np.ascontiguousarray(array).tobytes() for array in arrays.values()]
    )


def _unpack(data: bytes) -> dict[str, np.ndarray]:
    if not data.startswith(MODEL_FORMAT):
        with np.load(io.BytesIO(data)) as stored:  # a model stored before the format
            return {name: stored[name] for name in stored.files}
    length = int.from_bytes(data[4:8], "little")
    header = json.loads(data[8 : 8 + length])
    body = memoryview(data)[8 + length :]
    arrays = {}
    for name, (dtype, shape, offset) in header.items():
        # Views, read-only: whatever the caller keeps it converts (a copy), or copies, so
        # as not to pin the whole row's bytes. (math.prod: np.prod of a list costs ~3 us.)
        found = np.frombuffer(body, dtype=dtype, count=math.prod(shape), offset=offset)
        arrays[name] = found if len(shape) == 1 else found.reshape(shape)
    return arrays


def _clusters(gram: np.ndarray, count: int) -> np.ndarray:
    """Spherical k-means over unit rows given their dot products: start from the paper most
    like the others and then each paper least like those chosen (deterministic), then move
    each paper to the centre it is closest to in angle."""
    centres = [int(np.argmax(gram.sum(axis=1)))]
    while len(centres) < count:
        centres.append(int(np.argmin(gram[:, centres].max(axis=1))))
    labels = np.argmax(gram[:, centres], axis=1)
    for _round in range(30):
        members = np.zeros((len(gram), count))
        members[np.arange(len(gram)), labels] = 1.0
        towards = gram @ members  # each paper . each cluster's sum
        lengths = np.sqrt(np.maximum((members * towards).sum(axis=0), 1e-12))
        moved = np.argmax(towards / lengths, axis=1)
        if (moved == labels).all():
            break
        labels = moved
    _, labels = np.unique(labels, return_inverse=True)  # no empty cluster numbers
    return labels.astype(np.int64)


def interest_groups(
    liked,
    *,
    interests: int,
    seed: int = 0,
    liked_filters: np.ndarray | None = None,
    gram: np.ndarray | None = None,
) -> np.ndarray:
    """Which interest each liked paper belongs to. The reader's filters say it when their 👍
    match two or more of them (`liked_filters`: the filter each 👍 matched, -1 for none), each
    with LIKED_PER_FILTER 👍 at least: a small interest keeps its own model beside a big one.
    Otherwise clusters of the 👍 (as many as the reader has filters, within bounds)."""
    count = _rows(liked)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if gram is None:
        gram = _gram(liked)
    if liked_filters is not None and len(liked_filters) == count:
        told = np.asarray(liked_filters, dtype=np.int64)
        numbers, sizes = np.unique(told[told >= 0], return_counts=True)
        kept = numbers[sizes >= LIKED_PER_FILTER][:MAX_INTERESTS]
        if len(kept) >= 2:
            labels = np.full(count, -1, dtype=np.int64)
            for label, number in enumerate(kept):
                labels[told == number] = label
            # The other 👍 (recommended papers, small filters) join the interest they are
            # most like: their mean similarity to its papers.
            members = np.zeros((count, len(kept)))
            members[labels >= 0, labels[labels >= 0]] = 1.0
            closeness = (gram @ members) / members.sum(axis=0)
            loose = labels < 0
            labels[loose] = np.argmax(closeness[loose], axis=1)
            return labels
    clusters = max(1, min(interests, MAX_INTERESTS, count // LIKED_PER_INTEREST))
    if clusters == 1:
        return np.zeros(count, dtype=np.int64)
    return _clusters(gram, clusters)


def _solve(gram: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted ridge regression towards +1/-1 in closed form, in the dual: papers (~100-200)
    are far fewer than features, so one small positive definite system (papers x papers)
    instead of an iterative solver; returns the solution's weights on the papers."""
    # In Fortran order, factorised in place: LAPACK's own layout, no copies.
    system = np.add(gram, INTERCEPT_FEATURE**2, order="F")
    system.flat[:: len(system) + 1] += REGULARISATION * weights.mean() / weights
    # Cholesky: the system is positive definite (scipy's generic solve took 100+ ms at times).
    # LAPACK's routines themselves: scipy's cho_factor/cho_solve wrappers cost as much.
    factor, info = scipy.linalg.lapack.dpotrf(system, lower=False, overwrite_a=True, clean=False)
    if info:
        raise np.linalg.LinAlgError(f"the ridge system is not positive definite ({info})")
    solution, info = scipy.linalg.lapack.dpotrs(factor, targets, lower=False)
    if info:
        raise np.linalg.LinAlgError(f"the ridge system could not be solved ({info})")
    return solution


def _kept_weights(coef: sp.csr_matrix) -> sp.csr_matrix:
    """Each row's KEPT_WEIGHTS largest weights by magnitude (of tied ones the first, so the
    same sums keep the same weights), as float32 with sorted indices. Exact zeros, which a
    sum can leave, are dropped from what is kept: one is kept only where its row has fewer
    than KEPT_WEIGHTS non-zeros, so this equals dropping them first, on a fifth of the
    entries."""
    magnitude = np.abs(coef.data)
    kept = []
    for row in range(_rows(coef)):
        start, end = coef.indptr[row], coef.indptr[row + 1]
        if end - start > KEPT_WEIGHTS:
            kept.append(start + _heaviest_positions(magnitude[start:end], KEPT_WEIGHTS))
        else:
            kept.append(np.arange(start, end))
    positions = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    indptr = np.concatenate(([0], np.cumsum(np.minimum(np.diff(coef.indptr), KEPT_WEIGHTS))))
    result = sp.csr_matrix(
        (coef.data[positions].astype(np.float32), coef.indices[positions], indptr),
        shape=coef.shape,
    )
    result.eliminate_zeros()
    result.sort_indices()  # a sparse product leaves them in any order
    return result


def _heaviest_positions(magnitude: np.ndarray, count: int) -> np.ndarray:
    """Positions of the `count` largest values, in increasing order; of values tied with the
    smallest one kept, the first. A partition of the values and a mask keep the row's order:
    half the time of an argpartition of the positions and their sort."""
    threshold = np.partition(magnitude, len(magnitude) - count)[len(magnitude) - count]
    chosen = np.flatnonzero(magnitude >= threshold)
    if len(chosen) > count:
        ties = np.flatnonzero(magnitude[chosen] == threshold)
        chosen = np.delete(chosen, ties[len(ties) - (len(chosen) - count) :])
    return chosen


def _heaviest_terms(rows):
    """Each row's LIKED_TERMS largest entries (sparse rows; dense ones are kept whole)."""
    if not sp.issparse(rows):
        return rows
    rows = sp.csr_matrix(rows, copy=True)
    row_of_entry = np.repeat(np.arange(_rows(rows)), np.diff(rows.indptr))
    # Per row, largest first (lexsort is stable: ties keep their order).
    order = np.lexsort((-rows.data, row_of_entry))
    rank = np.arange(len(order)) - rows.indptr[row_of_entry[order]]
    rows.data[order[rank >= LIKED_TERMS]] = 0.0
    rows.eliminate_zeros()
    return rows


def train(
    *,
    liked,
    disliked,
    background,
    interests: int = 1,
    seed: int = 0,
    liked_titles: Sequence[str] = (),
    liked_filters: np.ndarray | None = None,
) -> TrainedModel | None:
    """One linear model per interest: that interest's 👍 against every 👎 and the background
    sample (other interests' 👍 are left out, not counted against it). With no 👍 but some
    👎, one model of "the usual papers, not these", which only demotes."""
    if _rows(liked) == 0 and _rows(disliked) == 0:
        return None
    examples = _stack([liked, disliked, background])
    # Only the few thousand hashed features these papers use: the product is then cheap.
    gram = _gram(_compact(examples)[0] if sp.issparse(examples) else examples)
    solved = _duals(
        gram=gram,
        liked_count=_rows(liked),
        disliked_count=_rows(disliked),
        interests=interests,
        seed=seed,
        liked_filters=liked_filters,
    )
    if solved is None:
        return None
    dual, groups = solved
    if sp.issparse(examples):
        coef = _kept_weights(sp.csr_matrix(sp.csr_matrix(dual.astype(np.float32)) @ examples))
    else:
        coef = np.asarray(dual @ examples, dtype=np.float32)
    return _model(
        coef=coef,
        dual=dual,
        groups=groups,
        liked=_heaviest_terms(liked[:LIKED_KEPT]),
        liked_titles=liked_titles,
    )


def _duals(
    *,
    gram: np.ndarray,
    liked_count: int,
    disliked_count: int,
    interests: int,
    seed: int,
    liked_filters: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Each interest's solution as weights on the examples (rows: 👍, then 👎, then the
    background; `gram` their dot products), and the interest of each 👍."""
    background_count = len(gram) - liked_count - disliked_count
    groups = interest_groups(
        np.empty((liked_count, 0)),
        interests=interests,
        seed=seed,
        liked_filters=liked_filters,
        gram=gram[:liked_count, :liked_count],
    )
    liked_rows = np.arange(liked_count)
    disliked_rows = liked_count + np.arange(disliked_count)
    background_rows = liked_count + disliked_count + np.arange(background_count)
    if liked_count == 0:
        tasks = [(background_rows, BACKGROUND_WEIGHT, disliked_rows, DISLIKE_WEIGHT)]
    else:
        negative_rows = np.concatenate([disliked_rows, background_rows])
        negative_weights = np.concatenate(
            [np.full(disliked_count, DISLIKE_WEIGHT), np.full(background_count, BACKGROUND_WEIGHT)]
        )
        tasks = [
            (liked_rows[groups == interest], 1.0, negative_rows, negative_weights)
            for interest in range(int(groups.max()) + 1)
        ]
    duals = []
    for positive_rows, positive_weight, negative_rows, negative_weight in tasks:
        if len(negative_rows) == 0 or len(positive_rows) == 0:
            continue
        rows = np.concatenate([positive_rows, negative_rows])
        targets = np.concatenate([np.ones(len(positive_rows)), -np.ones(len(negative_rows))])
        negative_weight = np.broadcast_to(negative_weight, (len(negative_rows),)).astype(float)
        # Balanced: the few 👍 weigh as much, together, as everything against them.
        positive_weight = positive_weight * negative_weight.sum() / len(positive_rows)
        weights = np.concatenate([np.full(len(positive_rows), positive_weight), negative_weight])
        dual = np.zeros(len(gram))
        in_order = len(rows) == len(gram) and bool((np.diff(rows) == 1).all())  # one interest
        own = gram if in_order else gram[rows][:, rows]
        dual[rows] = _solve(own, targets, weights)
        duals.append(dual)
    if not duals:
        return None
    return np.vstack(duals), groups


def _model(*, coef, dual: np.ndarray, groups: np.ndarray, liked, liked_titles) -> TrainedModel:
    return TrainedModel(
        coef=coef,
        intercept=np.asarray(INTERCEPT_FEATURE**2 * dual.sum(axis=1), dtype=np.float32),
        liked=liked,
        liked_interest=groups[:LIKED_KEPT],
        liked_titles=list(liked_titles)[:LIKED_KEPT],
    )


# --- Training the readers who asked --------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """One of a reader's filters (a followed topic, or their own query and categories)."""

    query: str
    categories: tuple[str, ...]
    strong_only: bool = False


@dataclass
class ReaderExamples:
    liked_texts: list[str] = field(default_factory=list)
    liked_titles: list[str] = field(default_factory=list)
    liked_papers: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    disliked_texts: list[str] = field(default_factory=list)
    rated_paper_ids: set[int] = field(default_factory=set)
    filters: list[Filter] = field(default_factory=list)

    @property
    def rating_count(self) -> int:
        return len(self.liked_texts) + len(self.disliked_texts)


def reader_examples(
    subscriber_ids: Sequence[int], *, pool: BackgroundPool | None = None
) -> dict[int, ReaderExamples]:
    """Every reader's 👍, 👎, imported papers and filters, in five queries. A rated paper's
    text is read once per chunk, not once per rating: readers rate the same digests' papers;
    those of the background `pool` (most: readers rate recent papers) are not read at all."""
    examples: dict[int, ReaderExamples] = defaultdict(ReaderExamples)
    votes = list(
        Rating.objects.filter(subscriber_id__in=subscriber_ids, paper__is_hidden=False)
        .order_by("subscriber_id", "-rated_at")
        .values_list("subscriber_id", "paper_id", "vote")
    )
    papers = _rated_papers({paper_id for _subscriber_id, paper_id, _vote in votes}, pool=pool)
    for subscriber_id, paper_id, vote in votes:
        mine = examples[subscriber_id]
        mine.rated_paper_ids.add(paper_id)
        text, title, liked_paper = papers[paper_id]
        if vote == Rating.Vote.UP:
            mine.liked_texts.append(text)
            mine.liked_titles.append(title)
            mine.liked_papers.append(liked_paper)
        else:
            mine.disliked_texts.append(text)
    imported = (
        ImportedPaper.objects.filter(subscriber_id__in=subscriber_ids)
        .order_by("subscriber_id", "-imported_at")
        .values_list("subscriber_id", "paper_id", "title", "abstract", "paper__categories")
    )
    for subscriber_id, paper_id, title, abstract, categories in imported.iterator(chunk_size=2000):
        mine = examples[subscriber_id]
        if paper_id is not None and paper_id in mine.rated_paper_ids:
            continue  # rated as well: the rating says it
        if paper_id is not None:
            mine.rated_paper_ids.add(paper_id)
        mine.liked_texts.append(paper_text(title, abstract))
        mine.liked_titles.append(" ".join(title.split()))
        mine.liked_papers.append((title, abstract, tuple(categories or ())))
    followed = (
        Subscriber.topics.through.objects.filter(
            subscriber_id__in=subscriber_ids, topic__is_active=True
        )
        .order_by("subscriber_id", "topic__slug")
        .values_list(
            "subscriber_id", "topic__query", "topic__categories", "topic__require_strong_match"
        )
    )
    for subscriber_id, query, categories, strong in followed:
        examples[subscriber_id].filters.append(Filter(query, tuple(categories or ()), strong))
    for subscriber_id, query, categories in (
        Subscriber.objects.filter(pk__in=subscriber_ids)
        .exclude(own_query="", categories=[])
        .values_list("pk", "own_query", "categories")
    ):
        examples[subscriber_id].filters.append(Filter(query, tuple(categories or ())))
    return examples


def _rated_papers(
    paper_ids: set[int], *, pool: BackgroundPool | None
) -> dict[int, tuple[str, str, tuple[str, str, tuple]]]:
    """Each paper's training text, display title and (title, abstract, categories)."""
    from papers.models import Paper

    papers = {}
    if pool is not None:
        for paper_id in paper_ids & pool.row_of_id.keys():
            row = pool.row_of_id[paper_id]
            papers[paper_id] = (
                pool.texts[row],
                " ".join(pool.papers[row][0].split()),
                pool.papers[row],
            )
    ordered = sorted(paper_ids - papers.keys())
    for start in range(0, len(ordered), 5000):
        for paper_id, title, abstract, categories in Paper.objects.filter(
            pk__in=ordered[start : start + 5000]
        ).values_list("id", "title", "abstract", "categories"):
            papers[paper_id] = (
                paper_text(title, abstract),
                " ".join(title.split()),
                (title, abstract, tuple(categories or ())),
            )
    return papers


class FilterMatches:
    """Which of some papers (rows) each filter matches, with the digest's own matching: one
    index over the papers, each distinct filter evaluated once."""

    def __init__(
        self, papers: Sequence[tuple[str, str, tuple[str, ...]]], queries: ParsedQueries
    ) -> None:
        self._queries = queries
        self._index = PaperIndex.build(
            IndexedPaper(id=row, title=title, abstract=abstract, categories=categories)
            for row, (title, abstract, categories) in enumerate(papers)
        )
        self._count = len(papers)
        self._found: dict[Filter, np.ndarray] = {}
        self._lock = threading.Lock()  # a pool's are shared by the process's threads

    def matches(self, chosen: Filter) -> np.ndarray:
        """Whether each paper (by row) matches the filter."""
        with self._lock:
            found = self._found.get(chosen)
            if found is None:
                found = np.zeros(self._count, dtype=bool)
                matched = filter_paper_ids(
                    query=self._queries(chosen.query) or chosen.query,
                    categories=chosen.categories,
                    index=self._index,
                    strong_only=chosen.strong_only,
                )
                found[list(matched)] = True
                self._found[chosen] = found
        return found


class LikedPaperFilters:
    """Which of a reader's filters each liked paper matches. Liked papers of the background
    pool are matched with the pool's index, built and asked once per process and pool (readers
    like the recent papers their digests brought); only the others are indexed per chunk."""

    def __init__(self, examples: dict[int, ReaderExamples], pool: BackgroundPool) -> None:
        self._pool_row = pool.row_of_text
        self._pool = pool.filter_matches
        self._row_of: dict[str, int] = {}
        others = []
        for mine in examples.values():
            for text, paper in zip(mine.liked_texts, mine.liked_papers, strict=True):
                if text not in self._pool_row and text not in self._row_of:
                    self._row_of[text] = len(pool.paper_ids) + len(others)
                    others.append(paper)
        self._others = FilterMatches(others, pool.queries)
        self._found: dict[Filter, np.ndarray] = {}

    def matches(self, chosen: Filter) -> np.ndarray:
        """Whether each liked paper matches the filter: the pool's rows, then the others'."""
        found = self._found.get(chosen)
        if found is None:
            found = self._found[chosen] = np.concatenate(
                [self._pool().matches(chosen), self._others.matches(chosen)]
            )
        return found

    def of(self, mine: ReaderExamples) -> np.ndarray | None:
        """For each of the reader's 👍, the first of their filters it matches (-1: none)."""
        if len(mine.filters) < 2 or not mine.liked_texts:
            return None
        told = np.full(len(mine.liked_texts), -1, dtype=np.int64)
        pool_row, row_of = self._pool_row, self._row_of
        rows = np.asarray(
            [pool_row[text] if text in pool_row else row_of[text] for text in mine.liked_texts]
        )
        for number, chosen in reversed(list(enumerate(mine.filters))):
            told[self.matches(chosen)[rows]] = number
        return told


@dataclass
class BackgroundPool:
    """Recent papers (but the newest day's), vectorised once per run; each reader draws
    their own sample."""

    paper_ids: list[int]
    texts: list[str]
    papers: list[tuple[str, str, tuple[str, ...]]]  # title, abstract, categories
    tfidf: sp.csr_matrix
    embeddings: np.ndarray | None
    # Readers' filters parsed once per process: every chunk asks the same few thousand.
    queries: ParsedQueries = field(default_factory=ParsedQueries, repr=False)
    _tfidf_gram: np.ndarray | None = field(default=None, repr=False)
    _filter_matches: FilterMatches | None = field(default=None, repr=False)
    _by_feature: tuple[sp.csr_matrix, np.ndarray] | None = field(default=None, repr=False)
    _heaviest: sp.csr_matrix | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.row_of_text = {text: row for row, text in enumerate(self.texts)}
        self.row_of_id = {pid: row for row, pid in enumerate(self.paper_ids)}

    @classmethod
    def load(cls, tfidf: representation.Tfidf, *, size: int = BACKGROUND_POOL) -> BackgroundPool:
        """The pool, built once per process for the same papers and statistics: a run's
        chunks of readers share it."""
        from papers.selectors import visible_papers

        # Not the newest day's papers: those are the next digest's, not "probably not this".
        papers = visible_papers()
        newest = papers.aggregate(day=Max("announced_on"))["day"]
        if newest is not None:
            papers = papers.filter(announced_on__lt=newest)
        recent = papers.order_by("-announced_on", "-id")
        ids = tuple(recent.values_list("id", flat=True)[:size])
        key = (tfidf.key, representation.embeddings_model_name(), ids)
        with _pool_lock:
            cached = _pools.get(key)
        if cached is not None:
            return cached
        rows = list(
            visible_papers()
            .filter(pk__in=ids)
            .order_by("-announced_on", "-id")
            .values_list("id", "title", "abstract", "categories")
        )
        pool = cls._build(tfidf, rows)
        with _pool_lock:
            _pools.clear()
            _pools[key] = pool
        return pool

    @classmethod
    def _build(cls, tfidf: representation.Tfidf, rows) -> BackgroundPool:
        texts = [paper_text(title, abstract) for _pid, title, abstract, _categories in rows]
        return cls(
            paper_ids=[pid for pid, *_paper in rows],
            texts=texts,
            papers=[
                (title, abstract, tuple(categories or ()))
                for _pid, title, abstract, categories in rows
            ],
            tfidf=representation.paper_vectors(
                tfidf, [(pid, title, abstract) for pid, title, abstract, _c in rows], store=True
            ),
            embeddings=representation.embed_or_none(texts, purpose="training background")
            if texts
            else None,
        )

    def tfidf_gram(self) -> np.ndarray:
        """The pool's papers' dot products with each other, computed once per pool: every
        reader's background sample is some of these papers."""
        if self._tfidf_gram is None:
            self._tfidf_gram = np.asarray((self.tfidf @ self.tfidf.T).toarray(), dtype=np.float32)
        return self._tfidf_gram

    def by_feature(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """The pool's vectors transposed (the features they use as rows, and those features),
        once per pool: a model's weights are their product with its solution, summed per
        feature into a row of a batch's interests, which beats summing each interest into a
        row of 2**18 features."""
        with self._lock:
            if self._by_feature is None:
                self._by_feature = _by_feature(self.tfidf)
            return self._by_feature

    def heaviest_terms(self) -> sp.csr_matrix:
        """Each pool paper's LIKED_TERMS heaviest terms, once per pool: most liked papers are
        the pool's."""
        with self._lock:
            if self._heaviest is None:
                self._heaviest = _heaviest_terms(self.tfidf)
            return self._heaviest

    def filter_matches(self) -> FilterMatches:
        """The pool's papers indexed for the readers' filters, once per pool."""
        with self._lock:
            if self._filter_matches is None:
                self._filter_matches = FilterMatches(self.papers, self.queries)
            return self._filter_matches

    def sample(self, *, seed: int, excluding: set[int]) -> np.ndarray:
        allowed_rows = np.ones(len(self.paper_ids), dtype=bool)
        allowed_rows[[self.row_of_id[pid] for pid in excluding if pid in self.row_of_id]] = False
        allowed = np.flatnonzero(allowed_rows).tolist()
        return np.asarray(
            sorted(random.Random(seed).sample(allowed, min(BACKGROUND_PAPERS, len(allowed)))),
            dtype=np.int64,
        )


@functools.cache
def _threadpools() -> ThreadpoolController:
    # Once per process: finding the loaded BLAS and OpenMP libraries took ~5 ms a chunk.
    return ThreadpoolController()


_pool_lock = threading.Lock()
_pools: dict[tuple[str, str, tuple[int, ...]], BackgroundPool] = {}


def background_pools_forget() -> bool:
    """Drop this process's background pool (~15 MB at 2,000 papers, its index and dot
    products): a worker moving on from training to the day's run would otherwise keep it
    through the run; the next training builds it again (~1 s). True when there was one."""
    with _pool_lock:
        had = bool(_pools)
        _pools.clear()
    return had


def reader_models_train(*, subscriber_ids: Sequence[int]) -> int:
    """(Re)train the models of these readers and store them; returns how many were trained.

    `trained_at` is the moment the examples were read, so a vote cast while training keeps
    the model stale and the next run picks it up."""
    if not subscriber_ids:
        return 0
    started = timezone.now()
    tfidf = representation.current_tfidf()
    embedding_name = representation.embeddings_model_name()
    pool = BackgroundPool.load(tfidf)
    examples = reader_examples(subscriber_ids, pool=pool)
    rated = _ChunkPapers(tfidf, examples.values(), pool)
    filters = LikedPaperFilters(examples, pool)
    trained = 0
    # One thread: on a shared box k-means' OpenMP threads spin more than they compute, and
    # each thread's BLAS buffers add to the worker's memory.
    with _threadpools().limit(limits=1):
        for start in range(0, len(subscriber_ids), UPSERT_BATCH):
            batch_ids = subscriber_ids[start : start + UPSERT_BATCH]
            readers = [examples.get(pk, ReaderExamples()) for pk in batch_ids]
            models = _tfidf_models(
                subscriber_ids=batch_ids, readers=readers, papers=rated, pool=pool, filters=filters
            )
            batch = [
                _reader_model(
                    subscriber_id=subscriber_id,
                    mine=mine,
                    model=model,
                    filters=filters,
                    pool=pool,
                    tfidf_key=tfidf.key,
                    embedding_name=embedding_name,
                    started=started,
                )
                for subscriber_id, mine, model in zip(batch_ids, readers, models, strict=True)
            ]
            _store(batch)
            trained += len(batch)
    return trained


class _ChunkPapers:
    """A chunk's rated papers and the background pool as the rows of one matrix: the pool's
    first, then the rated papers outside it. Readers rate the recent papers of their digests,
    most of them in the pool, whose vectors and dot products are computed once per pool; only
    the others are vectorised (once per chunk) and multiplied (once per batch, see `batch`)."""

    def __init__(self, tfidf: representation.Tfidf, readers, pool: BackgroundPool) -> None:
        rated = dict.fromkeys(
            text for mine in readers for text in (*mine.liked_texts, *mine.disliked_texts)
        )
        others = [text for text in rated if text not in pool.row_of_text]
        self.pool = pool
        self.row_of = {
            **pool.row_of_text,
            **{text: len(pool.texts) + row for row, text in enumerate(others)},
        }
        self.vectors = (
            sp.vstack([pool.tfidf, tfidf.vectors(others)], format="csr") if others else pool.tfidf
        )
        self._heaviest = (
            sp.vstack([pool.heaviest_terms(), _heaviest_terms(self.vectors[len(pool.texts) :])])
            if others
            else pool.heaviest_terms()
        )

    def rows(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray([self.row_of[text] for text in texts], dtype=np.int64)

    def heaviest_terms(self, rows: np.ndarray) -> sp.csr_matrix:
        """These liked papers' LIKED_TERMS heaviest terms."""
        return self._heaviest[rows]

    def batch(self, rated_rows: np.ndarray) -> _BatchPapers:
        """The papers of a batch of readers who rated these rows."""
        pool_size = len(self.pool.texts)
        return _BatchPapers(self, np.unique(rated_rows[rated_rows >= pool_size]))


class _BatchPapers:
    """The pool's papers, then the batch's rated papers outside it (their dot products with
    these computed per batch: a chunk's could take hundreds of MB)."""

    def __init__(self, papers: _ChunkPapers, others: np.ndarray) -> None:
        pool_size = len(papers.pool.texts)
        self.pool_size = pool_size
        self._pool_gram = papers.pool.tfidf_gram()
        self._local = np.arange(_rows(papers.vectors))
        self._local[others] = pool_size + np.arange(len(others))
        if not len(others):
            self.vectors = papers.pool.tfidf
            self.by_feature, self.features = papers.pool.by_feature()
            self._other_products = np.zeros((0, pool_size), dtype=np.float32)
            return
        self.vectors = papers.vectors[np.concatenate([np.arange(pool_size), others])]
        self.by_feature, self.features = _by_feature(self.vectors)
        self._other_products = np.asarray(
            (self.vectors[pool_size:] @ self.vectors.T).toarray(), dtype=np.float32
        )

    def local(self, rows: np.ndarray) -> np.ndarray:
        """The chunk's rows as this batch's."""
        return self._local[rows]

    def gram(self, rows: np.ndarray) -> np.ndarray:
        """The dot products of these (batch) rows' papers with each other."""
        if not len(rows) or rows.max() < self.pool_size:
            # Rows, then columns: a third faster than one np.ix_ pick.
            return self._pool_gram[rows][:, rows].astype(np.float64)
        gram = np.empty((len(rows), len(rows)), dtype=np.float32)
        in_pool = rows < self.pool_size
        gram[np.ix_(in_pool, in_pool)] = self._pool_gram[np.ix_(rows[in_pool], rows[in_pool])]
        other = self._other_products[np.ix_(rows[~in_pool] - self.pool_size, rows)]
        gram[~in_pool, :] = other
        gram[:, ~in_pool] = other.T
        return gram.astype(np.float64)


def _tfidf_models(
    *,
    subscriber_ids: Sequence[int],
    readers: list[ReaderExamples],
    papers: _ChunkPapers,
    pool: BackgroundPool,
    filters: LikedPaperFilters,
) -> list[TrainedModel | None]:
    """The term models of a batch of readers. A reader's Gram matrix is picked out of the
    pool's and the batch's dot products (see _BatchPapers), not multiplied again per reader;
    the weights of all the batch's interests come from one product of their solutions with
    the papers."""
    own_rows = [papers.rows([*mine.liked_texts, *mine.disliked_texts]) for mine in readers]
    batch = papers.batch(np.concatenate([np.zeros(0, dtype=np.int64), *own_rows]))
    solved: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []
    for subscriber_id, mine, own in zip(subscriber_ids, readers, own_rows, strict=True):
        if not len(own):
            solved.append(None)
            continue
        background = pool.sample(seed=subscriber_id, excluding=mine.rated_paper_ids)
        rows = np.concatenate([batch.local(own), background])
        duals = _duals(
            gram=batch.gram(rows),
            liked_count=len(mine.liked_texts),
            disliked_count=len(mine.disliked_texts),
            interests=max(1, len(mine.filters)),
            seed=subscriber_id,
            liked_filters=filters.of(mine),
        )
        solved.append(None if duals is None else (rows, *duals))
    found = [item for item in solved if item is not None]
    # Where each reader's interests start among the batch's.
    first_interest = np.cumsum([0] + [len(dual) for _rows, dual, _groups in found])
    weights = SplitRows.of(sp.csr_matrix((0, int(batch.vectors.shape[1])), dtype=np.float32))
    if found:
        # Row: a paper; column: one reader's interest; value: the interest's dual weight.
        # float32, as the papers' vectors are: a mixed product is computed in float64, a
        # quarter slower, for weights that are stored as float16.
        on_papers = sp.csr_matrix(
            (
                np.concatenate([dual.ravel() for _rows, dual, _groups in found]).astype(np.float32),
                (
                    np.concatenate([np.tile(rows, len(dual)) for rows, dual, _g in found]),
                    np.concatenate(
                        [
                            np.repeat(first + np.arange(len(dual)), len(rows))
                            for (rows, dual, _g), first in zip(found, first_interest, strict=False)
                        ]
                    ),
                ),
            ),
            shape=(_rows(batch.vectors), int(first_interest[-1])),
        )
        kept = _kept_weights(sp.csr_matrix((batch.by_feature @ on_papers).T))
        weights = SplitRows.of(
            sp.csr_matrix(
                (kept.data, batch.features[kept.indices], kept.indptr),
                shape=(_rows(kept), int(batch.vectors.shape[1])),
            )
        )
    # The liked papers' heaviest terms, picked for the whole batch at once like the weights.
    trained = [mine for mine, item in zip(readers, solved, strict=True) if item is not None]
    liked_rows = [papers.rows(mine.liked_texts[:LIKED_KEPT]) for mine in trained]
    liked = SplitRows.of(
        papers.heaviest_terms(np.concatenate([np.zeros(0, dtype=np.int64), *liked_rows]))
    )
    first_liked = np.cumsum([0] + [len(rows) for rows in liked_rows])
    models = iter(
        [
            _model(
                coef=weights.rows(first_interest[number], first_interest[number + 1]),
                dual=dual,
                groups=groups,
                liked=liked.rows(first_liked[number], first_liked[number + 1]),
                liked_titles=mine.liked_titles,
            )
            for number, (mine, (_rows_, dual, groups)) in enumerate(
                zip(trained, found, strict=True)
            )
        ]
    )
    return [None if item is None else next(models) for item in solved]


def _reader_model(
    *,
    subscriber_id: int,
    mine: ReaderExamples,
    model: TrainedModel | None,
    filters: LikedPaperFilters,
    pool: BackgroundPool,
    tfidf_key: str,
    embedding_name: str,
    started,
) -> ReaderModel:
    embedding_weights = None
    if model is not None and embedding_name and pool.embeddings is not None:
        texts = mine.liked_texts + mine.disliked_texts
        vectors = representation.embed_or_none(texts, purpose="training") if texts else None
        if vectors is not None:
            split = len(mine.liked_texts)
            embedded = train(
                liked=vectors[:split],
                disliked=vectors[split:],
                background=pool.embeddings[
                    pool.sample(seed=subscriber_id, excluding=mine.rated_paper_ids)
                ],
                interests=max(1, len(mine.filters)),
                seed=subscriber_id,
                liked_titles=mine.liked_titles,
                liked_filters=filters.of(mine),
            )
            embedding_weights = embedded.to_bytes() if embedded is not None else None
    return ReaderModel(
        subscriber_id=subscriber_id,
        trained_at=started,
        features=tfidf_key if model is not None else "",
        rating_count=mine.rating_count,
        positive_count=len(mine.liked_texts),
        interest_count=model.interest_count if model is not None else 0,
        weights=model.to_bytes() if model is not None else None,
        liked_titles=model.liked_titles if model is not None else [],
        embedding_model=embedding_name if embedding_weights is not None else "",
        embedding_weights=embedding_weights,
    )


_STORED_FIELDS = [
    "trained_at",
    "features",
    "rating_count",
    "positive_count",
    "interest_count",
    "weights",
    "liked_titles",
    "embedding_model",
    "embedding_weights",
]


def _store(models: list[ReaderModel]) -> None:
    if connection.vendor == "postgresql":
        _store_on_postgresql(models)
        return
    ReaderModel.objects.bulk_create(
        models, update_conflicts=True, unique_fields=["subscriber"], update_fields=_STORED_FIELDS
    )


def _store_on_postgresql(models: list[ReaderModel]) -> None:
    """One prepared upsert with the models' bytes as binary parameters: Django's client-side
    binding quotes every model into one statement's text (a third of training's CPU)."""
    from psycopg import Cursor
    from psycopg.types.json import Jsonb

    columns = ["subscriber_id", "requested_at", *_STORED_FIELDS]
    binary = {"weights", "embedding_weights"}
    placeholders = ", ".join("%b" if column in binary else "%s" for column in columns)
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _STORED_FIELDS)
    statement = (
        f"INSERT INTO {ReaderModel._meta.db_table} ({', '.join(columns)}) "
        f"VALUES ({placeholders}) ON CONFLICT (subscriber_id) DO UPDATE SET {updates}"
    )
    rows = [
        [
            model.subscriber_id,
            model.requested_at,
            *(
                Jsonb(model.liked_titles) if column == "liked_titles" else getattr(model, column)
                for column in _STORED_FIELDS
            ),
        ]
        for model in models
    ]
    connection.ensure_connection()
    with Cursor(connection.connection) as cursor:
        cursor.executemany(statement, rows)


def stale_reader_ids() -> list[int]:
    """Readers whose ratings changed since their model was trained (or who have none yet)."""
    stale = ReaderModel.objects.filter(
        Q(trained_at__isnull=True) | Q(requested_at__gt=F("trained_at")),
        subscriber__status=Subscriber.Status.ACTIVE,
    ).order_by("requested_at", "pk")
    return list(stale.values_list("subscriber_id", flat=True))


def reader_retrain_request(*, subscriber_id: int) -> bool:
    """Mark a reader's model as due for retraining; False if there is no such reader."""
    if not Subscriber.objects.filter(pk=subscriber_id).exists():
        return False
    now = timezone.now()
    updated = ReaderModel.objects.filter(subscriber_id=subscriber_id).update(requested_at=now)
    if not updated:
        ReaderModel.objects.bulk_create(
            [ReaderModel(subscriber_id=subscriber_id, requested_at=now)],
            update_conflicts=True,
            unique_fields=["subscriber"],
            update_fields=["requested_at"],
        )
    return True
