"""Where a worker's memory goes during the day's run, on a database a bench run kept: one
worker's share of the day's batches built and sent again (to Postfix's smtp-sink) in this one
process, as build_and_send_digests does them, with the resident size after each batch and,
with --tracemalloc, what still holds memory at the end, by the line that allocated it.

    make bench BENCH_ARGS="--rated-share 0.2 --sink smtp-sink --keep-database"
    DATABASE_URL=postgres://…/paperboy_bench python -m bench.memory_profile [--tracemalloc]

The day's digests are deleted first (as bench.build_profile does). `--workers 2` (the
default) takes every second batch, as each of the bench's two worker processes gets about
half of them; freed pages are handed back after each batch, as after each task.
tracemalloc makes the run some times slower and counts Python's allocations only (numpy's
buffers included, glibc's own arenas not): read its figures as shares, the RSS as the total.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import tracemalloc
from datetime import date
from pathlib import Path

import django

from bench import postfix_sink
from bench.build_profile import day_reset
from bench.run import peak_rss_mb, rss_mb
from bench.send_profile import counting_sink


def resident_mb() -> float:
    return rss_mb(os.getpid()) or 0.0


def peak_resident_mb() -> float:
    return peak_rss_mb(os.getpid()) or 0.0


def _print_lines(stats, *, growth: bool = False) -> None:
    for stat in stats:
        frame = stat.traceback[0]
        size = stat.size_diff if growth else stat.size
        count = stat.count_diff if growth else stat.count
        where = frame.filename.removeprefix(str(Path.cwd()) + "/")
        print(f"  {size / 2**20:7.2f} MB {count:8d} blocks  {where}:{frame.lineno}")


def _day_reset(day: date) -> None:
    django.setup()
    day_reset(day)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 3, 23))
    parser.add_argument("--workers", type=int, default=2, help="this process takes 1/N batches")
    parser.add_argument("--tracemalloc", action="store_true", help="what holds memory at the end")
    parser.add_argument("--top", type=int, default=25, help="lines shown with --tracemalloc")
    parser.add_argument(
        "--growth-after", type=int, default=0, help="with --tracemalloc: what grew after batch N"
    )
    parser.add_argument(
        "--train", action="store_true", help="first train this process's share of the models"
    )
    parser.add_argument("--batches", type=int, help="stop after N batches")
    parser.add_argument("--every", type=int, default=10, help="print RSS every N batches")
    args = parser.parse_args(argv)
    sink, folder = counting_sink("memory-profile-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    # In a process of its own: deleting a day's digests loads them, which would stay in this
    # process's heap and in its RSS.
    reset = multiprocessing.get_context("spawn").Process(target=_day_reset, args=(args.day,))
    reset.start()
    reset.join()
    if reset.exitcode:
        raise SystemExit(f"could not reset {args.day}'s digests (exit code {reset.exitcode})")
    django.setup()
    from django.conf import settings

    from newsletter import worker_memory
    from newsletter.digests.delivery import build_and_send
    from newsletter.digests.editions import active_subscriber_ids, chunked
    from newsletter.models import Rating
    from newsletter.rating_tasks import RETRAIN_CHUNK
    from newsletter.recommend.training import reader_models_train

    try:
        worker_memory.allocator_tune()
        ids = list(active_subscriber_ids(edition_on=args.day))
        batches = list(chunked(ids, settings.DIGEST_BATCH_SIZE))[:: args.workers][: args.batches]
        if args.train:
            rated = sorted(set(Rating.objects.values_list("subscriber_id", flat=True)))
            chunks = list(chunked(rated, RETRAIN_CHUNK))[:: args.workers]
            for chunk in chunks:
                reader_models_train(subscriber_ids=chunk)
                worker_memory.freed_memory_release()
            print(
                f"trained {len(chunks)} chunks of {RETRAIN_CHUNK} readers: RSS {resident_mb():.1f}"
                f" MB, peak {peak_resident_mb():.1f} MB"
            )
        print(
            f"{len(batches)} batches of {settings.DIGEST_BATCH_SIZE} readers; RSS at start"
            f" {resident_mb():.1f} MB"
        )
        if args.tracemalloc:
            tracemalloc.start(1)
        started, sent = time.monotonic(), 0
        peak = 0.0
        earlier: tracemalloc.Snapshot | None = None
        for position, batch in enumerate(batches, 1):
            _built, report = build_and_send(
                subscriber_ids=batch, token=f"memory-profile-{position}", edition_on=args.day
            )
            sent += report.sent
            worker_memory.freed_memory_release()
            rss = resident_mb()
            peak = max(peak, rss)
            if args.tracemalloc and position == args.growth_after:
                earlier = tracemalloc.take_snapshot()
            if position % args.every == 0 or position == len(batches):
                print(
                    f"  batch {position:4d}: {sent:6d} sent, RSS {rss:6.1f} MB"
                    f" ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
        print(
            f"peak RSS after a batch {peak:.1f} MB, at any time {peak_resident_mb():.1f} MB;"
            f" sink counted {postfix_sink.messages_counted(folder)}"
        )
        if args.tracemalloc:
            snapshot = tracemalloc.take_snapshot()
            stats = snapshot.statistics("lineno")
            total = sum(stat.size for stat in stats)
            print(f"traced Python allocations still held: {total / 2**20:.1f} MB; the largest:")
            _print_lines(stats[: args.top])
            if earlier is not None:
                grown = [d for d in snapshot.compare_to(earlier, "lineno") if d.size_diff > 0]
                grown.sort(key=lambda d: -d.size_diff)
                print(
                    f"grown since batch {args.growth_after}:"
                    f" {sum(d.size_diff for d in grown) / 2**20:.1f} MB; the most:"
                )
                _print_lines(grown[: args.top], growth=True)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
