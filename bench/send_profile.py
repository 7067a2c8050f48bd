"""The send step alone, on a database a bench run kept: the day's sent digests are sent again,
batch by batch, to Postfix's smtp-sink, as a worker sends them (claim, load, render ahead,
SMTP, "sent" marks). CPU of this process and of its PostgreSQL backend, and queries, per
email; optionally a cProfile.

    make bench BENCH_ARGS="--subscribers 10000 --sink smtp-sink --keep-database"
    DATABASE_URL=postgres://…/paperboy_bench python -m bench.send_profile [--profile out.prof]

Celery is left out: what is measured is digests_send, the task's one call. The first batch
warms the per-process caches (cards, skeletons) and is not counted. The profile covers the
sending thread only (the render-ahead thread is bench.send_cost's subject).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import django

from bench import postfix_sink
from bench.build_profile import backend_cpu
from bench.run import free_port


def counting_sink(prefix: str) -> tuple[subprocess.Popen, Path]:
    """smtp-sink on a free port, counting (not dumping) into a fresh folder, and this
    process's EMAIL_URL pointed at it: call before django.setup()."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    sink = postfix_sink.start(port=port, folder=folder, dump=False, pipelining=True)
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
    return sink, folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 3, 23))
    parser.add_argument("--profile", type=Path, help="write a cProfile of the counted batches")
    parser.add_argument("--emails", type=int, default=4000, help="send at most this many")
    args = parser.parse_args(argv)
    sink, folder = counting_sink("send-profile-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    django.setup()
    from django.conf import settings
    from django.db import connection

    from newsletter.digests.delivery import digests_send
    from newsletter.digests.editions import chunked
    from newsletter.models import Digest

    try:
        time.sleep(0.3)  # the sink's listening socket
        sent = Digest.objects.filter(edition_on=args.day, status=Digest.Status.SENT)
        ids = list(sent.order_by("pk").values_list("pk", flat=True)[: args.emails])
        if not ids:
            raise SystemExit(f"no digests sent on {args.day}: run the bench with --keep-database")
        sent.filter(pk__in=ids).update(
            status=Digest.Status.PENDING, sent_at=None, lease_expires_at=None, claimed_by=""
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend,) = cursor.fetchone()
        queries = {"count": 0}

        def count(execute, sql, params, many, context):
            queries["count"] += 1
            return execute(sql, params, many, context)

        profiler = cProfile.Profile() if args.profile else None
        emails = worker = database = 0.0
        n_queries = 0
        for position, batch in enumerate(chunked(ids, settings.DIGEST_BATCH_SIZE)):
            counted = position > 0
            q0, c0, b0 = queries["count"], time.process_time(), backend_cpu(backend)
            if counted and profiler:
                profiler.enable()
            with connection.execute_wrapper(count):
                report = digests_send(digest_ids=batch, token=f"send-profile-{position}")
            if counted and profiler:
                profiler.disable()
            if counted:
                worker += time.process_time() - c0
                database += backend_cpu(backend) - b0
                n_queries += queries["count"] - q0
                emails += report.sent
        if not emails:
            raise SystemExit("one batch only: nothing counted (pass more --emails)")
        print(
            f"{int(emails)} emails sent again ({settings.DIGEST_BATCH_SIZE} a batch, the first"
            f" not counted): worker CPU {1000 * worker / emails:.3f} ms/email, its PostgreSQL"
            f" backend {1000 * database / emails:.3f} ms/email,"
            f" {1000 * n_queries / emails:.1f} queries per 1,000 emails;"
            f" sink counted {postfix_sink.messages_counted(folder)}"
        )
        if profiler and args.profile:
            profiler.dump_stats(args.profile)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
