"""The benchmark's Celery app: Paperboy's own, plus per-process counters of its costs.

`celery -A bench.worker worker` runs exactly the production tasks; after each task a worker
process writes to $BENCH_QUERY_DIR/<pid>.json its running query count, the CPU seconds its
build step took (process time around digests_build: the render thread runs only while
sending), and the CPU seconds of each PostgreSQL backend it used, read from /proc while the
backend still lives (Celery may close the connection before the next task, and a backend's
own times die with it; the server-wide figure also counts other databases' work).
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

from celery.signals import task_postrun, worker_process_init

from newsletter.celery import app as celery_app

__all__ = ["celery_app"]

_counts: dict[str, object] = {
    "queries": 0,
    "build_cpu_s": 0.0,
    "build_backend_cpu_s": 0.0,
    "built_readers": 0,
}
_backends: dict[int, float] = {}  # backend pid -> its CPU seconds when last seen


def _count(execute, sql, params, many, context):
    _counts["queries"] += 1
    return execute(sql, params, many, context)


def _timed_build(build):
    @functools.wraps(build)
    def timed(*, subscriber_ids, **kwargs):
        from django.db import connection

        connection.ensure_connection()
        backend = connection.connection.info.backend_pid
        started, backend_started = time.process_time(), _cpu_seconds(backend)
        try:
            return build(subscriber_ids=subscriber_ids, **kwargs)
        finally:
            _counts["build_cpu_s"] += time.process_time() - started
            _counts["build_backend_cpu_s"] += _cpu_seconds(backend) - backend_started
            _counts["built_readers"] += len(subscriber_ids)

    return timed


@worker_process_init.connect
def _install_counter(**kwargs) -> None:
    from django.db import connection

    from newsletter.digests import delivery

    connection.execute_wrappers.append(_count)
    delivery.digests_build = _timed_build(delivery.digests_build)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_cpu_seconds() -> None:
    from django.db import connection

    if connection.connection is not None:
        pid = connection.connection.info.backend_pid
        _backends[pid] = _cpu_seconds(pid)


@task_postrun.connect
def _write_count(**kwargs) -> None:
    folder = os.environ.get("BENCH_QUERY_DIR")
    if folder:
        _backend_cpu_seconds()
        path = Path(folder) / f"{os.getpid()}.json"
        path.write_text(
            json.dumps(
                {**_counts, "backend_cpu_s": sum(_backends.values()), "backends": len(_backends)}
            )
        )
