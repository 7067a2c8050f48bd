"""A model per reader: 👍 and imported papers are positives, 👎 and a sample of background
papers negatives (weighted), one logistic regression per interest (clusters of the 👍), so a
reader with two interests is not averaged into one; stored in ReaderModel."""

from __future__ import annotations

import io
import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from django.db.models import F, Max, Q
from django.utils import timezone
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from newsletter.models import ImportedPaper, Rating, ReaderModel, Subscriber
from newsletter.recommend import representation
from newsletter.recommend.representation import paper_text

logger = logging.getLogger(__name__)

MAX_INTERESTS = 4
# Fewer 👍 than this per interest and interests are not split: with fewer, the benchmark's
# two-interest readers did better with one model (bench/personalisation.py, "one model").
LIKED_PER_INTEREST = 8
BACKGROUND_PAPERS = 100
BACKGROUND_POOL = 2000
# A 👎 says "not this" outright; a random background paper only "probably not this".
DISLIKE_WEIGHT = 3.0
BACKGROUND_WEIGHT = 0.2
REGULARISATION_C = 10.0
LIKED_KEPT = 100  # liked papers kept for the "like <paper>" line
# Models stored per upsert: a model is ~0.3 MB, and psycopg escapes a whole statement's
# bytes at once, so 200 in one INSERT peaked the worker at ~750 MB.
UPSERT_BATCH = 25


def _rows(matrix) -> int:
    return int(matrix.shape[0])


def _used_columns(matrix: sp.csr_matrix) -> np.ndarray:
    # Not np.unique: its hash path took ~9 ms a call here, a bincount over the width ~0.3 ms.
    return np.flatnonzero(np.bincount(matrix.indices, minlength=matrix.shape[1]))


def _stack(parts: Sequence):
    if not any(_rows(part) for part in parts):
        return parts[0]
    parts = [part for part in parts if _rows(part)]
    if any(sp.issparse(part) for part in parts):
        return sp.vstack(parts, format="csr")
    return np.vstack(parts)


@dataclass
class TrainedModel:
    """Weights of each interest (rows of `coef`), and the liked papers behind them."""

    coef: sp.csr_matrix | np.ndarray
    intercept: np.ndarray
    liked: sp.csr_matrix | np.ndarray
    liked_interest: np.ndarray
    liked_titles: list[str] = field(default_factory=list)

    @property
    def interest_count(self) -> int:
        return int(self.coef.shape[0])

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays: dict[str, np.ndarray] = {
            "intercept": self.intercept,
            "liked_interest": self.liked_interest,
        }
        for name in ("coef", "liked"):
            value = getattr(self, name)
            if sp.issparse(value):
                value = sp.csr_matrix(value)
                arrays[f"{name}_data"] = value.data.astype(np.float32)
                arrays[f"{name}_indices"] = value.indices.astype(np.int32)
                arrays[f"{name}_indptr"] = value.indptr.astype(np.int64)
                arrays[f"{name}_shape"] = np.asarray(value.shape, dtype=np.int64)
            else:
                arrays[name] = np.asarray(value, dtype=np.float32)
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, liked_titles: Sequence[str] = ()) -> TrainedModel:
        stored = np.load(io.BytesIO(bytes(data)))

        def matrix(name: str):
            if name in stored:
                return stored[name]
            return sp.csr_matrix(
                (stored[f"{name}_data"], stored[f"{name}_indices"], stored[f"{name}_indptr"]),
                shape=tuple(stored[f"{name}_shape"]),
            )

        return cls(
            coef=matrix("coef"),
            intercept=stored["intercept"],
            liked=matrix("liked"),
            liked_interest=stored["liked_interest"],
            liked_titles=list(liked_titles),
        )


def interest_groups(liked, *, interests: int, seed: int) -> np.ndarray:
    """Which interest each liked paper belongs to: k-means over their vectors (unit rows, so
    close to cosine), with as many clusters as the reader has filters, within bounds."""
    count = _rows(liked)
    clusters = max(1, min(interests, MAX_INTERESTS, count // LIKED_PER_INTEREST))
    if clusters == 1:
        return np.zeros(count, dtype=np.int64)
    if sp.issparse(liked):
        liked = liked[:, _used_columns(liked)]  # the used features only, as for training
    labels = KMeans(n_clusters=clusters, n_init=2, random_state=seed).fit_predict(liked)
    _, labels = np.unique(labels, return_inverse=True)  # no empty cluster numbers
    return labels.astype(np.int64)


def train(
    *,
    liked,
    disliked,
    background,
    interests: int = 1,
    seed: int = 0,
    liked_titles: Sequence[str] = (),
) -> TrainedModel | None:
    """One logistic regression per interest: that interest's 👍 against every 👎 and the
    background sample (other interests' 👍 are left out, not counted against it). With no 👍
    but some 👎, one model of "the usual papers, not these", which only demotes."""
    if _rows(liked) == 0 and _rows(disliked) == 0:
        return None
    groups = (
        interest_groups(liked, interests=interests, seed=seed)
        if _rows(liked)
        else np.zeros(0, dtype=np.int64)
    )
    coefs, intercepts = [], []
    if _rows(liked) == 0:
        tasks = [(background, disliked, BACKGROUND_WEIGHT, DISLIKE_WEIGHT)]
    else:
        negatives = _stack([disliked, background])
        negative_weights = np.concatenate(
            [
                np.full(_rows(disliked), DISLIKE_WEIGHT),
                np.full(_rows(background), BACKGROUND_WEIGHT),
            ]
        )
        tasks = []
        for interest in range(int(groups.max()) + 1):
            mine = liked[np.flatnonzero(groups == interest)]
            tasks.append((mine, negatives, 1.0, negative_weights))
    for positives, negatives, positive_weight, negative_weight in tasks:
        if _rows(negatives) == 0 or _rows(positives) == 0:
            continue
        features = _stack([positives, negatives])
        labels = np.concatenate([np.ones(_rows(positives)), np.zeros(_rows(negatives))])
        negative_weight = np.broadcast_to(negative_weight, (_rows(negatives),)).astype(float)
        # Balanced: the few 👍 weigh as much, together, as everything against them.
        positive_total = negative_weight.sum()
        weights = np.concatenate(
            [
                np.full(_rows(positives), positive_weight * positive_total / _rows(positives)),
                negative_weight,
            ]
        )
        # dual: the solver liblinear advises when papers are far fewer than features.
        model = LogisticRegression(
            C=REGULARISATION_C, solver="liblinear", dual=True, max_iter=1000, random_state=seed
        )
        if sp.issparse(features):
            # Only the few thousand hashed features these papers use: liblinear's time grows
            # with the width it is given (2**18 columns: seconds a reader; these: ~50 ms).
            columns = _used_columns(features)
            model.fit(features[:, columns], labels, sample_weight=weights)
            values = model.coef_[0].astype(np.float32)
            coefs.append(
                sp.csr_matrix((values, columns, [0, len(columns)]), shape=(1, features.shape[1]))
            )
        else:
            model.fit(features, labels, sample_weight=weights)
            coefs.append(model.coef_.astype(np.float32))
        intercepts.append(float(model.intercept_[0]))
    if not coefs:
        return None
    coef = sp.vstack(coefs, format="csr") if sp.issparse(coefs[0]) else np.vstack(coefs)
    if sp.issparse(coef):
        coef.eliminate_zeros()
    kept = slice(0, LIKED_KEPT)
    return TrainedModel(
        coef=coef,
        intercept=np.asarray(intercepts, dtype=np.float32),
        liked=liked[kept] if _rows(liked) else liked,
        liked_interest=groups[kept],
        liked_titles=list(liked_titles)[:LIKED_KEPT],
    )


# --- Training the readers who asked --------------------------------------------------------


@dataclass
class ReaderExamples:
    liked_texts: list[str] = field(default_factory=list)
    liked_titles: list[str] = field(default_factory=list)
    disliked_texts: list[str] = field(default_factory=list)
    rated_paper_ids: set[int] = field(default_factory=set)
    filters: int = 0

    @property
    def rating_count(self) -> int:
        return len(self.liked_texts) + len(self.disliked_texts)


def reader_examples(subscriber_ids: Sequence[int]) -> dict[int, ReaderExamples]:
    """Every reader's 👍, 👎 and imported papers, in three queries."""
    examples: dict[int, ReaderExamples] = defaultdict(ReaderExamples)
    rows = (
        Rating.objects.filter(subscriber_id__in=subscriber_ids, paper__is_hidden=False)
        .order_by("subscriber_id", "-rated_at")
        .values_list("subscriber_id", "paper_id", "vote", "paper__title", "paper__abstract")
    )
    for subscriber_id, paper_id, vote, title, abstract in rows.iterator(chunk_size=2000):
        mine = examples[subscriber_id]
        mine.rated_paper_ids.add(paper_id)
        if vote == Rating.Vote.UP:
            mine.liked_texts.append(paper_text(title, abstract))
            mine.liked_titles.append(" ".join(title.split()))
        else:
            mine.disliked_texts.append(paper_text(title, abstract))
    imported = (
        ImportedPaper.objects.filter(subscriber_id__in=subscriber_ids)
        .order_by("subscriber_id", "-imported_at")
        .values_list("subscriber_id", "paper_id", "title", "abstract")
    )
    for subscriber_id, paper_id, title, abstract in imported.iterator(chunk_size=2000):
        mine = examples[subscriber_id]
        if paper_id is not None and paper_id in mine.rated_paper_ids:
            continue  # rated as well: the rating says it
        if paper_id is not None:
            mine.rated_paper_ids.add(paper_id)
        mine.liked_texts.append(paper_text(title, abstract))
        mine.liked_titles.append(" ".join(title.split()))
    topic_counts = Subscriber.topics.through.objects.filter(
        subscriber_id__in=subscriber_ids, topic__is_active=True
    ).values_list("subscriber_id", flat=True)
    for subscriber_id in topic_counts:
        examples[subscriber_id].filters += 1
    for subscriber_id in (
        Subscriber.objects.filter(pk__in=subscriber_ids)
        .exclude(own_query="", categories=[])
        .values_list("pk", flat=True)
    ):
        examples[subscriber_id].filters += 1
    return examples


@dataclass
class BackgroundPool:
    """Recent papers (but the newest day's), vectorised once per run; each reader draws
    their own sample."""

    paper_ids: list[int]
    texts: list[str]
    tfidf: sp.csr_matrix
    embeddings: np.ndarray | None

    @classmethod
    def load(cls, tfidf: representation.Tfidf, *, size: int = BACKGROUND_POOL) -> BackgroundPool:
        from papers.selectors import visible_papers

        # Not the newest day's papers: those are the next digest's, not "probably not this".
        papers = visible_papers()
        newest = papers.aggregate(day=Max("announced_on"))["day"]
        if newest is not None:
            papers = papers.filter(announced_on__lt=newest)
        recent = papers.order_by("-announced_on", "-id")
        rows = list(recent.values_list("id", "title", "abstract")[:size])
        texts = [paper_text(title, abstract) for _pid, title, abstract in rows]
        return cls(
            paper_ids=[pid for pid, _title, _abstract in rows],
            texts=texts,
            tfidf=tfidf.vectors(texts),
            embeddings=representation.embed_or_none(texts, purpose="training background")
            if texts
            else None,
        )

    def sample(self, *, seed: int, excluding: set[int]) -> np.ndarray:
        allowed = [row for row, pid in enumerate(self.paper_ids) if pid not in excluding]
        return np.asarray(
            sorted(random.Random(seed).sample(allowed, min(BACKGROUND_PAPERS, len(allowed)))),
            dtype=np.int64,
        )


def reader_models_train(*, subscriber_ids: Sequence[int]) -> int:
    """(Re)train the models of these readers and store them; returns how many were trained.

    `trained_at` is the moment the examples were read, so a vote cast while training keeps
    the model stale and the next run picks it up."""
    if not subscriber_ids:
        return 0
    started = timezone.now()
    tfidf = representation.current_tfidf()
    embedding_name = representation.embeddings_model_name()
    examples = reader_examples(subscriber_ids)
    pool = BackgroundPool.load(tfidf)
    # Readers rate the same papers (those of the same digests): each text is vectorised once.
    texts = list(
        dict.fromkeys(
            text for mine in examples.values() for text in (*mine.liked_texts, *mine.disliked_texts)
        )
    )
    row_of = {text: row for row, text in enumerate(texts)}
    vectors = tfidf.vectors(texts)

    def rows_of(chosen: list[str]) -> sp.csr_matrix:
        return vectors[[row_of[text] for text in chosen]]

    trained = 0
    # One thread: on a shared box k-means' OpenMP threads spin more than they compute, and
    # each thread's BLAS buffers add to the worker's memory.
    with threadpool_limits(limits=1):
        for start in range(0, len(subscriber_ids), UPSERT_BATCH):
            batch = [
                _reader_model(
                    subscriber_id=subscriber_id,
                    mine=examples.get(subscriber_id, ReaderExamples()),
                    pool=pool,
                    rows_of=rows_of,
                    tfidf_key=tfidf.key,
                    embedding_name=embedding_name,
                    started=started,
                )
                for subscriber_id in subscriber_ids[start : start + UPSERT_BATCH]
            ]
            _store(batch)
            trained += len(batch)
    return trained


def _reader_model(
    *,
    subscriber_id: int,
    mine: ReaderExamples,
    pool: BackgroundPool,
    rows_of,
    tfidf_key: str,
    embedding_name: str,
    started,
) -> ReaderModel:
    rows = pool.sample(seed=subscriber_id, excluding=mine.rated_paper_ids)
    model = train(
        liked=rows_of(mine.liked_texts),
        disliked=rows_of(mine.disliked_texts),
        background=pool.tfidf[rows],
        interests=max(1, mine.filters),
        seed=subscriber_id,
        liked_titles=mine.liked_titles,
    )
    embedding_weights = None
    if model is not None and embedding_name and pool.embeddings is not None:
        texts = mine.liked_texts + mine.disliked_texts
        vectors = representation.embed_or_none(texts, purpose="training") if texts else None
        if vectors is not None:
            split = len(mine.liked_texts)
            embedded = train(
                liked=vectors[:split],
                disliked=vectors[split:],
                background=pool.embeddings[rows],
                interests=max(1, mine.filters),
                seed=subscriber_id,
                liked_titles=mine.liked_titles,
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


def _store(models: list[ReaderModel]) -> None:
    fields = [
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
    ReaderModel.objects.bulk_create(
        models, update_conflicts=True, unique_fields=["subscriber"], update_fields=fields
    )


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
