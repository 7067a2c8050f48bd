"""Test-wide setup: refuse to run without real PostgreSQL and Redis, keep tasks in-process,
pin the clock, and make Hypothesis repeatable."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import redis
import time_machine
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from tests.clock import NOW

# Repeatable by default: examples derived from each test (no random seed, no example
# database), with a deadline far above a normal example (milliseconds) yet low enough to
# catch a blow-up; on a loaded 2-core box the default 200 ms failed healthy examples.
# HYPOTHESIS_PROFILE=explore searches afresh, with more examples.
hypothesis_settings.register_profile(
    "paperboy", derandomize=True, database=None, deadline=dt.timedelta(seconds=2)
)
hypothesis_settings.register_profile(
    "explore", max_examples=1000, deadline=dt.timedelta(seconds=2), print_blob=True
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "paperboy"))

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


def require_program(found: bool, *, what: str, package: str) -> None:
    """A feature's test needs this program: without it the test fails, never skips, so a
    machine that lacks it cannot go green (.ci/run installs both)."""
    if not found:
        pytest.fail(
            f"{what} is not installed, and its tests do not skip: "
            f"apt-get install {package} (.ci/run does)",
            pytrace=False,
        )


@pytest.fixture
def chromium() -> Path:
    """Debian's headless Chromium, which the browser tests drive."""
    from bench.chromium import CHROMIUM

    require_program(CHROMIUM.exists(), what=f"Chromium ({CHROMIUM})", package="chromium")
    return CHROMIUM


@pytest.fixture
def spamassassin() -> None:
    """SpamAssassin, which scores the sample digest."""
    from bench.spamcheck import spamassassin_installed

    require_program(spamassassin_installed(), what="SpamAssassin", package="spamassassin")


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
def fresh_caches():
    """Every test starts from an empty cache and rebuilds the per-process paper index from its
    own database (and leaves none behind for the next)."""
    from django.core.cache import cache

    from newsletter.paper_index import forget_paper_indexes

    cache.clear()
    forget_paper_indexes()
    yield
    forget_paper_indexes()


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


@pytest.fixture(autouse=True)
def pinned_clock(request):
    """Every test starts at clock.NOW and time runs on from there, so no date depends on the
    day or hour the suite runs (UTC midnight mid-test, a Monday, a month's end). Tests that
    start real processes (workers, the sink, commands) cannot share a pinned clock with them:
    they are marked `real_clock` and take their dates from the real one."""
    if request.node.get_closest_marker("real_clock"):
        yield None
        return
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def frozen_clock():
    """The clock stopped at clock.NOW: for fixed rate-limit windows and timestamped tokens
    compared to the second."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
