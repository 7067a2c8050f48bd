"""A worker keeps its database connection from one task to the next, as a web process does
between requests, and drops it when it broke or grew too old (newsletter/celery.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.db import connection

from newsletter.celery import _close_old_connections


def a_task(*, eager: bool) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


@pytest.mark.django_db(transaction=True)
def test_a_worker_task_keeps_a_healthy_connection_for_the_next_one():
    connection.ensure_connection()
    before = connection.connection

    _close_old_connections(task=a_task(eager=False))

    assert connection.connection is before


@pytest.mark.django_db(transaction=True)
def test_a_connection_older_than_its_max_age_is_dropped_before_the_next_task():
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1

    _close_old_connections(task=a_task(eager=False))

    assert connection.connection is None


@pytest.mark.django_db
def test_an_eager_task_never_closes_the_callers_connection_inside_its_transaction():
    connection.ensure_connection()
    before = connection.connection

    _close_old_connections(task=a_task(eager=True))

    assert connection.in_atomic_block
    assert connection.connection is before
