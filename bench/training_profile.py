"""Training alone, on a database a bench run kept: CPU of this process and of its PostgreSQL
backend, and queries, per rated reader; optionally a cProfile, and how the models it stores
score the newest day's papers against models saved from another version of the code.

    make bench BENCH_ARGS="--subscribers 20000 --rated-share 0.2 --keep-database"
    DATABASE_URL=postgres://…/paperboy_bench python -m bench.training_profile \
        [--profile out.prof] [--save-models before.npz] [--compare-to before.npz]

Every reader with ratings is trained in the task's chunks (RETRAIN_CHUNK readers, one
`reader_models_train` call each, as a worker does). The first chunk builds the per-process
background pool and term statistics and is not counted, unless it is the only one.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import time
from pathlib import Path

import django
import numpy as np

from bench.build_profile import Meter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, help="only the first N rated readers")
    parser.add_argument("--repeat", type=int, default=1, help="train them this many times")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the counted chunks")
    parser.add_argument("--save-models", type=Path, help="write the stored models (.npz)")
    parser.add_argument("--compare-to", type=Path, help="score the day like these saved models?")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    from django.apps import apps

    # Called in-process (the tests do), a second django.setup() would point the root log
    # handler at the caller's sys.stdout of the moment, which a test's capture then closes.
    if not apps.ready:
        django.setup()
    from django.db import connection

    from newsletter.digests.editions import chunked
    from newsletter.models import Rating
    from newsletter.rating_tasks import RETRAIN_CHUNK
    from newsletter.recommend.training import reader_models_train

    ids = sorted(set(Rating.objects.values_list("subscriber_id", flat=True)))[: args.readers]
    chunks = list(chunked(ids, RETRAIN_CHUNK))
    queries = {"count": 0}

    def count(execute, sql, params, many, context):
        queries["count"] += 1
        return execute(sql, params, many, context)

    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    meter = Meter(backend, queries, cProfile.Profile(time.process_time) if args.profile else None)
    for _ in range(args.repeat):
        for position, chunk in enumerate(chunks):
            counted = position > 0 or len(chunks) == 1 or meter.items > 0
            with meter.measuring(len(chunk), counted=counted), connection.execute_wrapper(count):
                reader_models_train(subscriber_ids=chunk)
    readers = meter.items
    print(
        f"{int(readers)} readers trained ({len(chunks)} chunks of {RETRAIN_CHUNK}, the first"
        f" not counted, x{args.repeat}): {meter.per_reader('training')}"
    )
    meter.save_profile(args.profile)
    ids = set(ids)
    models = stored_models(ids)
    if args.save_models:
        np.savez(
            args.save_models,
            **{str(sid): np.frombuffer(data, np.uint8) for sid, data in models.items()},
        )
    if args.compare_to:
        with np.load(args.compare_to) as saved:
            before = {int(sid): saved[sid].tobytes() for sid in saved.files if int(sid) in ids}
        print(compare(before, models))


def stored_models(ids) -> dict[int, bytes]:
    from newsletter.models import ReaderModel

    rows = ReaderModel.objects.filter(subscriber_id__in=ids, weights__isnull=False)
    return {sid: bytes(data) for sid, data in rows.values_list("subscriber_id", "weights")}


def newest_day_papers():
    from django.db.models import Max

    from newsletter.recommend import representation
    from newsletter.recommend.representation import paper_text
    from papers.selectors import visible_papers

    papers = visible_papers()
    newest = papers.aggregate(day=Max("announced_on"))["day"]
    rows = papers.filter(announced_on=newest).order_by("id").values_list("title", "abstract")
    return representation.current_tfidf().vectors([paper_text(t, a) for t, a in rows])


def compare(before: dict[int, bytes], after: dict[int, bytes]) -> str:
    """Per interest, the newest day's papers scored by the old and the new model: how many of
    the old top 10 the new one keeps, and the correlation of their scores."""
    from newsletter.recommend.training import TrainedModel

    papers = newest_day_papers()
    overlaps, correlations, other_interests = [], [], 0
    missing = len(set(before) ^ set(after))
    for sid in sorted(set(before) & set(after)):
        old, new = TrainedModel.from_bytes(before[sid]), TrainedModel.from_bytes(after[sid])
        if old.interest_count != new.interest_count:
            other_interests += 1
            continue
        old_scores = np.asarray((papers @ old.coef.T).todense()).T + old.intercept[:, None]
        new_scores = np.asarray((papers @ new.coef.T).todense()).T + new.intercept[:, None]
        for old_row, new_row in zip(old_scores, new_scores, strict=True):
            top = min(10, len(old_row))
            kept = set(np.argsort(-old_row)[:top]) & set(np.argsort(-new_row)[:top])
            overlaps.append(len(kept) / top)
            correlations.append(np.corrcoef(old_row, new_row)[0, 1])
    return (
        f"{len(overlaps)} interests of {len(set(before) & set(after))} readers compared on"
        f" {papers.shape[0]} papers: top-10 overlap mean {np.mean(overlaps):.4f}"
        f" (min {np.min(overlaps):.2f}), score correlation mean {np.mean(correlations):.5f}"
        f" (min {np.min(correlations):.5f}); {other_interests} readers with another number"
        f" of interests, {missing} readers with a model on one side only"
    )


if __name__ == "__main__":
    main()
