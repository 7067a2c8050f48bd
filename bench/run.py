"""One day's run at scale, with real processes, and the raw-SMTP floor measured in the same run.

    make bench                                   # 2,000 papers, 100,000 subscribers
    make bench BENCH_ARGS="--quick"              # the same pipeline, small, under a minute
    make bench BENCH_ARGS="--subscribers 20000 --starttls"
    make bench BENCH_ARGS="--subscribers 20000 --rated-share 0.2"   # personalised readers
    make bench BENCH_ARGS="--sink smtp-sink --subscribers 5000"   # Postfix's C sink, fast
    make bench BENCH_ARGS="--sink smtp-sink --subscribers 20000 --curve 2,4,8"   # worker curve

It creates a throwaway PostgreSQL database (<DATABASE_URL's name>_bench) and uses Redis db 7
(`--broker-db`), starts a sink in its own process (aiosmtpd, or Postfix's smtp-sink with
`--sink smtp-sink`, bench/postfix_sink.py) and Celery workers (prefork,
`--concurrency`, default 2) running Paperboy's own tasks, generates a realistic day
(bench/datagen.py), triggers `send_digests_for_date` and waits until every digest is settled.
Then it sends the same number of pre-built messages of the same mean size over as many reused
smtplib connections as there are worker processes: the floor. It prints a table, writes JSON to
bench/results/latest.json, and exits 1 if a correctness check fails. CPU per email is read
per process kind (workers, this database's PostgreSQL backends, Redis, the sink) from the
processes' own CPU times, before and after the run.

`--curve 2,4,8` runs the same day (same seed, a fresh database each time) once per worker
process count, one after the other, and prints wall, emails/s and CPU ms per email per
process kind for each; every run's JSON lands beside --json-out as curve-<n>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--distinct-queries", type=int, help="own queries (default: subs/10)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--starttls", action="store_true", help="sink offers STARTTLS; use it")
    parser.add_argument(
        "--no-pipelining", action="store_true", help="sink doesn't offer PIPELINING (RFC 2920)"
    )
    parser.add_argument(
        "--rated-share",
        type=float,
        default=0.0,
        help="readers with 5-50 ratings: their models are trained (timed) before the run",
    )
    parser.add_argument("--sink", choices=["aiosmtpd", "smtp-sink"], default="aiosmtpd")
    parser.add_argument(
        "--no-sink-dump",
        action="store_true",
        help="smtp-sink: count messages only (no Message-ID check; for very large runs)",
    )
    parser.add_argument(
        "--history-days", type=int, default=0, help="first fill N past days (bench/history.py)"
    )
    parser.add_argument(
        "--compare-to", type=Path, help="a run without history: day N+1 must be within 10 %%"
    )
    parser.add_argument(
        "--curve",
        type=lambda text: [int(n) for n in text.split(",")],
        help="worker process counts, e.g. 2,4,8: the same day once per count",
    )
    parser.add_argument("--quick", action="store_true", help="1,500 subscribers, 400 papers")
    parser.add_argument("--broker-db", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1200, help="give up after (s)")
    parser.add_argument("--json-out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.subscribers, args.papers, args.timeout = 1_500, 400, 120
    if args.sink == "smtp-sink" and args.starttls:
        parser.error("smtp-sink offers no STARTTLS; use --sink aiosmtpd")
    if args.distinct_queries is None:
        args.distinct_queries = max(10, args.subscribers // 10)
    return args


# --- Processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        queue += [int(child) for child in children]
    return pids


def _status_mb(pid: int, field: str) -> float | None:
    """A size from /proc/<pid>/status (kB there), in MB; None for a process gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss_mb(pid: int) -> float | None:
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float | None:
    return _status_mb(pid, "VmRSS")


def reset_peak_rss(pid: int) -> None:
    """Start VmHWM afresh (Linux: "5" to clear_refs), so the next peak is the run's own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def start_sink(
    folder: Path, *, starttls: bool, pipelining: bool = True
) -> tuple[subprocess.Popen, int, Path]:
    port, log = free_port(), folder / "sink.log"
    command = [sys.executable, "-m", "bench.smtp_sink", "--port", str(port), "--log", str(log)]
    command += ["--starttls"] if starttls else []
    command += [] if pipelining else ["--no-pipelining"]
    sink = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    ready = sink.stdout.readline() if sink.stdout else ""
    if not ready.startswith("READY"):
        raise SystemExit(f"the SMTP sink did not start: {ready!r}")
    return sink, port, log


def start_fast_sink(folder: Path, *, args: argparse.Namespace) -> tuple[subprocess.Popen, int]:
    from bench import postfix_sink

    port = free_port()
    sink = postfix_sink.start(
        port=port, folder=folder, dump=not args.no_sink_dump, pipelining=not args.no_pipelining
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return sink, port
        except OSError:
            if sink.poll() is not None:
                break
            time.sleep(0.05)
    raise SystemExit(f"smtp-sink did not start: {(folder / 'sink-counters.txt').read_text()!r}")


def bench_environment(args: argparse.Namespace, *, port: int, folder: Path) -> dict[str, str]:
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paperboy"))
    database = urlunsplit(base._replace(path=base.path.rstrip("/") + "_bench"))
    broker = urlsplit(os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/1"))
    scheme = "smtp+tls" if args.starttls else "smtp"
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "CELERY_BROKER_URL": urlunsplit(broker._replace(path=f"/{args.broker_db}")),
        "CELERY_RESULT_BACKEND": "",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CACHE_URL": "locmemcache://bench",
        "EMAIL_URL": f"{scheme}://127.0.0.1:{port}",
        "SECRET_KEY": "bench-only-secret-key",
        "SITE_URL": "https://papers.bench.invalid",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "BENCH_QUERY_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "newsletter.settings",
    }
    if args.starttls:
        from bench.smtp_sink import certificate_paths

        env["EMAIL_SSL_CAFILE"] = str(certificate_paths(folder)[0])
    return env


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def settle_database() -> float:
    """What autovacuum and the checkpointer would have done by the benched morning: the data
    was written minutes ago, not over the days it stands for. Without it a year's history
    (24 M rows) is vacuumed and flushed by the server during the measured day, on one of the
    two cores (day 366 ran +36 % slower, the bench's own in-memory matching gauge +35 %)."""
    from django.db import DatabaseError, connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
        try:
            cursor.execute("CHECKPOINT")  # needs superuser or pg_checkpoint
        except DatabaseError as error:
            print(f"no CHECKPOINT before the run ({error}); the server flushes during it")
    return round(time.perf_counter() - started, 1)


def start_workers(
    args: argparse.Namespace, env: dict[str, str], *, queue: str = "celery"
) -> subprocess.Popen:
    """Celery workers of one queue, as a deployment runs them: the sends' (the default queue)
    or the recommend queue's (vectorising and training, settings.RECOMMEND_QUEUE)."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench.worker", "worker", "--pool", "prefork",
         "--concurrency", str(args.concurrency), "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--queues", queue,
         "-n", f"bench-{queue}-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_for_workers(app, *, count: int = 1, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=1.0)) >= count:
            return
    raise SystemExit(f"{count} Celery workers did not answer a ping within a minute")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- Measurements ---------------------------------------------------------------------------


def cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float:
    """utime + stime from /proc/<pid>/stat (plus reaped children's, for a pool's parent)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuProbe:
    """CPU seconds per process kind, read before and after the run. Celery closes a worker's
    database connection around every task (CELERY_DB_REUSE_MAX unset), so each batch has its
    own short-lived backend: PostgreSQL is read as the whole server (the postmaster, its
    processes and its reaped backends). On a server shared with other work that is an upper
    bound; Redis likewise is the whole server's."""

    def __init__(self, *, workers: Sequence[int], sink: int, broker: str) -> None:
        import redis

        self.workers, self.sink = tuple(workers), sink
        self.redis = redis.Redis.from_url(broker)

        self.postmaster = self._postmaster()

    @staticmethod
    def _postmaster() -> int:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend,) = cursor.fetchone()
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])

    def read(self) -> dict:
        info = self.redis.info("cpu")
        return {
            "workers": sum(
                cpu_seconds(pid, with_reaped_children=pid == main)
                for main in self.workers
                for pid in process_tree(main)
            ),
            "postgresql": sum(
                cpu_seconds(pid, with_reaped_children=pid == self.postmaster)
                for pid in process_tree(self.postmaster)
            ),
            "redis": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            "sink": cpu_seconds(self.sink),
        }

    @staticmethod
    def per_kind(before: dict, after: dict) -> dict[str, float]:
        return {kind: after[kind] - before[kind] for kind in after}


def measure_ingest(entries: int) -> dict:
    from bench.ingest import measure
    from papers.models import FetchRun, Paper

    result = measure(entries=entries)
    Paper.objects.all().delete()
    FetchRun.objects.all().delete()
    return result


def measure_matching(day: date, sizes: list[int]) -> list[dict]:
    """Filter evaluation for the first n subscribers, n in `sizes`: one streaming pass with
    checkpoints (each n is a prefix of the next), so the curve shows that distinct filters,
    not subscribers, are what it costs."""
    from newsletter.models import Subscriber
    from newsletter.paper_index import PaperWindow

    base = PaperWindow.load(since=day - timedelta(days=6), until=day)
    window = PaperWindow(since=base.since, until=base.until, index=base.index, facts=base.facts)
    readers = Subscriber.objects.order_by("pk").prefetch_related("topics")[: max(sizes)]
    checkpoints, curve, seconds = set(sizes), [], 0.0
    for count, subscriber in enumerate(readers.iterator(chunk_size=5000), start=1):
        started = time.perf_counter()
        for topic in subscriber.topics.all():
            window.filter_matches(
                query=topic.query,
                categories=topic.categories,
                strong_only=topic.require_strong_match,
            )
        if subscriber.own_query or subscriber.categories:
            window.filter_matches(query=subscriber.own_query, categories=subscriber.categories)
        for name in subscriber.authors:
            window.author_matches(name)
        seconds += time.perf_counter() - started
        if count in checkpoints:
            curve.append(
                {
                    "subscribers": count,
                    "distinct_filters": window.filter_evaluations,
                    "seconds": round(seconds, 3),
                }
            )
    return curve


def measure_rendering(sample: int, *, edition: date) -> dict:
    """CPU time (this thread's, not the wall clock: the machine is shared) to compose and to
    build the MIME of the first `sample` sent digests, from cold per-process caches."""
    from newsletter.digests.delivery import compose, load_batch
    from newsletter.mail.mime import mime_bytes
    from newsletter.models import Digest

    ids = list(
        Digest.objects.filter(status=Digest.Status.SENT, edition_on=edition)
        .order_by("pk")
        .values_list("pk", flat=True)
    )[:sample]
    batch = load_batch(ids)
    emails = []
    started = time.thread_time()
    for digest in batch.digests:
        if (email := compose(digest, batch)) is not None:
            emails.append(email)
    render_s = time.thread_time() - started
    started = time.thread_time()
    sizes = [len(mime_bytes(email)) for email in emails]
    mime_s = time.thread_time() - started
    count = max(len(emails), 1)
    return {
        "emails": len(emails),
        "render_ms_per_email": round(1000 * render_s / count, 3),
        "mime_ms_per_email": round(1000 * mime_s / count, 3),
        "mean_bytes": round(statistics.mean(sizes)) if sizes else 0,
    }


def wait_for_run(*, edition: date, expected: int, timeout: float) -> dict:
    """Wait until every reader's digest is built and settled. Once a second, the poll asks
    only for the unsettled ones (an index range on status) and counts the whole edition only
    when that is zero, or every 5 s for progress: a full count 4 times a second cost the
    database under test ~10 % of a core by the end of a 100k run."""
    from django.db.models import Count

    from newsletter.models import Digest

    unsettled_statuses = (Digest.Status.PENDING, Digest.Status.SENDING)
    edition_digests = Digest.objects.filter(edition_on=edition)

    def counts() -> dict[str, int]:
        return dict(edition_digests.values_list("status").annotate(n=Count("id")).order_by())

    from papers.progress import CommandProgress, Step

    progress = CommandProgress(desc="settled")
    started = time.monotonic()
    last_report = 0.0
    while True:
        elapsed = time.monotonic() - started
        unsettled = edition_digests.filter(status__in=unsettled_statuses).count()
        if unsettled == 0 and edition_digests.count() >= expected:
            progress.close()
            return {"seconds": elapsed, "statuses": counts()}
        if elapsed > timeout:
            progress.close()
            raise SystemExit(f"run not finished after {timeout:.0f} s: {counts()}")
        if elapsed - last_report >= 5:
            now = counts()
            settled = sum(n for status, n in now.items() if status not in unsettled_statuses)
            line = f"  {elapsed:6.1f} s  {settled}/{expected} settled  {now}"
            progress(Step(done=settled, total=expected, unit="digests", text=line))
            sys.stdout.flush()
            last_report = elapsed
        time.sleep(1.0)


def wait_for_training(*, timeout: float) -> float:
    """Enqueue the batched retrain (as a vote's debounced run would) and wait until no reader
    model is stale: the training part of a day."""
    from newsletter.recommend.training import stale_reader_ids
    from newsletter.tasks import retrain_reader_models

    started = time.monotonic()
    retrain_reader_models.delay()
    while stale_reader_ids():
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise SystemExit(f"training not finished after {timeout:.0f} s")
        time.sleep(1.0)
    return time.monotonic() - started


def check_deliveries(sink_log: Path | None, *, folder: Path, edition: date) -> dict:
    """Each sent digest's Message-ID exactly once at the sink; with smtp-sink, its own message
    counter must also equal the digests marked sent (it counts even when not dumping)."""
    from bench import postfix_sink
    from bench.smtp_sink import read_log
    from newsletter.models import Digest

    counted = None
    if sink_log is None:
        rows = postfix_sink.read_dump(folder)
        counted = postfix_sink.messages_counted(folder)
    else:
        rows = read_log(sink_log)
    seen = Counter(message_id for message_id, _size, _rcpt in rows)
    sent = dict(
        Digest.objects.filter(status=Digest.Status.SENT, edition_on=edition).values_list(
            "message_id", "subscriber_id"
        )
    )
    non_empty = (
        Digest.objects.filter(edition_on=edition)
        .exclude(status=Digest.Status.SKIPPED_EMPTY)
        .count()
    )
    if counted is not None and not rows:  # counting only: the counter stands in for the dump
        return {
            "messages_at_sink": counted,
            "sink_counter": counted,
            "distinct_message_ids": None,
            "duplicates": max(0, counted - len(sent)),
            "sent_digests": len(sent),
            "non_empty_digests": non_empty,
            "sent_but_not_at_sink": max(0, len(sent) - counted),
            "at_sink_but_not_sent": 0,
            "mean_bytes": 0,
        }
    return {
        "sink_counter": counted,
        "messages_at_sink": len(rows),
        "distinct_message_ids": len(seen),
        "duplicates": sum(n - 1 for n in seen.values() if n > 1),
        "sent_digests": len(sent),
        "non_empty_digests": non_empty,
        "sent_but_not_at_sink": len(set(sent) - set(seen)),
        "at_sink_but_not_sent": len(set(seen) - set(sent)),
        "mean_bytes": round(statistics.mean(size for _id, size, _r in rows)) if rows else 0,
    }


# --- The run --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.curve:
        return run_curve(args, sys.argv[1:] if argv is None else argv)
    folder = Path(tempfile.mkdtemp(prefix="paperboy-bench-"))
    if args.sink == "smtp-sink":
        sink, port = start_fast_sink(folder, args=args)
        sink_log = None
    else:
        sink, port, sink_log = start_sink(
            folder, starttls=args.starttls, pipelining=not args.no_pipelining
        )
    env = bench_environment(args, port=port, folder=folder)
    os.environ.update(env)
    recreate_database(env["DATABASE_URL"])
    workers = recommending = None
    try:
        import django

        django.setup()
        import redis
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection

        from bench.datagen import make_day, make_ratings
        from bench.floor import measure_floor
        from newsletter.celery import app
        from newsletter.models import Subscriber
        from newsletter.tasks import send_digests_for_date

        redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
        call_command("migrate", verbosity=0)
        day = date(2026, 3, 23)  # a Monday: weekly readers are due too, so every reader gets one
        print(f"ingest: parsing and upserting {args.papers} Atom entries", flush=True)
        ingest = measure_ingest(args.papers)
        print(f"generating {args.papers} papers and {args.subscribers} subscribers", flush=True)
        started = time.perf_counter()
        generated = make_day(
            papers=args.papers,
            subscribers=args.subscribers,
            topics=args.topics,
            distinct_own_queries=args.distinct_queries,
            day=day,
            seed=7,
        )
        rated = make_ratings(share=args.rated_share, day=day, seed=7) if args.rated_share else 0
        similar = None
        if rated:
            from newsletter.recommend.neighbours import similar_papers_compute
            from newsletter.recommend.representation import current_tfidf

            current_tfidf()  # yesterday's term statistics: built once, not part of a day
            # What the fetch enqueues once the day's papers are in (PAPERS_ADDED_TASKS): their
            # "more like this" lists, storing each paper's term counts, read by the scoring.
            similar_started = time.perf_counter()
            similar = {"papers": similar_papers_compute(today=day).papers}
            similar["seconds"] = round(time.perf_counter() - similar_started, 1)
            print(f"after the fetch: similar papers of {similar['papers']} papers "
                  f"in {similar['seconds']} s", flush=True)  # fmt: skip
        generate_s = time.perf_counter() - started
        history = None
        if args.history_days:
            from bench.history import fill_history

            print(f"history: {args.history_days} past days with COPY", flush=True)
            history = fill_history(days=args.history_days, day=day)
        settled_s = settle_database()
        if history is not None:
            history["settle_seconds"] = settled_s
        sizes = sorted({max(1, args.subscribers // 100), args.subscribers // 10, args.subscribers})
        print("matching curve", flush=True)
        matching = measure_matching(day, sizes)

        workers = start_workers(args, env)
        if rated:
            recommending = start_workers(args, env, queue=settings.RECOMMEND_QUEUE)
        wait_for_workers(app, count=2 if rated else 1)
        training = {"readers": rated, "seconds": 0.0}
        probe = CpuProbe(
            workers=[workers.pid, *([recommending.pid] if recommending else [])],
            sink=sink.pid,
            broker=env["CELERY_BROKER_URL"],
        )
        if rated:
            print(f"training: {rated} readers' models on the recommend workers", flush=True)
            before = probe.read()
            training["seconds"] = wait_for_training(timeout=args.timeout)
            training["cpu_seconds"] = probe.per_kind(before, probe.read())
            training["peak_rss_mb"] = [peak_rss_mb(pid) for pid in process_tree(recommending.pid)]
        expected = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).count()
        print(f"run: {expected} readers, {args.concurrency} worker processes", flush=True)
        before = probe.read()
        send_digests_for_date.delay(day.isoformat())
        run = wait_for_run(edition=day, expected=expected, timeout=args.timeout)
        cpu = probe.per_kind(before, probe.read())
        if history is not None:
            from bench.history import never_twice_seconds, table_sizes

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            history["tables"] = table_sizes()
            history["never_twice"] = never_twice_seconds(day=day)
        rss = {
            "workers": [peak_rss_mb(pid) for pid in process_tree(workers.pid)],
            "sink": peak_rss_mb(sink.pid),
            "bench": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        stop(workers)
        if recommending is not None:
            stop(recommending)
        counters = [json.loads(path.read_text()) for path in folder.glob("*.json")]
        queries = sum(c["queries"] for c in counters)
        backends_cpu = sum(c["backend_cpu_s"] for c in counters)
        backends = sum(c["backends"] for c in counters)
        build_cpu = sum(c["build_cpu_s"] for c in counters)
        build_backends_cpu = sum(c["build_backend_cpu_s"] for c in counters)
        built_readers = sum(c["built_readers"] for c in counters)
        deliveries = check_deliveries(sink_log, folder=folder, edition=day)
        rendering = measure_rendering(500, edition=day)
        sent = deliveries["sent_digests"]
        print(f"floor: {sent} pre-built messages over {args.concurrency} connections", flush=True)
        floor = measure_floor(
            port=port,
            messages=max(sent, 1),
            size=deliveries["mean_bytes"] or 20_000,
            connections=args.concurrency,
            starttls=args.starttls,
        )
    finally:
        if workers is not None:
            stop(workers)
        if recommending is not None:
            stop(recommending)
        stop(sink)
        if not args.keep_database:
            drop_database(env["DATABASE_URL"])

    ours_per_s = sent / run["seconds"] if run["seconds"] else 0.0
    result = {
        "subscribers": args.subscribers,
        "papers": args.papers,
        "concurrency": args.concurrency,
        "starttls": args.starttls,
        "pipelining": not args.no_pipelining,
        "generated": generated,
        "generate_seconds": round(generate_s, 1),
        "ingest": ingest,
        "matching": matching,
        "history": history,
        "run_seconds": round(run["seconds"], 1),
        "similar_papers_after_fetch": similar,
        "training": {
            "readers": training["readers"],
            "seconds": round(training["seconds"], 1),
            "worker_peak_rss_mb_after_training": training.get("peak_rss_mb", []),
            "cpu_seconds": {
                kind: round(seconds, 2) for kind, seconds in training.get("cpu_seconds", {}).items()
            },
        },
        "statuses": run["statuses"],
        "emails_per_second": round(ours_per_s, 1),
        "rendering": rendering,
        "queries_per_1000_emails": round(1000 * queries / max(sent, 1), 1),
        "sink": args.sink,
        "cpu_seconds": {kind: round(seconds, 2) for kind, seconds in cpu.items()},
        "cpu_ms_per_email": {
            kind: round(1000 * seconds / max(sent, 1), 3) for kind, seconds in cpu.items()
        },
        # Our databases' own backends (bench/worker.py), not the whole shared server.
        "postgresql_backends_ms_per_email": round(1000 * backends_cpu / max(sent, 1), 3),
        "postgresql_backends": backends,
        "cpu_ms_per_email_ours_own_backends": round(
            1000 * (cpu["workers"] + backends_cpu + cpu["redis"]) / max(sent, 1), 3
        ),
        "build_cpu_ms_per_reader": round(1000 * build_cpu / max(built_readers, 1), 3),
        "build_backend_cpu_ms_per_reader": round(
            1000 * build_backends_cpu / max(built_readers, 1), 3
        ),
        "cpu_ms_per_email_ours": round(
            1000 * sum(cpu[kind] for kind in ("workers", "postgresql", "redis")) / max(sent, 1), 3
        ),
        "peak_rss_mb": {
            "worker_processes": [round(v, 1) for v in rss["workers"] if v is not None],
            "sink": round(rss["sink"] or 0, 1),
            "bench_process": round(rss["bench"], 1),
        },
        "deliveries": deliveries,
        "floor": {k: round(v, 2) for k, v in floor.items()},
        "ratio_to_floor": round(ours_per_s / floor["per_second"], 3),
    }
    if args.compare_to:
        baseline = json.loads(args.compare_to.read_text())
        change = result["run_seconds"] / baseline["run_seconds"] - 1
        result["history_check"] = {
            "baseline_run_seconds": baseline["run_seconds"],
            "change": round(change, 3),
            "within_10_percent": change <= 0.10,
        }
    failures = correctness_failures(result)
    result["correct"] = not failures
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    for failure in failures:
        print(f"CORRECTNESS FAILURE: {failure}")
    print(f"JSON: {args.json_out}")
    return 1 if failures else 0


def correctness_failures(result: dict) -> list[str]:
    d = result["deliveries"]
    failures = []
    if d["duplicates"]:
        failures.append(f"{d['duplicates']} messages reached the sink twice")
    if d["sent_but_not_at_sink"] or d["at_sink_but_not_sent"]:
        failures.append(
            f"sink and database disagree: {d['sent_but_not_at_sink']} sent but not received, "
            f"{d['at_sink_but_not_sent']} received but not marked sent"
        )
    if d["sent_digests"] != d["non_empty_digests"]:
        failures.append(f"{d['non_empty_digests'] - d['sent_digests']} non-empty digests unsent")
    if d["sink_counter"] is not None and d["sink_counter"] != d["messages_at_sink"]:
        failures.append(f"smtp-sink counted {d['sink_counter']}, dumped {d['messages_at_sink']}")
    if not result.get("history_check", {}).get("within_10_percent", True):
        failures.append(f"day N+1 is {result['history_check']['change']:+.1%} slower than day 1")
    if d["sent_digests"] == 0:
        failures.append("nothing was sent")
    return failures


def print_table(r: dict) -> None:
    rss = r["peak_rss_mb"]
    training_rss = [round(v or 0, 1) for v in r["training"]["worker_peak_rss_mb_after_training"]]
    matching = ", ".join(
        f"{m['subscribers']:,} subs/{m['distinct_filters']:,} filters {m['seconds']} s"
        for m in r["matching"]
    )
    rows = [
        ("subscribers / papers", f"{r['subscribers']:,} / {r['papers']:,}"),
        ("ingest (parse + create)", f"{r['ingest']['create_entries_per_s']:,} entries/s"),
        ("matching (first n subscribers)", matching),
        ("rendering (CPU)", f"{r['rendering']['render_ms_per_email']} ms/email "
                      f"(+ MIME {r['rendering']['mime_ms_per_email']} ms)"),
        ("whole run (match+render+send)", f"{r['run_seconds']} s wall"),
        ("training (readers with ratings)", f"{r['training']['seconds']} s wall, "
                                            f"{r['training']['readers']:,} readers"),
        *([("after the fetch: similar papers", f"{r['similar_papers_after_fetch']['seconds']} s,"
            f" {r['similar_papers_after_fetch']['papers']:,} papers (stores their term counts)")]
          if r.get("similar_papers_after_fetch") else []),
        ("sending, end to end", f"{r['emails_per_second']} emails/s"),
        ("floor: raw smtplib, same size", f"{r['floor']['per_second']} emails/s "
                                          f"over {r['concurrency']} connections"),
        ("ratio ours / floor", f"{r['ratio_to_floor']:.2f}"),
        ("queries per 1,000 emails", f"{r['queries_per_1000_emails']}"),
        ("sink", r["sink"]),
        ("CPU ms/email by process kind", ", ".join(
            f"{kind} {ms}" for kind, ms in r["cpu_ms_per_email"].items())),
        ("CPU ms/email, ours (no sink)", f"{r['cpu_ms_per_email_ours']} (workers + PostgreSQL"
                                         " + Redis; PostgreSQL, Redis: whole servers)"),
        ("PostgreSQL: the workers' backends", f"{r['postgresql_backends_ms_per_email']} ms/email"
                                              f" (their own CPU, read while they live;"
                                              f" {r['postgresql_backends']} connections)"),
        ("CPU ms/email, ours (own backends)", f"{r['cpu_ms_per_email_ours_own_backends']}"
                                              " (workers + their backends + Redis)"),
        ("build step, CPU per reader", f"worker {r['build_cpu_ms_per_reader']} ms, its PostgreSQL"
                                       f" backend {r['build_backend_cpu_ms_per_reader']} ms"),
        ("peak RSS (MB)", f"workers {rss['worker_processes']}, sink {rss['sink']}, "
                          f"bench {rss['bench_process']}"),
        ("training CPU (s)", ", ".join(f"{kind} {seconds}" for kind, seconds
                                       in r["training"]["cpu_seconds"].items())),
        ("peak RSS while training (MB)",
         f"recommend workers {training_rss}"),
        ("sent / at sink / duplicates", f"{r['deliveries']['sent_digests']} / "
         f"{r['deliveries']['messages_at_sink']} / {r['deliveries']['duplicates']}"),
        ("mean email size", f"{r['deliveries']['mean_bytes']:,} bytes"),
        ("history", "none" if not r["history"] else
         f"{r['history']['days']} days: {r['history']['digests']:,} digests, "
         f"{r['history']['items']:,} items, filled in {r['history']['seconds']} s, "
         f"settled in {r['history']['settle_seconds']} s"),
        *([("tables after the run (rows, MB)", ", ".join(
            f"{name.split('_', 1)[1]} {t['rows']:,} {t['bytes'] / 2**20:,.0f}"
            for name, t in sorted(r["history"]["tables"].items()))),
           ("'never twice' for 500 readers", f"{r['history']['never_twice']['ms']} ms, "
            f"{r['history']['never_twice']['rows']:,} rows; previous edition "
            f"{r['history']['never_twice']['previous_edition_ms']} ms")]
          if r["history"] and "tables" in r["history"] else []),
        *([("day N+1 vs day 1", f"{r['history_check']['change']:+.1%} "
            f"(baseline {r['history_check']['baseline_run_seconds']} s)")]
          if "history_check" in r else []),
        ("STARTTLS", "on" if r["starttls"] else "off"),
        ("sink offers PIPELINING", "yes (ours: 2 round trips a message; floor's smtplib: 4)"
                                   if r["pipelining"] else "no (4 round trips a message)"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


# --- The worker curve -----------------------------------------------------------------------


def run_curve(args: argparse.Namespace, argv: list[str]) -> int:
    """One run per worker process count, each in its own process with a fresh database, so
    no run inherits another's caches, digests or sink dump."""
    base = _without_options(argv, {"--curve": 1, "--concurrency": 1, "--json-out": 1})
    rows, status = [], 0
    for count in args.curve:
        out = args.json_out.with_name(f"curve-{count}.json")
        print(f"=== curve: {count} worker processes", flush=True)
        command = [sys.executable, "-m", "bench.run", *base, "--concurrency", str(count),
                   "--json-out", str(out)]  # fmt: skip
        status |= subprocess.run(command, cwd=ROOT, check=False).returncode
        rows.append(json.loads(out.read_text()))
    print()
    print(curve_table(rows))
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps({"curve": rows}, indent=2) + "\n")
    print(f"JSON: {args.json_out}")
    return status


def _without_options(argv: list[str], options: dict[str, int]) -> list[str]:
    kept, skip = [], 0
    for word in argv:
        if skip:
            skip -= 1
        elif word in options:
            skip = options[word]
        elif word.split("=", 1)[0] not in options:
            kept.append(word)
    return kept


def curve_table(rows: list[dict]) -> str:
    kinds = list(rows[0]["cpu_ms_per_email"]) if rows else []
    header = ["workers", "wall s", "emails/s", "floor/s", "ratio", *[f"{k} ms" for k in kinds],
              "ours ms", "correct"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in rows:
        cells = [r["concurrency"], r["run_seconds"], r["emails_per_second"],
                 r["floor"]["per_second"], f"{r['ratio_to_floor']:.2f}",
                 *[r["cpu_ms_per_email"][k] for k in kinds], r["cpu_ms_per_email_ours"],
                 "yes" if r["correct"] else "NO"]  # fmt: skip
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
