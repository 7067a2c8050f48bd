"""Admin and public pages on a year of data: time and query count per page.

    DATABASE_URL=postgres://…/paperboy python -m bench.curation [--days 365]
        [--papers-per-day 700] [--subscribers 20000] [--json]

Writes into a throwaway database (bench_<name>, created and dropped here) and an in-process
cache, never the configured ones. It fills a year as Paperboy would have it after a year: a
digest per reader and day, items only for the last DIGEST_ITEM_RETENTION_DAYS
(bench/history.py, inside PostgreSQL), papers every day, ratings and follow-ups on the items
kept, two fetch runs per source and day. Each page is fetched three times with the page cache
cleared; the first fetch also builds the per-process recent-papers index where a page needs
it. Exits 1 if an admin list or the dashboard takes longer than --budget-ms (median).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
# Its own cache, cleared before every fetch: never the configured one, which may hold others'
# rate-limit counters.
os.environ["CACHE_URL"] = "locmemcache://bench-curation"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.datagen import make_subscribers, make_topics  # noqa: E402
from bench.history import fill_history, table_sizes  # noqa: E402
from newsletter.models import Digest, Subscriber  # noqa: E402
from newsletter.recommend.neighbours import similar_papers_compute  # noqa: E402
from newsletter.signing import Purpose, make_token  # noqa: E402
from papers.models import FetchRun, Paper  # noqa: E402

RUNS = 3

# A 👍 or 👎 on one item in 40 of those kept, an hour after the email.
RATINGS_SQL = """
INSERT INTO newsletter_rating (subscriber_id, paper_id, vote, rated_at)
SELECT i.subscriber_id, i.paper_id, CASE WHEN i.paper_id % 3 = 0 THEN -1 ELSE 1 END,
       g.sent_at + interval '1 hour'
FROM newsletter_digestitem AS i JOIN newsletter_digest AS g ON g.id = i.digest_id
WHERE (i.subscriber_id + i.paper_id) % 40 = 0
"""

# News of one item in 50 (its code released), told in the reader's digest three days later.
FOLLOWUPS_SQL = """
INSERT INTO newsletter_followup (digest_id, subscriber_id, paper_id, kind, position, detail)
SELECT later.id, i.subscriber_id, i.paper_id, 'code', 1,
       '{"code_url": "https://github.com/example/repo"}'
FROM newsletter_digestitem AS i
JOIN newsletter_digest AS g ON g.id = i.digest_id
JOIN newsletter_digest AS later
  ON later.subscriber_id = i.subscriber_id AND later.edition_on = g.edition_on + 3
WHERE (i.subscriber_id * 3 + i.paper_id) % 50 = 0
"""

# Each source twice a day: a first try while the listing is not out, then the fetch.
FETCH_RUNS_SQL = """
INSERT INTO papers_fetchrun (source_id, origin, announced_on, status, started_at, finished_at,
    entries_read, created_count, updated_count, unchanged_count, rejected_count, skipped_count,
    attempts, listed_count, stored_count, error)
SELECT s.id, 'https://export.arxiv.org/' || s.name, d::date, t.status,
       d + t.hour, d + t.hour + interval '40 seconds', t.n, t.n, 0, 0, 0, 0, 1,
       NULLIF(t.n, 0), NULLIF(t.n, 0), ''
FROM generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 day') AS d
CROSS JOIN papers_source AS s
CROSS JOIN (VALUES ('waiting', interval '1 hour', 0),
                   ('succeeded', interval '2 hours', %(per_day)s)) AS t(status, hour, n)
"""


def populate(*, days: int, papers_per_day: int, subscribers: int, rng: random.Random) -> dict:
    today = timezone.localdate()
    topics = make_topics(count=50, rng=rng)
    make_subscribers(count=subscribers, topics=topics, distinct_own_queries=500, rng=rng)
    print(f"subscribers: {subscribers}", flush=True)
    history = fill_history(
        days=days, day=today, papers_per_day=papers_per_day, end_gap_days=-1, seed=7
    )
    print(f"history: {history}", flush=True)
    started = time.perf_counter()
    Paper.objects.filter(pk__in=Paper.objects.order_by("?").values("pk")[:200]).update(
        is_featured=True
    )
    first = today - dt.timedelta(days=days - 1)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(RATINGS_SQL)
        cursor.execute(FOLLOWUPS_SQL)
        cursor.execute(
            FETCH_RUNS_SQL,
            {"first": f"{first}T00:00Z", "last": f"{today}T00:00Z", "per_day": papers_per_day},
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done by now
    print(f"ratings, follow-ups, fetch runs, vacuum: {time.perf_counter() - started:.0f} s")
    similar = similar_papers_measure()
    return {"history": history, "tables": table_sizes(), "similar_papers": similar}


def similar_papers_measure() -> dict[str, float]:
    """The post-fetch task's work: every recent paper's "more like this" list, stored."""
    started_cpu = time.process_time()
    report = similar_papers_compute()
    cpu_s = time.process_time() - started_cpu
    result = {
        "papers": report.papers,
        "s": round(report.seconds, 1),
        "cpu_s": round(cpu_s, 1),
        "papers_per_s": round(report.papers_per_second),
    }
    print(f"similar papers: {result}", flush=True)
    return result


def measure(client: Client, url: str) -> dict[str, object]:
    timings, cpu, queries = [], [], 0
    for _ in range(RUNS):
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured.captured_queries)
    slowest = max(captured.captured_queries, key=lambda q: float(q["time"]), default=None)
    return {
        "url": url,
        "first_ms": round(timings[0] * 1000),
        "ms": round(statistics.median(timings) * 1000),
        "cpu_ms": round(statistics.median(cpu) * 1000),
        "db_ms": round(1000 * sum(float(q["time"]) for q in captured.captured_queries)),
        "queries": queries,
        "slowest_query_ms": round(1000 * float(slowest["time"])) if slowest else 0,
        "slowest_query": slowest["sql"][:300] if slowest else "",
    }


def pages() -> list[tuple[str, str]]:
    """(kind, URL): "admin" pages are held to the budget; "page" are the public ones."""
    paper = Paper.objects.order_by("-announced_on", "arxiv_id").first()
    subscriber = Subscriber.objects.order_by("pk").first()
    digest = Digest.objects.filter(subscriber=subscriber).order_by("-edition_on").first()
    run = FetchRun.objects.order_by("-started_at").first()
    today = timezone.localdate()
    week_ago = today - dt.timedelta(days=7)
    tomorrow = today + dt.timedelta(days=1)
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=subscriber.email)
    return [
        ("admin", "/admin/"),
        ("admin", "/admin/papers/paper/"),
        ("admin", "/admin/papers/paper/?q=diffusion"),
        ("admin", f"/admin/papers/paper/?q={paper.arxiv_id}"),
        (
            "admin",
            f"/admin/papers/paper/?announced_on__year={today.year}"
            f"&announced_on__month={today.month}&announced_on__day={today.day}"
            "&has_code=yes",
        ),  # fmt: skip
        ("admin", "/admin/papers/paper/?is_featured__exact=1"),
        ("admin", f"/admin/papers/paper/{paper.pk}/change/"),
        ("admin", "/admin/newsletter/topic/"),
        ("admin", "/admin/newsletter/topic/1/change/"),
        ("admin", "/admin/newsletter/subscriber/"),
        ("admin", "/admin/newsletter/subscriber/?q=reader42"),
        ("admin", "/admin/newsletter/subscriber/?status__exact=active&frequency__exact=weekly"),
        ("admin", "/admin/newsletter/subscriber/?topics__id__exact=1"),
        ("admin", f"/admin/newsletter/subscriber/{subscriber.pk}/change/"),
        ("admin", "/admin/newsletter/digest/"),
        ("admin", "/admin/newsletter/digest/?status__exact=failed"),
        (
            "admin",
            f"/admin/newsletter/digest/?edition_on__gte={week_ago}&edition_on__lt={tomorrow}",
        ),  # fmt: skip
        ("admin", "/admin/newsletter/digest/?q=reader42%40bench.invalid"),
        ("admin", f"/admin/newsletter/digest/?q={digest.message_id}"),
        ("admin", f"/admin/newsletter/digest/{digest.pk}/change/"),
        ("admin", "/admin/newsletter/followup/"),
        ("admin", "/admin/newsletter/followup/?q=reader42%40bench.invalid"),
        ("admin", "/admin/papers/fetchrun/"),
        ("admin", "/admin/papers/fetchrun/?status__exact=succeeded"),
        ("admin", f"/admin/papers/fetchrun/{run.pk}/change/"),
        ("admin", "/admin/papers/source/"),
        ("admin", "/admin/papers/papersummary/"),
        ("page", "/papers/"),
        ("page", "/papers/?page=20"),
        ("page", f"/papers/{paper.announced_on}/"),
        ("page", "/topics/"),
        ("page", "/topics/diffusion-models/"),
        ("page", "/topics/diffusion-models/rss/"),
        ("page", "/topics/diffusion-models/atom/"),
        ("page", f"/digest/{token}/"),
        ("page", f"/papers/{paper.pk}/like-this/"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--papers-per-day", type=int, default=700)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--budget-ms", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep-database", action="store_true", help="for --reuse next time")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the kept database again (after migrate)"
    )
    args = parser.parse_args()

    settings.ALLOWED_HOSTS.append("testserver")
    # No collectstatic here: plain static URLs, as in the tests.
    settings.STORAGES["staticfiles"]["BACKEND"] = (
        "django.contrib.staticfiles.storage.StaticFilesStorage"
    )
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"bench_{os.path.basename(str(database['NAME']))}"
    original = database["NAME"]
    started = time.perf_counter()
    if args.reuse:
        connection.close()
        database["NAME"] = database["TEST"]["NAME"]
        call_command("migrate", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        filled = {"tables": table_sizes()}
    else:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        if not args.reuse:
            filled = populate(
                days=args.days,
                papers_per_day=args.papers_per_day,
                subscribers=args.subscribers,
                rng=random.Random(7),
            )
        fill_s = time.perf_counter() - started
        admin, _ = User.objects.get_or_create(username="bench", is_staff=True, is_superuser=True)
        client = Client()
        client.force_login(admin)
        results = [{"kind": kind, **measure(client, url)} for kind, url in pages()]
        cached = Client()
        cached.get("/papers/")
        started = time.perf_counter()
        for _ in range(100):
            cached.get("/papers/")
        cached_ms = (time.perf_counter() - started) * 10
    finally:
        if args.keep_database or args.reuse:
            connection.close()
        else:
            connection.creation.destroy_test_db(original, verbosity=0)
    over = [r for r in results if r["kind"] == "admin" and r["ms"] > args.budget_ms]
    if args.json:
        print(json.dumps({"filled": filled, "pages": results, "cached_papers_page_ms": cached_ms}))
        return 1 if over else 0
    tables = ", ".join(
        f"{name} {t['rows']:,} rows {t['bytes'] / 2**20:,.0f} MB"
        for name, t in sorted(filled["tables"].items())
    )
    print(
        f"\n{args.days} days, {args.papers_per_day} papers a day, {args.subscribers} readers "
        f"(filled in {fill_s:.0f} s): {tables}\npage cache cleared each time; first fetch, "
        f"median of {RUNS}, queries, slowest query:"
    )
    print("| page | first ms | ms | Django CPU ms | SQL ms | queries | slowest query ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| `{r['url'][:90]}` | {r['first_ms']} | {r['ms']} | {r['cpu_ms']} | {r['db_ms']} "
            f"| {r['queries']} | {r['slowest_query_ms']} |"
        )
    print(f"| `/papers/` from the page cache | | {cached_ms:.2f} | | | 0 | |")
    for r in over:
        print(f"OVER {args.budget_ms} ms: {r['url']} {r['ms']} ms; slowest: {r['slowest_query']}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
