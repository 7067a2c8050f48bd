"""Test-wide setup: refuse to run without real PostgreSQL and Redis, keep tasks in-process."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


def pytest_sessionstart(session: pytest.Session) -> None:
    _require_postgresql()
    _require_redis()


def _require_postgresql() -> None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit(
            "The tests run on PostgreSQL, but DATABASE_URL points at "
            f"{database['ENGINE']}. Run them with `make test`, or set DATABASE_URL=postgres://…",
            returncode=3,
        )
    import psycopg

    try:
        psycopg.connect(
            host=database["HOST"] or None,
            port=database["PORT"] or None,
            user=database["USER"] or None,
            password=database["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as error:
        pytest.exit(
            f"PostgreSQL is not reachable ({error}).\nStart it with: {START_POSTGRES}",
            returncode=3,
        )


def _require_redis() -> None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis"):
        pytest.exit(
            f"The tests need a Redis broker, but CELERY_BROKER_URL is {url!r}. "
            "Run them with `make test`.",
            returncode=3,
        )
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.exit(
            f"Redis is not reachable ({error}).\nStart it with: {START_REDIS}", returncode=3
        )


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """Enqueued tasks run at once, in the test; broker round-trips are tested on purpose."""
    from newsletter.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture(autouse=True)
def static_files_without_manifest(settings):
    """Production serves hashed static names from collectstatic's manifest; tests skip that step."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def empty_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def synonyms_of_this_test(request):
    """Each test starts with the synonyms in its own database (none without one), never with
    those a previous test left in this process."""
    from newsletter import synonyms
    from newsletter.matching import NO_SYNONYMS, synonyms_in_force

    synonyms.forget_synonyms()
    uses_database = request.node.get_closest_marker("django_db") or {
        "db",
        "transactional_db",
    } & set(request.fixturenames)
    if uses_database:
        yield
    else:
        with synonyms_in_force(NO_SYNONYMS):
            yield
    synonyms.forget_synonyms()
