"""Scoring alone, on a database a bench run kept: the rated readers' stored models read and
scored against the day's window (what a digest batch does before it ranks), CPU of this
process and of its PostgreSQL backend per rated reader.

    make bench BENCH_ARGS="--subscribers 20000 --rated-share 0.2 --keep-database"
    DATABASE_URL=postgres://…/paperboy_bench python -m bench.scoring_profile [--readers 1000]
    valgrind --tool=callgrind python -m bench.scoring_profile --readers 1000   # instructions

Readers are scored in batches of --batch (a build batch of 500 readers holds ~100 rated ones
at one in five). The window is built before anything is counted.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import time
from datetime import date, timedelta
from pathlib import Path

import django

from bench.build_profile import Meter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 3, 23))
    parser.add_argument("--readers", type=int, help="only the first N readers with a model")
    parser.add_argument("--batch", type=int, default=100, help="readers scored at once")
    parser.add_argument("--repeat", type=int, default=1, help="score them this many times")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the scoring")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    from django.apps import apps

    if not apps.ready:  # called in-process by the tests: see bench.training_profile
        django.setup()
    from django.db import connection

    from newsletter.digests.editions import WINDOW_DAYS, chunked
    from newsletter.models import ReaderModel
    from newsletter.paper_index import paper_window
    from newsletter.recommend.scoring import reader_scores, window_matrix

    ids = sorted(
        ReaderModel.objects.filter(weights__isnull=False).values_list("subscriber_id", flat=True)
    )[: args.readers]
    window = paper_window(since=args.day - timedelta(days=WINDOW_DAYS), until=args.day)
    papers = window_matrix(window).paper_ids.size
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    # No query count: the models are read through a binary psycopg cursor, which Django's
    # execute wrappers do not see.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    meter = Meter(backend, {"count": 0}, profiler)
    scored = 0
    for _ in range(args.repeat):
        for batch in chunked(ids, args.batch):
            with meter.measuring(len(batch), counted=True):
                scored += len(reader_scores(subscriber_ids=batch, window=window))
    print(
        f"{meter.items} readers scored against {papers} papers (batches of {args.batch},"
        f" x{args.repeat}; {scored} with a usable model):"
        f" {meter.per_reader('scoring', with_queries=False)}"
    )
    meter.save_profile(args.profile)


if __name__ == "__main__":
    main()
