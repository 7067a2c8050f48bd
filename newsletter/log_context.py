"""Tags every log line with the Celery task or management command that emitted it."""

from __future__ import annotations

import logging
import sys

from celery import current_task


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = _current_context()
        return True


def _current_context() -> str:
    task = current_task
    if task and task.request and task.request.id:
        return f"task:{task.name}"
    argv = sys.argv
    if len(argv) > 1 and argv[0].endswith("manage.py"):
        return f"command:{argv[1]}"
    return "web"
