"""The Celery app: configured from Django settings (CELERY_*), tasks autodiscovered."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

from newsletter import worker_memory

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")

app = Celery("paperboy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task=None, **kwargs) -> None:
    """What Django does around a request: drop a connection that broke (a restarted
    database) or outlived DB_CONN_MAX_AGE, keep a good one (CELERY_DB_REUSE_MAX). Not for
    eager tasks, which run inside the caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def _tune_allocator(**kwargs) -> None:
    worker_memory.allocator_tune()


@task_postrun.connect
def _release_freed_memory(task=None, **kwargs) -> None:
    """A batch's temporaries are freed when its task ends: their pages go back to the
    system, so a worker's resident size follows what it holds, not its busiest task."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    worker_memory.freed_memory_release()
