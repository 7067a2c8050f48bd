"""The build step alone, on a database a bench run kept: CPU of this process and of its
PostgreSQL backend, and queries, per reader; optionally a cProfile of it.

    make bench BENCH_ARGS="--subscribers 3000 --papers 400 --keep-database"
    DATABASE_URL=postgres://…/paperboy_bench python -m bench.build_profile [--profile out.prof]

The day's digests are deleted and built again batch by batch (DIGEST_BATCH_SIZE readers, one
committed transaction each, as a worker does: deferred foreign-key checks run at commit), so
the figures compare before and after a change on the same data. The first batch warms the
per-process paper index and is not counted. `--statements` adds the backend's CPU per kind of
statement (from /proc, in 10 ms ticks: meaningful summed over many batches). `--without-models`
builds as if no reader had a model: the difference is what scoring and recommendations cost.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import django


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Meter:
    """This process's CPU, its PostgreSQL backend's and the queries (counted by `queries`, an
    execute wrapper's counter), summed over the calls measured; the profiler, if any, runs
    only while they do."""

    backend: int
    queries: dict[str, int]
    profiler: cProfile.Profile | None = None
    items: int = 0
    worker: float = 0.0
    database: float = 0.0
    query_count: int = 0
    last_cpu: float = 0.0

    @contextmanager
    def measuring(self, items: int, *, counted: bool = True) -> Iterator[None]:
        q0, c0, b0 = self.queries["count"], time.process_time(), backend_cpu(self.backend)
        if counted and self.profiler:
            self.profiler.enable()
        try:
            yield
        finally:
            if counted and self.profiler:
                self.profiler.disable()
            self.last_cpu = time.process_time() - c0
            if counted:
                self.worker += self.last_cpu
                self.database += backend_cpu(self.backend) - b0
                self.query_count += self.queries["count"] - q0
                self.items += items

    def per_reader(self, step: str, *, with_queries: bool = True) -> str:
        """What the measured calls cost per item (a reader), as the profile tools print it."""
        readers = max(1, self.items)
        text = (
            f"{step} CPU {1000 * self.worker / readers:.3f} ms/reader,"
            f" its PostgreSQL backend {1000 * self.database / readers:.3f} ms/reader"
        )
        if with_queries:
            text += f", {1000 * self.query_count / readers:.1f} queries per 1,000 readers"
        return text

    def save_profile(self, path: Path | None) -> None:
        if self.profiler and path:
            self.profiler.dump_stats(path)


def day_reset(day: date) -> None:
    """The day's digests gone and its readers due again, the tables vacuumed as autovacuum
    would have between two days: the day can be built again on the same data."""
    from django.db import connection, transaction

    from newsletter.models import Digest, Subscriber

    with transaction.atomic():
        Digest.objects.filter(edition_on=day).delete()
        Subscriber.objects.filter(last_digest_on__gte=day).update(
            last_digest_on=day - timedelta(days=1)
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 3, 23))
    parser.add_argument("--profile", type=Path, help="write a cProfile of the counted batches")
    parser.add_argument("--repeat", type=int, default=1, help="build the day this many times")
    parser.add_argument("--statements", action="store_true", help="backend CPU per statement")
    parser.add_argument("--without-models", action="store_true", help="score no reader's model")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    django.setup()
    from django.conf import settings
    from django.db import connection

    from newsletter.digests.building import digests_build
    from newsletter.digests.editions import active_subscriber_ids, chunked

    if args.without_models:
        from newsletter.digests import building

        building.reader_scores = lambda **_kwargs: {}
    ids = list(active_subscriber_ids(edition_on=args.day))
    batches = list(chunked(ids, settings.DIGEST_BATCH_SIZE))
    queries = {"count": 0}
    by_statement: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()

    def count(execute, sql, params, many, context):
        queries["count"] += 1
        if not args.statements:
            return execute(sql, params, many, context)
        started = backend_cpu(backend)
        try:
            return execute(sql, params, many, context)
        finally:
            kind = " ".join(sql.split()[:8])[:90]
            by_statement[kind] = by_statement.get(kind, 0.0) + backend_cpu(backend) - started

    if args.statements:  # COPY and the commit (deferred checks) bypass execute wrappers
        from newsletter.digests import bulk_sql

        def timed(name, function):
            def run(*a, **kw):
                started = backend_cpu(backend)
                try:
                    return function(*a, **kw)
                finally:
                    kind = name if name != "COPY" else f"COPY {a[0]._meta.db_table}"
                    by_statement[kind] = (
                        by_statement.get(kind, 0.0) + backend_cpu(backend) - started
                    )

            return run

        bulk_sql.copy_rows = timed("COPY", bulk_sql.copy_rows)
        connection.commit = timed("COMMIT", connection.commit)
    meter = Meter(backend, queries, cProfile.Profile() if args.profile else None)
    first_batch = 0.0
    for _ in range(args.repeat):
        day_reset(args.day)
        for position, batch in enumerate(batches):
            counted = position > 0 or len(batches) == 1
            with meter.measuring(len(batch), counted=counted), connection.execute_wrapper(count):
                digests_build(subscriber_ids=batch, edition_on=args.day)
            if position == 0 and not first_batch:
                first_batch = meter.last_cpu
    readers = meter.items
    print(
        f"{int(readers)} readers built ({len(batches)} batches of {settings.DIGEST_BATCH_SIZE},"
        f" the first not counted, x{args.repeat}): {meter.per_reader('build')}; the first batch"
        f" (the paper index loaded) took {1000 * first_batch:.0f} ms"
    )
    for kind, seconds in sorted(by_statement.items(), key=lambda kv: -kv[1]):
        print(f"  {1000 * seconds / readers:7.3f} ms/reader  {kind}")
    meter.save_profile(args.profile)


if __name__ == "__main__":
    main()
