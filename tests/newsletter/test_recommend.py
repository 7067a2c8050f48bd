"""A model per reader: trained by the batched task from 👍/👎 and imports, re-ranking the
digest, recommending outside the filters (never twice), and falling back from embeddings."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from django.db.models import F

from newsletter import paper_index, tasks
from newsletter.digests.building import unsaved_plans
from newsletter.digests.cards import why_text
from newsletter.models import DigestItem, ImportedPaper, Rating, ReaderModel, TermStatistics
from newsletter.recommend import representation, scoring, training
from papers.models import Paper
from tests.clock import NOW, TODAY
from tests.factories import DigestFactory, SubscriberFactory, TopicFactory
from tests.newsletter.recommend_helpers import (
    LANGUAGE,
    OTHER,
    VIDEO,
    abstract_for,
    make_papers,
    rate,
)

pytestmark = pytest.mark.django_db

EARLIER = TODAY - dt.timedelta(days=20)


@pytest.fixture(autouse=True)
def fresh_representation():
    representation._tfidf_cache.clear()
    yield
    representation._tfidf_cache.clear()
    paper_index.forget_paper_indexes()


def a_busy_day() -> list[str]:
    """A day's many papers on other subjects: what a recommendation must stand out from."""
    return [f"{title}, part {part}" for part in range(1, 4) for title in OTHER]


def broad_topic():
    return TopicFactory(name="Everything", slug="everything", query="we OR our")


def reader_who_likes_video(**fields):
    subscriber = SubscriberFactory(topics=[broad_topic()], **fields)
    make_papers(OTHER, day=EARLIER - dt.timedelta(days=1))
    rate(subscriber, make_papers(VIDEO[:4], day=EARLIER), Rating.Vote.UP)
    rate(subscriber, make_papers(LANGUAGE[:4], day=EARLIER), Rating.Vote.DOWN)
    return subscriber


def titles_in_plan(subscriber, *, in_email: bool = True) -> list[str]:
    (plan,) = unsaved_plans(subscriber_ids=[subscriber.pk], edition_on=TODAY)
    from papers.models import Paper

    by_id = Paper.objects.in_bulk([item.paper_id for item in plan.items])
    return [by_id[item.paper_id].title for item in plan.items if item.in_email == in_email]


def test_a_vote_schedules_a_retrain_that_trains_the_reader():
    subscriber = reader_who_likes_video()

    assert tasks.schedule_reader_retrain(subscriber.pk) is True

    model = ReaderModel.objects.get(subscriber=subscriber)
    assert model.trained_at is not None
    assert not model.is_stale
    assert (model.rating_count, model.positive_count) == (8, 4)
    assert model.interest_count == 1
    assert set(model.liked_titles) == set(VIDEO[:4])


def test_retraining_twice_trains_nobody_the_second_time():
    subscriber = reader_who_likes_video()
    tasks.schedule_reader_retrain(subscriber.pk)
    trained_at = ReaderModel.objects.get(subscriber=subscriber).trained_at

    assert tasks.retrain_reader_models() == 0

    assert ReaderModel.objects.get(subscriber=subscriber).trained_at == trained_at


def test_a_new_vote_makes_the_model_stale_until_the_next_run():
    subscriber = reader_who_likes_video()
    tasks.schedule_reader_retrain(subscriber.pk)
    # A vote just after the run read the examples:
    ReaderModel.objects.filter(subscriber=subscriber).update(
        requested_at=F("trained_at") + dt.timedelta(milliseconds=1)
    )

    assert training.stale_reader_ids() == [subscriber.pk]
    assert tasks.retrain_reader_models() == 1
    assert training.stale_reader_ids() == []


def test_a_chunk_is_stored_in_batches_with_the_models_each_reader_gets_alone(monkeypatch):
    first = reader_who_likes_video()
    others = [SubscriberFactory(topics=list(first.topics.all())) for _ in range(4)]
    for other in others:  # the same votes: the same digests' papers
        Rating.objects.bulk_create(
            Rating(
                subscriber=other,
                paper_id=rating.paper_id,
                vote=rating.vote,
                rated_at=rating.rated_at,
            )
            for rating in Rating.objects.filter(subscriber=first)
        )
    ids = [first.pk, *(other.pk for other in others)]
    training.reader_models_train(subscriber_ids=ids[:1])
    alone = training.TrainedModel.from_bytes(ReaderModel.objects.get(subscriber_id=ids[0]).weights)
    monkeypatch.setattr(training, "UPSERT_BATCH", 2)

    assert training.reader_models_train(subscriber_ids=ids) == 5

    stored = ReaderModel.objects.filter(subscriber_id__in=ids, weights__isnull=False)
    assert sorted(stored.values_list("subscriber_id", flat=True)) == sorted(ids)
    batched = training.TrainedModel.from_bytes(stored.get(subscriber_id=ids[0]).weights)
    # The same model, to float32 rounding (a chunk vectorises its papers in one batch).
    assert batched.coef.indices.tolist() == alone.coef.indices.tolist()
    assert np.allclose(batched.coef.data, alone.coef.data, rtol=1e-4, atol=1e-4)
    assert np.allclose(batched.intercept, alone.intercept, rtol=1e-4, atol=1e-4)
    assert training.stale_reader_ids() == []


def test_a_worker_moving_on_to_the_days_run_drops_what_training_kept():
    subscriber = reader_who_likes_video()
    training.reader_models_train(subscriber_ids=[subscriber.pk])
    assert training._pools  # kept for the next chunk of readers

    tasks.build_and_send_digests(subscriber_ids=[subscriber.pk], edition_on=TODAY.isoformat())

    assert not training._pools
    assert training.reader_models_train(subscriber_ids=[subscriber.pk]) == 1  # built again


def test_a_process_that_vectorises_no_text_never_loads_scikit_learn():
    # ~60 MB resident with the scipy.stats it imports: the web and a day without models.
    code = (
        "import os, sys, django; django.setup(); import newsletter.tasks, newsletter.urls;"
        " print('sklearn' in sys.modules)"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "newsletter.settings", "ENV_FILE": ""}
    loaded = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"


def test_retrain_for_an_unknown_reader_stores_nothing():
    assert tasks.schedule_reader_retrain(987654) is False
    assert ReaderModel.objects.count() == 0


def test_many_votes_share_one_debounced_retrain_run(settings):
    import redis

    from newsletter.celery import app

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(settings.RECOMMEND_QUEUE)
    readers = [SubscriberFactory() for _ in range(3)]
    app.conf.task_always_eager = False
    try:
        for reader in readers:
            tasks.schedule_reader_retrain.run(reader.pk)
    finally:
        app.conf.task_always_eager = True
    queue = client.lrange(settings.RECOMMEND_QUEUE, 0, -1)
    queued = [message for message in queue if b"retrain" in message]
    client.delete(settings.RECOMMEND_QUEUE)
    assert len(queued) == 1
    assert ReaderModel.objects.filter(requested_at__isnull=False).count() == 3
    assert ReaderModel.objects.filter(trained_at__isnull=False).count() == 0


def test_two_interests_are_kept_apart_and_both_score_high(monkeypatch):
    monkeypatch.setattr(training, "LIKED_PER_INTEREST", 3)
    video = representation.current_tfidf().vectors([f"{t}\n{t}" for t in VIDEO])
    language = representation.current_tfidf().vectors([f"{t}\n{t}" for t in LANGUAGE])
    other = representation.current_tfidf().vectors(OTHER)
    import scipy.sparse as sp

    model = training.train(
        liked=sp.vstack([video[:3], language[:3]], format="csr"),
        disliked=other[:2],
        background=other[2:],
        interests=2,
        seed=1,
    )

    assert model is not None and model.interest_count == 2
    single = training.train(liked=video[:3], disliked=other[:2], background=other[2:], interests=2)
    assert single is not None and single.interest_count == 1  # too few 👍 to split
    assert sorted(np.bincount(model.liked_interest)) == [3, 3]
    assert model.liked_interest[0] == model.liked_interest[1] == model.liked_interest[2]
    unseen = sp.vstack([video[3:], language[3:], other[:2]], format="csr")
    scores = scoring.probabilities([model], unseen)[0]
    assert scores[:6].min() > scores[6:].max()


def test_a_small_interest_told_by_a_filter_keeps_its_own_model_beside_a_big_one():
    video = representation.current_tfidf().vectors([f"{t}\n{t}" for t in VIDEO])
    language = representation.current_tfidf().vectors([f"{t}\n{t}" for t in LANGUAGE])
    other = representation.current_tfidf().vectors(OTHER)
    import scipy.sparse as sp

    liked = sp.vstack([video[:5], language[:2]], format="csr")
    # Five 👍 matched the first filter, two the second: too few to cluster, enough to tell.
    model = training.train(
        liked=liked,
        disliked=other[:2],
        background=other[2:],
        interests=2,
        seed=1,
        liked_filters=np.array([0, 0, 0, 0, 0, 1, 1]),
    )
    one = training.train(liked=liked, disliked=other[:2], background=other[2:], interests=2, seed=1)

    assert model is not None and model.interest_count == 2
    assert model.liked_interest.tolist() == [0, 0, 0, 0, 0, 1, 1]
    assert one is not None and one.interest_count == 1
    unseen_language = language[2:]
    split_scores = scoring.probabilities([model], unseen_language)[0]
    assert split_scores.min() > scoring.probabilities([model], other)[0].max()


def test_a_small_interest_scoring_low_in_raw_terms_still_stands_out_in_its_opinions():
    import scipy.sparse as sp

    # Papers 0-1 use feature 0 (the big interest), 2-3 feature 1 (the small one), the others
    # a little of feature 2 each (the usual spread of a day's papers).
    papers = sp.csr_matrix(
        ([1.0] * 4 + [0.1 * n for n in range(1, 7)], (range(10), [0, 0, 1, 1] + [2] * 6)),
        shape=(10, 3),
        dtype=np.float32,
    )
    model = training.TrainedModel(
        coef=sp.csr_matrix(np.array([[8.0, 0.0, 0.1], [0.0, 1.0, 0.1]], dtype=np.float32)),
        intercept=np.array([-4.0, -4.0], dtype=np.float32),
        liked=papers[:1],
        liked_interest=np.array([0]),
    )

    probabilities, opinions = scoring.interest_scores([model], papers)

    assert probabilities[0, 2] < 0.1 < 0.9 < probabilities[0, 0]  # raw: the big one wins
    assert opinions[0, :4].tolist() == [1.0, 1.0, 1.0, 1.0]  # each interest's best: at the top
    assert opinions[0, 4:].max() < opinions[0, :4].min()


def test_a_liked_paper_no_filter_matches_joins_the_interest_it_is_most_like():
    video = representation.current_tfidf().vectors([f"{t}\n{t}" for t in VIDEO])
    language = representation.current_tfidf().vectors([f"{t}\n{t}" for t in LANGUAGE])
    import scipy.sparse as sp

    liked = sp.vstack([video[:3], language[:3]], format="csr")

    groups = training.interest_groups(
        liked, interests=2, liked_filters=np.array([0, 0, -1, 1, 1, -1])
    )

    assert groups.tolist() == [0, 0, 0, 1, 1, 1]


def test_training_tells_interests_apart_by_the_topics_a_reader_follows():
    videos = TopicFactory(name="Video", slug="video", query="video")
    language = TopicFactory(name="Language", slug="language", query='"language model"')
    subscriber = SubscriberFactory(topics=[videos, language])
    make_papers(OTHER, day=EARLIER - dt.timedelta(days=1))
    rate(subscriber, make_papers(VIDEO[:5], day=EARLIER), Rating.Vote.UP)
    rate(subscriber, make_papers(LANGUAGE[:2], day=EARLIER), Rating.Vote.UP)

    assert training.reader_models_train(subscriber_ids=[subscriber.pk]) == 1

    stored = ReaderModel.objects.get(subscriber=subscriber)
    assert stored.interest_count == 2
    model = training.TrainedModel.from_bytes(stored.weights)
    assert sorted(np.bincount(model.liked_interest).tolist()) == [2, 5]


def test_a_stored_model_keeps_its_heaviest_weights_only():
    texts = [f"{title} {words}" for title in OTHER for words in ("alpha beta", "gamma delta")]
    vectors = representation.current_tfidf().vectors([*VIDEO, *LANGUAGE, *texts])

    model = training.train(
        liked=vectors[:6], disliked=vectors[6:12], background=vectors[12:], seed=1
    )

    assert model is not None
    assert model.coef.nnz <= training.KEPT_WEIGHTS
    assert max(np.diff(model.liked.indptr)) <= training.LIKED_TERMS
    again = training.TrainedModel.from_bytes(model.to_bytes())
    assert again.coef.indices.tolist() == model.coef.indices.tolist()
    assert np.allclose(again.coef.toarray(), model.coef.toarray(), rtol=1e-2, atol=1e-3)


def test_each_interest_keeps_its_largest_weights_by_magnitude_in_feature_order(monkeypatch):
    monkeypatch.setattr(training, "KEPT_WEIGHTS", 2)
    coef = sp.csr_matrix(
        (
            np.array([0.1, -0.9, 0.5, 0.0, 0.3, 0.2, -0.4]),
            np.array([7, 2, 5, 1, 9, 3, 0]),  # rows' features in any order, as a product's
            np.array([0, 4, 5, 7]),
        ),
        shape=(3, 10),
    )

    kept = training._kept_weights(coef)

    assert kept.dtype == np.float32
    assert [kept.indices[kept.indptr[row] : kept.indptr[row + 1]].tolist() for row in range(3)] == [
        [2, 5],
        [9],
        [0, 3],
    ]
    assert np.allclose(kept.toarray()[0], [0, 0, -0.9, 0, 0, 0.5, 0, 0, 0, 0])


def test_of_weights_tied_at_the_cut_an_interest_keeps_the_first_ones(monkeypatch):
    monkeypatch.setattr(training, "KEPT_WEIGHTS", 3)
    coef = sp.csr_matrix(np.array([[0.2, -0.5, 0.2, 0.9, -0.2, 0.1]]))

    kept = training._kept_weights(coef)

    assert kept.indices.tolist() == [0, 1, 3]


def test_a_dislike_only_model_solves_the_ridge_system_of_its_own_examples_in_their_order():
    rng = np.random.default_rng(3)
    vectors = rng.random((8, 5))
    gram = vectors @ vectors.T  # 2 👎, then 6 background papers

    dual, groups = training._duals(
        gram=gram, liked_count=0, disliked_count=2, interests=1, seed=0, liked_filters=None
    )

    rows = [2, 3, 4, 5, 6, 7, 0, 1]  # the background papers are the positives here
    weights = np.array([training.BACKGROUND_WEIGHT] * 6 + [training.DISLIKE_WEIGHT] * 2)
    weights[:6] *= weights[6:].sum() / 6
    system = gram[np.ix_(rows, rows)] + training.INTERCEPT_FEATURE**2
    system += np.diag(training.REGULARISATION * weights.mean() / weights)
    expected = np.zeros(8)
    expected[rows] = np.linalg.solve(system, [1.0] * 6 + [-1.0] * 2)
    assert groups.tolist() == []
    assert np.allclose(dual, [expected])


def test_two_workers_building_the_first_term_statistics_keep_the_first():
    first = representation.term_statistics_build(texts=["a paper on video"], replace=False)
    second = representation.term_statistics_build(texts=["another on language"], replace=False)

    assert second.pk == first.pk and second.built_at == first.built_at
    assert TermStatistics.objects.get().document_count == 1


def test_a_reader_with_only_dislikes_gets_a_model_that_only_demotes():
    other = representation.current_tfidf().vectors(OTHER)
    language = representation.current_tfidf().vectors(LANGUAGE)

    model = training.train(liked=other[:0], disliked=language[:4], background=other, seed=1)

    assert model is not None and model.interest_count == 1
    scores = scoring.probabilities([model], language[4:])[0]
    assert scores.max() < 0.5


def test_the_model_reranks_the_digest_and_demotes_papers_like_the_dislikes():
    subscriber = reader_who_likes_video(max_papers=4, recommendations_enabled=False)
    make_papers(LANGUAGE[4:] + VIDEO[4:] + OTHER[:2], day=TODAY)
    before = titles_in_plan(subscriber)

    tasks.schedule_reader_retrain(subscriber.pk)
    after = titles_in_plan(subscriber)

    assert set(after[:2]) == set(VIDEO[4:])
    assert not set(after) & set(LANGUAGE[4:])
    assert set(before[:2]) != set(VIDEO[4:])  # the rule score alone did not put them first


def test_the_blend_weighs_the_model_more_as_ratings_grow():
    weights = [scoring.model_weight(n) for n in (0, 1, 5, 20, 100)]
    assert weights[0] == 0.0
    assert weights == sorted(weights)
    assert weights[2] == pytest.approx(scoring.MODEL_WEIGHT / 2)
    assert scoring.blended(1.0, 0.0, ratings=20) == pytest.approx(1.0)
    assert scoring.blended(1.0, -1.0, ratings=20) == pytest.approx(1.0 - weights[3])


def test_recommendations_come_from_outside_the_filters_labelled_with_a_liked_paper(settings):
    settings.RECOMMEND_MAX_RECOMMENDED = 2
    topic = TopicFactory(name="Video", slug="video", query="video")
    subscriber = SubscriberFactory(topics=[topic])
    make_papers(OTHER, day=EARLIER - dt.timedelta(days=1))
    rate(subscriber, make_papers(VIDEO[:3], day=EARLIER), Rating.Vote.UP)
    for title in LANGUAGE[:3]:
        ImportedPaper.objects.create(
            subscriber=subscriber,
            title=title,
            abstract=abstract_for(title),
            origin=ImportedPaper.Origin.BIBTEX,
            imported_at=NOW,
        )
    make_papers(VIDEO[3:5] + LANGUAGE[3:] + a_busy_day(), day=TODAY)
    tasks.schedule_reader_retrain(subscriber.pk)

    (plan,) = unsaved_plans(subscriber_ids=[subscriber.pk], edition_on=TODAY)

    recommended = [item for item in plan.items if item.reasons[0]["kind"] == "recommended"]
    from papers.models import Paper

    titles = {Paper.objects.get(pk=item.paper_id).title for item in recommended}
    assert len(recommended) == 2
    assert titles <= set(LANGUAGE[3:])
    assert all(item.in_email for item in recommended)
    assert all(item.reasons[0]["label"] in LANGUAGE[:3] for item in recommended)
    why = why_text(recommended[0].reasons)
    assert why.startswith("Recommended for you: like “")
    matched = [item for item in plan.items if item.reasons[0]["kind"] != "recommended"]
    assert {Paper.objects.get(pk=item.paper_id).title for item in matched} == set(VIDEO[3:5])


def test_a_paper_sent_before_is_never_recommended(settings):
    settings.RECOMMEND_MAX_RECOMMENDED = 3
    topic = TopicFactory(name="Video", slug="video", query="video")
    subscriber = SubscriberFactory(topics=[topic])
    make_papers(OTHER, day=EARLIER - dt.timedelta(days=1))
    rate(subscriber, make_papers(VIDEO[:2] + LANGUAGE[:3], day=EARLIER), Rating.Vote.UP)
    sent_before, *others = make_papers(LANGUAGE[3:], day=TODAY)
    make_papers(a_busy_day(), day=TODAY)
    earlier = DigestFactory(subscriber=subscriber, edition_on=TODAY - dt.timedelta(days=1))
    DigestItem.objects.create(digest=earlier, subscriber=subscriber, paper=sent_before, rank=1)
    tasks.schedule_reader_retrain(subscriber.pk)

    (plan,) = unsaved_plans(subscriber_ids=[subscriber.pk], edition_on=TODAY)

    recommended = {i.paper_id for i in plan.items if i.reasons[0]["kind"] == "recommended"}
    assert recommended
    assert sent_before.pk not in recommended
    assert recommended <= {paper.pk for paper in others}


def test_no_recommendations_when_the_reader_turned_them_off():
    topic = TopicFactory(name="Video", slug="video", query="video")
    subscriber = SubscriberFactory(topics=[topic], recommendations_enabled=False)
    make_papers(OTHER, day=EARLIER - dt.timedelta(days=1))
    rate(subscriber, make_papers(VIDEO[:2] + LANGUAGE[:3], day=EARLIER), Rating.Vote.UP)
    make_papers(VIDEO[3:5] + LANGUAGE[3:], day=TODAY)
    tasks.schedule_reader_retrain(subscriber.pk)

    (plan,) = unsaved_plans(subscriber_ids=[subscriber.pk], edition_on=TODAY)

    assert [i for i in plan.items if i.reasons[0]["kind"] == "recommended"] == []
    assert len(plan.items) == 2


def test_the_term_statistics_are_built_once_and_kept_as_papers_arrive():
    make_papers(OTHER)
    first = representation.current_tfidf()
    make_papers(VIDEO)
    representation._tfidf_cache.clear()

    again = representation.current_tfidf()

    assert TermStatistics.objects.count() == 1
    assert again.key == first.key
    assert TermStatistics.objects.get().document_count == len(OTHER)


def test_an_unreachable_embeddings_endpoint_falls_back_to_tfidf_and_says_so(settings, caplog):
    settings.RECOMMEND_EMBEDDINGS_URL = "http://127.0.0.1:9/v1"
    settings.RECOMMEND_EMBEDDINGS_MODEL = "test-model"
    settings.RECOMMEND_EMBEDDINGS_TIMEOUT = 2
    subscriber = reader_who_likes_video(max_papers=4, recommendations_enabled=False)
    make_papers(LANGUAGE[4:] + VIDEO[4:], day=TODAY)

    tasks.schedule_reader_retrain(subscriber.pk)
    after = titles_in_plan(subscriber)

    model = ReaderModel.objects.get(subscriber=subscriber)
    assert model.weights is not None
    assert model.embedding_weights is None
    assert set(after[:2]) == set(VIDEO[4:])
    assert "embeddings unavailable" in caplog.text
    assert Rating.objects.count() == 8


class FakeEmbeddings:
    """An OpenAI-compatible /embeddings endpoint on 127.0.0.1: a text's vector counts its
    video and language words (enough to tell the two subjects apart)."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.requests: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                data = [
                    {"index": i, "embedding": outer.vector(text)}
                    for i, text in enumerate(body["input"])
                ]
                payload = json.dumps({"data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @staticmethod
    def vector(text: str) -> list[float]:
        words = text.lower().split()
        video = sum(w.strip(".,;:") in {"video", "frames", "temporal", "motion"} for w in words)
        language = sum(
            w.strip(".,;:") in {"language", "tokens", "text", "reasoning"} for w in words
        )
        return [float(video), float(language), 0.5]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_embeddings_endpoint_is_used_for_training_and_scoring(settings):
    server = FakeEmbeddings()
    settings.RECOMMEND_EMBEDDINGS_URL = server.url
    settings.RECOMMEND_EMBEDDINGS_MODEL = "fake-embedder"
    settings.RECOMMEND_EMBEDDINGS_API_KEY = "secret-key"
    try:
        subscriber = reader_who_likes_video(max_papers=4, recommendations_enabled=False)
        make_papers(LANGUAGE[4:] + VIDEO[4:], day=TODAY)

        tasks.schedule_reader_retrain(subscriber.pk)
        window = paper_index.paper_window(since=TODAY - dt.timedelta(days=7), until=TODAY)
        (scores,) = scoring.reader_scores(subscriber_ids=[subscriber.pk], window=window).values()
        after = titles_in_plan(subscriber)
    finally:
        server.close()

    model = ReaderModel.objects.get(subscriber=subscriber)
    assert model.embedding_model == "api:fake-embedder"
    assert model.embedding_weights is not None
    assert isinstance(scores.vectors, np.ndarray) and scores.vectors.shape[1] == 3
    assert set(after[:2]) == set(VIDEO[4:])
    assert {request["path"] for request in server.requests} == {"/v1/embeddings"}
    assert {request["auth"] for request in server.requests} == {"Bearer secret-key"}
    assert {request["body"]["model"] for request in server.requests} == {"fake-embedder"}


def test_a_first_vote_with_no_other_papers_trains_nothing_and_fails_nothing():
    subscriber = SubscriberFactory()
    rate(subscriber, make_papers(VIDEO[:1], day=EARLIER), Rating.Vote.UP)

    assert tasks.schedule_reader_retrain(subscriber.pk) is True

    model = ReaderModel.objects.get(subscriber=subscriber)
    assert (model.weights, model.interest_count, model.rating_count) == (None, 0, 1)
    assert not model.is_stale


def test_chunks_of_one_run_share_the_background_pool_until_the_papers_change():
    make_papers(OTHER, day=EARLIER)
    make_papers(VIDEO[:1], day=TODAY)  # the newest day: never background
    tfidf = representation.current_tfidf()

    first = training.BackgroundPool.load(tfidf)

    assert training.BackgroundPool.load(tfidf) is first
    assert sorted(first.texts) == sorted(f"{t}\n{t}\n{abstract_for(t)}" for t in OTHER)
    make_papers(LANGUAGE[:1], day=EARLIER)
    assert len(training.BackgroundPool.load(tfidf).texts) == len(OTHER) + 1


def test_a_model_stored_as_npz_before_the_raw_format_still_loads():
    import io

    buffer = io.BytesIO()
    np.savez(
        buffer,
        intercept=np.array([0.5], dtype=np.float32),
        liked_interest=np.array([0, 0]),
        coef_data=np.array([1.0, 2.0], dtype=np.float32),
        coef_indices=np.array([3, 7], dtype=np.int32),
        coef_indptr=np.array([0, 2], dtype=np.int64),
        coef_shape=np.array([1, 10]),
        liked=np.zeros((2, 4), dtype=np.float32),
    )

    model = training.TrainedModel.from_bytes(buffer.getvalue())

    assert model.coef.toarray()[0, [3, 7]].tolist() == [1.0, 2.0]
    assert model.intercept.tolist() == [0.5]
    assert model.liked.shape == (2, 4)
    again = training.TrainedModel.from_bytes(model.to_bytes())
    assert again.to_bytes().startswith(training.MODEL_FORMAT)
    assert again.coef.toarray().tolist() == model.coef.toarray().tolist()


def test_a_model_stored_with_four_byte_feature_numbers_still_loads():
    stored = training._pack(
        {
            "intercept": np.array([0.5], dtype=np.float32),
            "liked_interest": np.array([0], dtype=np.int8),
            "coef_data": np.array([1.0, 2.0], dtype=np.float16),
            "coef_indices": np.array([3, 200_000], dtype=np.int32),
            "coef_indptr": np.array([0, 2], dtype=np.int32),
            "coef_shape": np.array([1, 2**18]),
            "liked": np.zeros((1, 4), dtype=np.float16),
        }
    )

    model = training.TrainedModel.from_bytes(stored)

    assert model.coef.toarray()[0, [3, 200_000]].tolist() == [1.0, 2.0]
    assert model.coef.nnz == 2


def a_model_with_rows(columns: list[list[int]], *, first_value: float = 1.0, liked_row: int = 0):
    """A model of these rows' feature numbers (values counting up from `first_value`)."""
    coef = sp.csr_matrix(
        (
            np.arange(sum(map(len, columns)), dtype=np.float32) + first_value,
            np.concatenate([np.asarray(row, dtype=np.int32) for row in columns]),
            np.cumsum([0, *map(len, columns)]),
        ),
        shape=(len(columns), 2**18),
    )
    return training.TrainedModel(
        coef=coef,
        intercept=np.arange(len(columns), dtype=np.float32),
        liked=coef[[liked_row]],
        liked_interest=np.zeros(1, dtype=np.int64),
    )


def test_a_stored_model_keeps_every_feature_number_in_two_bytes_and_its_row():
    # Entries in every block of 2**16 features, the first and last feature, an empty row.
    columns = [[0, 65_535, 65_536, 131_072, 262_143], [], [7, 196_608]]
    model = a_model_with_rows(columns, liked_row=2)
    coef = model.coef

    again = training.TrainedModel.from_bytes(model.to_bytes())

    assert [again.coef[row].indices.tolist() for row in range(3)] == columns
    assert again.coef.data.tolist() == coef.data.tolist()
    assert again.liked.indices.tolist() == [7, 196_608]
    stored = training._unpack(model.to_bytes())
    assert stored["coef_low"].dtype == np.uint16
    assert "coef_indices" not in stored


def test_a_slice_of_split_rows_stores_the_bytes_its_rows_alone_store():
    # Training splits a batch's weights once and gives each reader a slice.
    columns = [[0, 65_535, 65_536, 262_143], [], [7, 196_608], [3], [131_072, 200_000]]
    batch = a_model_with_rows(columns).coef
    split = training.SplitRows.of(batch)

    for start, stop in [(0, 2), (2, 3), (1, 5), (4, 4)]:
        alone = training.SplitRows.of(batch[start:stop])
        part = split.rows(start, stop)
        assert part.shape == alone.shape == (stop - start, 2**18)
        for name in ("data", "low", "blocks"):
            assert getattr(part, name).tobytes() == getattr(alone, name).tobytes()
            assert getattr(part, name).dtype == getattr(alone, name).dtype
        assert (part.matrix() != batch[start:stop]).nnz == 0


def test_stored_models_stack_into_the_weights_their_own_matrices_give():
    models = [
        a_model_with_rows([[0, 65_535, 65_536, 262_143], [], [7]]),
        a_model_with_rows([[3, 131_072]], first_value=10.0),
        a_model_with_rows([[], [196_608, 200_000]], first_value=20.0),
    ]
    stored = [training.StoredModel(model.to_bytes()) for model in models]

    stacked = training.stacked_weights(stored)

    plain = sp.vstack([training.TrainedModel.from_bytes(m.to_bytes()).coef for m in models])
    assert stacked.shape == (6, 2**18)
    assert stacked.indptr.tolist() == plain.indptr.tolist()
    assert stacked.indices.tolist() == plain.indices.tolist()
    assert stacked.data.tolist() == plain.data.tolist()
    assert stored[1].interest_count == 1
    assert stored[2].liked.indices.tolist() == []  # built when asked for


def test_a_stored_model_whose_arrays_disagree_is_refused_before_it_joins_a_stack():
    stored = training._unpack(a_model_with_rows([[1, 70_000], [5]]).to_bytes())
    stored["coef_low"] = stored["coef_low"][:-1]  # one feature number lost
    damaged = training._pack({name: np.asarray(array) for name, array in stored.items()})

    with pytest.raises(ValueError, match="coef arrays disagree"):
        training.StoredModel(damaged)


def test_a_stored_model_with_more_intercepts_than_interests_is_refused():
    stored = training._unpack(a_model_with_rows([[1, 70_000], [5]]).to_bytes())
    stored["intercept"] = np.zeros(3, dtype=np.float32)
    damaged = training._pack({name: np.asarray(array) for name, array in stored.items()})

    with pytest.raises(ValueError, match="weights and intercepts disagree"):
        training.StoredModel(damaged)


def test_a_model_that_cannot_be_read_leaves_the_reader_with_the_rule_score(caplog):
    subscriber = reader_who_likes_video(max_papers=4, recommendations_enabled=False)
    make_papers(LANGUAGE[4:] + VIDEO[4:] + OTHER[:2], day=TODAY)
    before = titles_in_plan(subscriber)
    tasks.schedule_reader_retrain(subscriber.pk)
    ReaderModel.objects.filter(subscriber=subscriber).update(weights=b"PBM1 damaged")

    assert titles_in_plan(subscriber) == before
    assert "1 reader models could not be read" in caplog.text


def a_reader_of_the_pool_and_the_newest_day(*topics):
    """👍 on papers of the background pool (days before the newest), 👎 on the newest day's
    (outside the pool): the two ways training finds a rated paper's vector."""
    subscriber = SubscriberFactory(topics=list(topics) or [broad_topic()])
    make_papers(OTHER, day=EARLIER - dt.timedelta(days=2))
    rate(subscriber, make_papers(VIDEO[:4], day=EARLIER - dt.timedelta(days=1)), Rating.Vote.UP)
    rate(subscriber, make_papers(LANGUAGE[:3], day=EARLIER), Rating.Vote.DOWN)
    return subscriber


def test_a_reader_rating_pool_and_newer_papers_gets_the_model_their_papers_train_alone():
    subscriber = a_reader_of_the_pool_and_the_newest_day()
    tfidf = representation.current_tfidf()
    pool = training.BackgroundPool.load(tfidf)
    mine = training.reader_examples([subscriber.pk])[subscriber.pk]
    assert set(mine.liked_texts) <= set(pool.texts)
    assert not set(mine.disliked_texts) & set(pool.texts)
    alone = training.train(
        liked=tfidf.vectors(mine.liked_texts),
        disliked=tfidf.vectors(mine.disliked_texts),
        background=pool.tfidf[pool.sample(seed=subscriber.pk, excluding=mine.rated_paper_ids)],
        seed=subscriber.pk,
    )

    assert training.reader_models_train(subscriber_ids=[subscriber.pk]) == 1

    stored = training.TrainedModel.from_bytes(
        ReaderModel.objects.get(subscriber=subscriber).weights
    )
    assert alone is not None
    assert stored.coef.indices.tolist() == alone.coef.indices.tolist()
    assert np.allclose(stored.coef.data, alone.coef.data, rtol=1e-3, atol=1e-4)
    assert np.allclose(stored.intercept, alone.intercept, rtol=1e-3, atol=1e-4)
    assert np.allclose(stored.liked.toarray(), alone.liked.toarray(), rtol=1e-3, atol=1e-4)


def test_interests_are_told_apart_whether_the_liked_papers_are_in_the_pool_or_not():
    videos = TopicFactory(name="Video", slug="video", query="video")
    language = TopicFactory(name="Language", slug="language", query='"language model"')
    subscriber = SubscriberFactory(topics=[videos, language])
    make_papers(OTHER, day=EARLIER - dt.timedelta(days=2))
    rate(subscriber, make_papers(VIDEO[:5], day=EARLIER - dt.timedelta(days=1)), Rating.Vote.UP)
    rate(subscriber, make_papers(LANGUAGE[:2], day=EARLIER), Rating.Vote.UP)  # the newest day

    assert training.reader_models_train(subscriber_ids=[subscriber.pk]) == 1

    model = training.TrainedModel.from_bytes(ReaderModel.objects.get(subscriber=subscriber).weights)
    assert model.interest_count == 2
    assert sorted(np.bincount(model.liked_interest).tolist()) == [2, 5]


def test_chunks_of_one_run_index_the_pool_for_the_filters_once(monkeypatch):
    videos = TopicFactory(name="Video", slug="video", query="video")
    language = TopicFactory(name="Language", slug="language", query='"language model"')
    first = a_reader_of_the_pool_and_the_newest_day(videos, language)
    second = SubscriberFactory(topics=[videos, language])
    rate(second, list(Paper.objects.filter(title__in=VIDEO[:3])), Rating.Vote.UP)
    built = []
    real = training.FilterMatches

    def counted(papers, queries):
        built.append(len(papers))
        return real(papers, queries)

    monkeypatch.setattr(training, "FilterMatches", counted)

    training.reader_models_train(subscriber_ids=[first.pk])
    training.reader_models_train(subscriber_ids=[second.pk])

    pool_size = len(OTHER) + 4  # the papers before the newest day
    assert built.count(pool_size) == 1
    assert ReaderModel.objects.filter(weights__isnull=False).count() == 2


def test_reading_the_examples_takes_five_queries_however_many_ratings(
    django_assert_num_queries,
):
    readers = [a_reader_of_the_pool_and_the_newest_day()]
    readers.append(SubscriberFactory(topics=list(readers[0].topics.all())))
    rate(readers[1], list(Paper.objects.all()), Rating.Vote.UP)

    with django_assert_num_queries(5):
        examples = training.reader_examples([reader.pk for reader in readers])

    assert len(examples[readers[0].pk].liked_texts) == 4
    assert len(examples[readers[1].pk].liked_texts) == Paper.objects.count()
    assert examples[readers[0].pk].liked_texts[0] in examples[readers[1].pk].liked_texts


def test_the_training_profile_measures_training_and_scores_the_day_like_saved_models(
    tmp_path, capsys
):
    from bench import training_profile

    first = reader_who_likes_video()
    readers = [first, a_reader_of_the_pool_and_the_newest_day(*first.topics.all())]
    make_papers(a_busy_day(), day=TODAY)
    saved = tmp_path / "models.npz"

    training_profile.main(["--save-models", str(saved)])
    training_profile.main(["--compare-to", str(saved)])

    measured, again, compared = capsys.readouterr().out.strip().splitlines()
    assert measured.startswith("2 readers trained (1 chunks of 200")
    assert again.startswith("2 readers trained")
    assert compared.startswith("2 interests of 2 readers compared on 24 papers")
    assert "top-10 overlap mean 1.0000" in compared
    assert "score correlation mean 1.00000" in compared
    assert compared.endswith("0 readers with a model on one side only")
    assert sorted(np.load(saved).files) == sorted(str(reader.pk) for reader in readers)


def test_the_scoring_profile_scores_the_readers_with_a_model_against_the_days_window(capsys):
    from bench import scoring_profile

    first = reader_who_likes_video()
    readers = [first, a_reader_of_the_pool_and_the_newest_day(*first.topics.all())]
    make_papers(a_busy_day(), day=TODAY)
    training.reader_models_train(subscriber_ids=[reader.pk for reader in readers])

    scoring_profile.main(["--day", TODAY.isoformat(), "--batch", "1"])

    (line,) = capsys.readouterr().out.strip().splitlines()
    assert line.startswith("2 readers scored against ")
    assert "(batches of 1, x1; 2 with a usable model)" in line
    assert "ms/reader" in line
