"""Papers as vectors: hashed TF-IDF over title + abstract (offline, default) with the IDF
stored in the database, or an operator's embeddings (an OpenAI-compatible endpoint or a local
model directory) with a logged fall-back to TF-IDF when they are unreachable."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import requests
import scipy.sparse as sp
from django.conf import settings
from django.utils import timezone

from newsletter.models import PaperTerms, TermStatistics

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import HashingVectorizer

logger = logging.getLogger(__name__)

# Hashing keeps the feature space fixed as papers arrive (no vocabulary to refit), so a
# reader's stored weights stay valid; 2**18 buckets collide rarely for unigrams + bigrams.
TFIDF = "hashed-tfidf-v1"
N_FEATURES = 2**18
EMBEDDING_BATCH = 128
VECTORISE_SLICE = 500


def paper_text(title: str, abstract: str) -> str:
    # The title twice: it says what a paper is about more densely than its abstract.
    return f"{title}\n{title}\n{abstract}"


@functools.cache
def _hasher() -> HashingVectorizer:
    # Imported on first use: scikit-learn brings scipy.stats (~60 MB resident together), which
    # a process that never vectorises a text (the web, a day without models) is spared.
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=N_FEATURES,
        ngram_range=(1, 2),
        stop_words="english",
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
    )


def _unit_rows(matrix):
    """The rows scaled to unit length (in place where they are sparse); rows of zeros stay.
    Sums of squares in float64, as scikit-learn's normalize: the same vectors whether a
    paper's counts were hashed here or read from PaperTerms."""
    if sp.issparse(matrix):
        matrix = matrix.tocsr()
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        norms = np.sqrt(
            np.bincount(rows, weights=matrix.data * matrix.data, minlength=matrix.shape[0])
        )
        norms[norms == 0] = 1.0
        matrix.data /= norms[rows]
        return matrix
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))
    norms[norms == 0] = 1.0
    return (matrix / norms[:, None]).astype(matrix.dtype, copy=False)


def term_counts(texts: Sequence[str]) -> sp.csr_matrix:
    """Sublinear term frequencies (1 + log tf) in the hashed space."""
    counts = _hasher().transform(texts).tocsr()
    counts.data = 1.0 + np.log(counts.data)
    return counts


def document_frequencies(texts: Iterable[str], *, chunk: int = 2000) -> tuple[np.ndarray, int]:
    frequencies = np.zeros(N_FEATURES, dtype=np.int64)
    total = 0
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= chunk:
            frequencies += np.bincount(term_counts(batch).indices, minlength=N_FEATURES)
            total += len(batch)
            batch = []
    if batch:
        frequencies += np.bincount(term_counts(batch).indices, minlength=N_FEATURES)
        total += len(batch)
    return frequencies, total


@dataclass(frozen=True)
class Tfidf:
    """The default representation, fixed by one TermStatistics row."""

    key: str  # what a reader model's weights are for: TFIDF + the statistics' id
    idf: np.ndarray

    @classmethod
    def from_frequencies(cls, *, key: str, frequencies: np.ndarray, documents: int) -> Tfidf:
        idf = np.log((1.0 + documents) / (1.0 + frequencies)) + 1.0
        return cls(key=key, idf=idf.astype(np.float32))

    def vectors(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Rows of unit length: a dot product is a cosine similarity."""
        if not texts:
            return sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
        # In slices: the hasher's intermediate lists take ~10x the matrix they make.
        parts = [
            self.of_counts(term_counts(texts[start : start + VECTORISE_SLICE]))
            for start in range(0, len(texts), VECTORISE_SLICE)
        ]
        return parts[0] if len(parts) == 1 else sp.vstack(parts, format="csr")

    def of_counts(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """term_counts() rows weighted by IDF and scaled to unit length (in place)."""
        counts.data *= self.idf[counts.indices]
        return _unit_rows(counts)


def text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _packed(indices: np.ndarray, data: np.ndarray) -> bytes:
    return indices.astype(np.int32).tobytes() + data.astype(np.float32).tobytes()


def _unpacked(packed: bytes) -> tuple[np.ndarray, np.ndarray]:
    half = len(packed) // 2
    return np.frombuffer(packed, np.int32, count=half // 4), np.frombuffer(
        packed, np.float32, offset=half
    )


def _stored_counts(
    paper_ids: Sequence[int], *, chunk: int = 5000
) -> dict[int, tuple[bytes, bytes]]:
    stored: dict[int, tuple[bytes, bytes]] = {}
    for start in range(0, len(paper_ids), chunk):
        rows = PaperTerms.objects.filter(
            paper_id__in=paper_ids[start : start + chunk], features=TFIDF
        ).values_list("paper_id", "text_digest", "counts")
        stored.update((pid, (bytes(digest), bytes(counts))) for pid, digest, counts in rows)
    return stored


def paper_vectors(
    tfidf: Tfidf, papers: Sequence[tuple[int, str, str]], *, store: bool = False
) -> sp.csr_matrix:
    """The TF-IDF rows of (id, title, abstract), in their order, as `tfidf.vectors` makes
    them. The term counts PaperTerms holds for the same text are read; the others are hashed
    here, and stored when `store` (the tasks that vectorise anyway; the send path only reads,
    so a day's workers need no vectoriser once the papers' counts are stored)."""
    texts = [paper_text(title, abstract) for _pid, title, abstract in papers]
    digests = [text_digest(text) for text in texts]
    stored = _stored_counts([pid for pid, _title, _abstract in papers])
    rows: list[tuple[np.ndarray, np.ndarray]] = []
    missing: list[int] = []
    empty = (np.zeros(0, np.int32), np.zeros(0, np.float32))
    for position, ((pid, _title, _abstract), digest) in enumerate(
        zip(papers, digests, strict=True)
    ):
        found = stored.get(pid)
        if found is not None and found[0] == digest:
            rows.append(_unpacked(found[1]))
        else:
            rows.append(empty)
            missing.append(position)
    for start in range(0, len(missing), VECTORISE_SLICE):
        positions = missing[start : start + VECTORISE_SLICE]
        counts = term_counts([texts[position] for position in positions])
        for offset, position in enumerate(positions):
            span = slice(counts.indptr[offset], counts.indptr[offset + 1])
            rows[position] = (counts.indices[span], counts.data[span])
    if missing and store:
        _store_counts([(papers[p][0], digests[p], *rows[p]) for p in missing])
    if missing:
        logger.debug("%d of %d papers' term counts hashed here", len(missing), len(papers))
    lengths = np.fromiter((len(indices) for indices, _data in rows), np.int64, len(rows))
    counts = sp.csr_matrix(
        (
            np.concatenate([data for _indices, data in rows] or [empty[1]]).astype(np.float32),
            np.concatenate([indices for indices, _data in rows] or [empty[0]]).astype(np.int32),
            np.concatenate(([0], np.cumsum(lengths))),
        ),
        shape=(len(rows), N_FEATURES),
    )
    return tfidf.of_counts(counts)


def _store_counts(rows: Sequence[tuple[int, bytes, np.ndarray, np.ndarray]]) -> None:
    PaperTerms.objects.bulk_create(
        [
            PaperTerms(
                paper_id=pid, features=TFIDF, text_digest=digest, counts=_packed(indices, data)
            )
            for pid, digest, indices, data in rows
        ],
        batch_size=500,
        update_conflicts=True,
        unique_fields=["paper"],
        update_fields=["features", "text_digest", "counts"],
    )


def term_statistics_build(*, texts: Iterable[str], replace: bool = True) -> TermStatistics:
    """Count document frequencies over `texts` (the catalogue) and store them. With
    `replace=False` statistics stored meanwhile by another process are kept."""
    frequencies, documents = document_frequencies(texts)
    buffer = io.BytesIO()
    nonzero = np.flatnonzero(frequencies)
    np.savez_compressed(buffer, index=nonzero.astype(np.int32), count=frequencies[nonzero])
    values = {
        "document_count": documents,
        "document_frequencies": buffer.getvalue(),
        "built_at": timezone.now(),
    }
    if not replace:
        # Workers' first builds race: the first stored wins, or the models trained by the
        # others would be for statistics that no longer exist (and go unused).
        TermStatistics.objects.bulk_create(
            [TermStatistics(features=TFIDF, **values)], ignore_conflicts=True
        )
        return TermStatistics.objects.only("pk", "built_at").get(features=TFIDF)
    statistics, _created = TermStatistics.objects.update_or_create(features=TFIDF, defaults=values)
    return statistics


def _catalogue_texts() -> Iterable[str]:
    from papers.selectors import visible_papers

    rows = visible_papers().order_by().values_list("title", "abstract")
    for title, abstract in rows.iterator(chunk_size=2000):
        yield paper_text(title, abstract)


_tfidf_lock = threading.Lock()
_tfidf_cache: dict[tuple[int, object], Tfidf] = {}


def current_tfidf() -> Tfidf:
    """The stored TF-IDF, loaded once per process; built from the catalogue the first time."""
    statistics = TermStatistics.objects.filter(features=TFIDF).only("pk", "built_at").first()
    if statistics is None:
        statistics = term_statistics_build(texts=_catalogue_texts(), replace=False)
    cache_key = (statistics.pk, statistics.built_at)
    with _tfidf_lock:
        cached = _tfidf_cache.get(cache_key)
        if cached is None:
            row = TermStatistics.objects.get(pk=statistics.pk)
            stored = np.load(io.BytesIO(bytes(row.document_frequencies)))
            frequencies = np.zeros(N_FEATURES, dtype=np.int64)
            frequencies[stored["index"]] = stored["count"]
            cached = Tfidf.from_frequencies(
                key=f"{TFIDF}:{row.pk}:{row.built_at:%Y%m%d%H%M%S}",
                frequencies=frequencies,
                documents=row.document_count,
            )
            _tfidf_cache.clear()
            _tfidf_cache[cache_key] = cached
    return cached


# --- Optional embeddings ------------------------------------------------------------------


class EmbeddingsUnavailable(Exception):
    """The configured embeddings could not be had; callers use TF-IDF instead."""


def embeddings_model_name() -> str:
    """What embedding weights are for ('' when no embeddings are configured)."""
    if settings.RECOMMEND_EMBEDDINGS_URL:
        return f"api:{settings.RECOMMEND_EMBEDDINGS_MODEL}"
    if settings.RECOMMEND_EMBEDDINGS_DIR:
        return f"dir:{settings.RECOMMEND_EMBEDDINGS_DIR}"
    return ""


def _endpoint_embeddings(texts: Sequence[str]) -> np.ndarray:
    headers = {}
    if settings.RECOMMEND_EMBEDDINGS_API_KEY:
        headers["Authorization"] = f"Bearer {settings.RECOMMEND_EMBEDDINGS_API_KEY}"
    rows: list[list[float]] = []
    for start in range(0, len(texts), EMBEDDING_BATCH):
        batch = list(texts[start : start + EMBEDDING_BATCH])
        try:
            response = requests.post(
                f"{settings.RECOMMEND_EMBEDDINGS_URL}/embeddings",
                json={"model": settings.RECOMMEND_EMBEDDINGS_MODEL, "input": batch},
                headers=headers,
                timeout=settings.RECOMMEND_EMBEDDINGS_TIMEOUT,
            )
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [item["embedding"] for item in data]
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            raise EmbeddingsUnavailable(f"{settings.RECOMMEND_EMBEDDINGS_URL}: {error}") from error
        if len(vectors) != len(batch):
            raise EmbeddingsUnavailable(f"asked {len(batch)} embeddings, got {len(vectors)}")
        rows.extend(vectors)
    return np.asarray(rows, dtype=np.float32)


@functools.cache
def _local_model(path: str):  # pragma: no cover - needs the optional extra and a model
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise EmbeddingsUnavailable("sentence-transformers is not installed") from error
    try:
        # local_files_only: a directory that is not a model must fail, never download.
        return SentenceTransformer(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise EmbeddingsUnavailable(f"{path}: {error}") from error


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings of `texts`; EmbeddingsUnavailable when none are configured or
    the endpoint or model cannot answer."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    if settings.RECOMMEND_EMBEDDINGS_URL:
        vectors = _endpoint_embeddings(texts)
    elif settings.RECOMMEND_EMBEDDINGS_DIR:
        from pathlib import Path

        if not Path(settings.RECOMMEND_EMBEDDINGS_DIR).is_dir():
            raise EmbeddingsUnavailable(f"{settings.RECOMMEND_EMBEDDINGS_DIR}: no such directory")
        vectors = np.asarray(
            _local_model(settings.RECOMMEND_EMBEDDINGS_DIR).encode(list(texts)), dtype=np.float32
        )
    else:
        raise EmbeddingsUnavailable("no embeddings configured")
    if vectors.ndim != 2 or not np.isfinite(vectors).all():
        raise EmbeddingsUnavailable("the embeddings are not a finite matrix")
    return _unit_rows(vectors)


def embed_or_none(texts: Sequence[str], *, purpose: str) -> np.ndarray | None:
    """embed(), or None (logged) when embeddings are configured but unavailable."""
    if not embeddings_model_name():
        return None
    try:
        return embed(texts)
    except EmbeddingsUnavailable as error:
        logger.warning("embeddings unavailable for %s, using TF-IDF: %s", purpose, error)
        return None
