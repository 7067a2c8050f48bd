"""The dashboard on a kept bench database, cold and warm: wall, SQL ms and queries.

    DATABASE_URL=postgres://…/paperboy python -m bench.curation --days 14 --subscribers 100000 \\
        --papers-per-day 100 --keep-database
    DATABASE_URL=postgres://…/paperboy python -m bench.dashboard [--runs 5]

Cold: every cache cleared. Warm: only the page's 60-second cache gone, as each minute in the
morning; the days that are over are still cached. Also times the 14 days' digest counts live,
as the dashboard read them before.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
os.environ["CACHE_URL"] = "locmemcache://bench-dashboard"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone, translation  # noqa: E402

from newsletter import dashboard  # noqa: E402


def timed(build, before) -> tuple[float, float, int]:
    before()
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        build()
        wall = time.perf_counter() - started
    sql = sum(float(q["time"]) for q in captured.captured_queries)
    return wall * 1000, sql * 1000, len(captured.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    database = settings.DATABASES["default"]
    database["NAME"] = f"bench_{os.path.basename(str(database['NAME']))}"
    translation.activate("en")
    today = timezone.localdate()
    first = today - dt.timedelta(days=dashboard.TABLE_DAYS - 1)
    page_key = f"admin:dashboard:{today.isoformat()}:en"
    cases = {
        "cold (caches empty)": (dashboard.morning_dashboard, cache.clear),
        "warm (days over cached)": (dashboard.morning_dashboard, lambda: cache.delete(page_key)),
        "14 days' digest counts live (before)": (
            lambda: dashboard._count_digests(first, today),
            lambda: None,
        ),
    }
    dashboard.morning_dashboard()  # connection and plans warm
    for name, (build, before) in cases.items():
        runs = [timed(build, before) for _ in range(args.runs)]
        wall = statistics.median(r[0] for r in runs)
        sql = statistics.median(r[1] for r in runs)
        print(f"{name}: wall {wall:.0f} ms, SQL {sql:.0f} ms, {runs[-1][2]} queries")


if __name__ == "__main__":
    main()
