"""The benchmark's Celery app: Paperboy's own, plus a per-process count of database queries.

`celery -A bench.worker worker` runs exactly the production tasks; after each task a worker
process writes its running query count to $BENCH_QUERY_DIR/<pid>.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from celery.signals import task_postrun, worker_process_init

from newsletter.celery import app as celery_app

__all__ = ["celery_app"]

_queries = {"count": 0}


def _count(execute, sql, params, many, context):
    _queries["count"] += 1
    return execute(sql, params, many, context)


@worker_process_init.connect
def _install_counter(**kwargs) -> None:
    from django.db import connection

    connection.execute_wrappers.append(_count)


@task_postrun.connect
def _write_count(**kwargs) -> None:
    folder = os.environ.get("BENCH_QUERY_DIR")
    if folder:
        path = Path(folder) / f"{os.getpid()}.json"
        path.write_text(json.dumps({"queries": _queries["count"]}))
