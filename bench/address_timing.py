"""Does the response time of sign-up or "email me a link" tell whether an address is known?

    DATABASE_URL=… CELERY_BROKER_URL=… CACHE_URL=… SECRET_KEY=… EMAIL_URL=memorymail:// \\
        .venv/bin/python -m bench.address_timing [--requests 300]

Creates a throwaway database (<DATABASE_URL's name>_timing), posts each form for a new and
for an active address in random order through Django's test client, tasks published to the
real broker (and dropped there), and prints the median time of each and, of every pair of a
new and an active request, how often the new one was faster (50 % means the time tells
nothing). Not a test: timings vary.
"""

from __future__ import annotations

import argparse
import bisect
import os
import random
import statistics
import sys
import time

import django


def measure(client, *, path: str, data_for, addresses: dict[str, str], requests: int) -> dict:
    from django.core.cache import cache

    from newsletter.celery import app

    broker = app.connection_for_write()
    order = [kind for kind in addresses for _ in range(requests)]
    random.Random(16).shuffle(order)
    times: dict[str, list[float]] = {kind: [] for kind in addresses}
    for n, kind in enumerate(order):
        cache.clear()  # the per-IP and per-address limits would refuse the rest
        started = time.perf_counter()
        email = addresses[kind].format(n=n)  # a new address is new every time
        response = client.post(path, data_for(email), REMOTE_ADDR=f"198.51.100.{n % 250}")
        times[kind].append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        if n % 50 == 0:
            broker.default_channel.client.delete(app.conf.task_default_queue)
            print(f"  {path} {n}/{len(order)}", file=sys.stderr)
    broker.default_channel.client.delete(app.conf.task_default_queue)
    new, known = times["new"], sorted(times["active"])
    # Of every (new, active) pair of requests, the share where the active one was slower.
    slower = sum(len(known) - bisect.bisect_right(known, t) for t in new)
    faster = slower / (len(new) * len(known))
    return {
        "median_new_ms": statistics.median(new) * 1000,
        "median_active_ms": statistics.median(known) * 1000,
        "new_faster_share": faster,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per kind of address")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from newsletter.celery import app
    from newsletter.models import Subscriber
    from tests.newsletter.subscription_helpers import signup_data

    setup_test_environment()
    # As in the tests: plain static names, no collectstatic manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['NAME']}_timing"
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    app.conf.task_always_eager = False
    try:
        Subscriber.objects.create(
            email="active@example.com",
            status=Subscriber.Status.ACTIVE,
            confirmed_at=timezone.now(),
            own_query="diffusion",
        )
        client = Client()
        client.get("/")  # warm: templates, synonyms
        addresses = {"new": "nobody{n}@example.com", "active": "active@example.com"}
        rows = {
            "sign-up": measure(
                client,
                path="/",
                data_for=lambda email: signup_data(email=email),
                addresses=addresses,
                requests=args.requests,
            ),
            "email me a link": measure(
                client,
                path="/manage/link/",
                data_for=lambda email: {"email": email, "website": ""},
                addresses=addresses,
                requests=args.requests,
            ),
        }
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
    print(f"{'form':<16} {'new (ms)':>9} {'active (ms)':>12} {'new faster':>11}")
    for form, row in rows.items():
        print(
            f"{form:<16} {row['median_new_ms']:>9.2f} {row['median_active_ms']:>12.2f} "
            f"{row['new_faster_share']:>10.0%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
