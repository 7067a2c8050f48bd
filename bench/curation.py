"""Admin and public pages at scale: time and query count per page over a large catalogue.

    DATABASE_URL=postgres://…/paperboy python -m bench.curation [--papers 100000]
        [--subscribers 20000] [--digest-days 10] [--json]

Writes into a throwaway database (bench_<name>, created and dropped here), never the
configured one. Each page is fetched three times with the page cache cleared: the first
fetch also builds the per-process recent-papers index where a page needs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.datagen import make_papers, make_subscribers, make_topics  # noqa: E402
from newsletter.models import Digest, Subscriber  # noqa: E402
from papers.models import Paper  # noqa: E402

RUNS = 3


def populate(*, papers: int, subscribers: int, digest_days: int, rng: random.Random) -> None:
    today = timezone.localdate()
    per_day = 1500
    days = -(-papers // per_day)
    numbers: dict[str, int] = {}
    for offset in range(days):
        day = today - dt.timedelta(days=offset)
        count = min(per_day, papers - offset * per_day)
        month = f"{day:%y%m}"
        first = numbers.get(month, 0)
        numbers[month] = first + count
        Paper.objects.bulk_create(
            make_papers(count=count, day=day, rng=rng, first_number=first), batch_size=2000
        )
        print(f"\rpapers: {min((offset + 1) * per_day, papers)}/{papers}", end="", flush=True)
    print()
    Paper.objects.filter(pk__in=Paper.objects.order_by("?").values("pk")[:200]).update(
        is_featured=True
    )
    topics = make_topics(count=50, rng=rng)
    make_subscribers(count=subscribers, topics=topics, distinct_own_queries=500, rng=rng)
    print(f"subscribers: {subscribers}")
    ids = list(Subscriber.objects.values_list("pk", flat=True))
    for offset in range(digest_days):
        edition = today - dt.timedelta(days=offset)
        Digest.objects.bulk_create(
            [
                Digest(
                    subscriber_id=pk,
                    edition_on=edition,
                    covers_from=edition,
                    covers_to=edition,
                    status=rng.choices(["sent", "skipped_empty", "failed"], [90, 9, 1])[0],
                    paper_count=10,
                    message_id=f"<digest.{edition:%Y%m%d}.{pk}@bench.invalid>",
                    sent_at=timezone.now(),
                )
                for pk in ids
            ],
            batch_size=5000,
        )
    print(f"digests: {len(ids) * digest_days}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(client: Client, url: str) -> dict[str, object]:
    timings, queries = [], 0
    for _ in range(RUNS):
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured.captured_queries)
    return {
        "url": url,
        "first_ms": round(timings[0] * 1000),
        "ms": round(statistics.median(timings) * 1000),
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--digest-days", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    settings.ALLOWED_HOSTS.append("testserver")
    # No collectstatic here: plain static URLs, as in the tests.
    settings.STORAGES["staticfiles"]["BACKEND"] = (
        "django.contrib.staticfiles.storage.StaticFilesStorage"
    )
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"bench_{os.path.basename(str(database['NAME']))}"
    original = database["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        populate(
            papers=args.papers,
            subscribers=args.subscribers,
            digest_days=args.digest_days,
            rng=random.Random(7),
        )
        admin = User.objects.create_superuser("bench", "bench@bench.invalid", "x")
        client = Client()
        client.force_login(admin)
        paper = Paper.objects.order_by("-announced_on").first()
        subscriber = Subscriber.objects.order_by("pk").first()
        today = timezone.localdate()
        urls = [
            "/admin/",
            "/admin/papers/paper/",
            "/admin/papers/paper/?q=diffusion",
            f"/admin/papers/paper/?q={paper.arxiv_id}",
            f"/admin/papers/paper/?announced_on__year={today.year}"
            f"&announced_on__month={today.month}&announced_on__day={today.day}&has_code=yes",
            "/admin/newsletter/topic/",
            "/admin/newsletter/topic/1/change/",
            "/admin/newsletter/subscriber/",
            "/admin/newsletter/subscriber/?q=reader42",
            f"/admin/newsletter/subscriber/{subscriber.pk}/change/",
            "/admin/newsletter/digest/",
            "/papers/",
            "/papers/?page=20",
            "/topics/diffusion-models/",
            "/topics/diffusion-models/rss/",
        ]
        results = [measure(client, url) for url in urls]
        cached = Client()
        cached.get("/papers/")
        started = time.perf_counter()
        for _ in range(100):
            cached.get("/papers/")
        cached_ms = (time.perf_counter() - started) * 10
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
    if args.json:
        print(json.dumps({"pages": results, "cached_papers_page_ms": round(cached_ms, 2)}))
        return
    print(
        f"{args.papers} papers, {args.subscribers} subscribers, "
        f"{args.subscribers * args.digest_days} digests; page cache cleared each time; "
        f"first fetch and median of {RUNS}:"
    )
    for result in results:
        print(
            f"  {result['first_ms']:>6} ms {result['ms']:>6} ms  {result['queries']:>3} queries"
            f"  {result['url']}"
        )
    print(f"  {cached_ms:>6.2f} ms    0 queries  /papers/ from the page cache")


if __name__ == "__main__":
    main()
