"""The dashboard on a kept bench database, cold and warm: wall, SQL ms and queries.

    DATABASE_URL=postgres://…/paperboy python -m bench.curation --days 14 --subscribers 100000 \\
        --papers-per-day 100 --keep-database
    DATABASE_URL=postgres://…/paperboy python -m bench.dashboard [--runs 5] [--database NAME]

Cold: every cache cleared, as the first view after the page's cache expires or a restart; the
days before yesterday are still in their stored DayCount rows. Warm: only the page's
60-second cache gone. Also times the first view of a new install (no stored days: they are
counted once), the scheduled recount of those days, and the 14 days' digest counts live, as
the dashboard read them before. `--database` measures another kept database (a `bench.run
--history-days 365 --keep-database` one: a year of digests, with `--today 2026-03-24`, the day
after its benched day); migrations are applied first.
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
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone, translation  # noqa: E402

from newsletter import dashboard  # noqa: E402
from newsletter.day_counts import day_counts_refresh, digests_per_day  # noqa: E402
from newsletter.models import DayCount  # noqa: E402


def timed(build, before) -> tuple[float, float, list[dict]]:
    before()
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        build()
        wall = time.perf_counter() - started
    sql = sum(float(q["time"]) for q in captured.captured_queries)
    return wall * 1000, sql * 1000, captured.captured_queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", action="store_true", help="each query's ms, slowest first")
    parser.add_argument("--database", help="a kept database's name (default: bench_<name>)")
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, help="the dashboard's day (default: today)"
    )
    args = parser.parse_args()
    database = settings.DATABASES["default"]
    database["NAME"] = args.database or f"bench_{os.path.basename(str(database['NAME']))}"
    call_command("migrate", verbosity=0)
    translation.activate("en")
    today = args.today or timezone.localdate()
    first = today - dt.timedelta(days=dashboard.TABLE_DAYS - 1)
    page_key = f"admin:dashboard:{today.isoformat()}:en"

    def view() -> None:
        dashboard.morning_dashboard(today=today)

    def new_install() -> None:
        cache.clear()
        DayCount.objects.all().delete()

    cases = {
        "cold (caches empty, older days stored)": (view, cache.clear),
        "warm (page cache gone)": (view, lambda: cache.delete(page_key)),
        "first view of a new install (no stored days)": (view, new_install),
        "the scheduled recount of the older days": (
            lambda: day_counts_refresh(today=today),
            lambda: None,
        ),
        "14 days' digest counts live (before)": (
            lambda: digests_per_day(first, today),
            lambda: None,
        ),
    }
    view()  # connection and plans warm
    for name, (build, before) in cases.items():
        runs = [timed(build, before) for _ in range(args.runs)]
        wall = statistics.median(r[0] for r in runs)
        sql = statistics.median(r[1] for r in runs)
        print(f"{name}: wall {wall:.0f} ms, SQL {sql:.0f} ms, {len(runs[-1][2])} queries")
        if args.queries:
            for query in sorted(runs[-1][2], key=lambda q: -float(q["time"])):
                print(f"    {1000 * float(query['time']):7.1f} ms  {query['sql'][:150]}")


if __name__ == "__main__":
    main()
