"""Every reader's planned digest for a day, written down or compared with a saved copy: the
check that a change to ranking or scoring leaves the digests as they were.

    DATABASE_URL=postgres://…/paperboy_bench python -m bench.digest_plans --out before.json
    (change the code)
    DATABASE_URL=postgres://…/paperboy_bench python -m bench.digest_plans --compare before.json

On a database a bench run kept (`--keep-database`). The day's saved digests are deleted inside
a transaction that is rolled back, so each reader is planned as on the morning of the run
(nothing of the day counts as sent before) and the database is left as it was. A plan is its
papers in order, each with its rank, whether it is in the email and its reasons (the
"Recommended for you" label and its "like <paper>" line included), and its follow-ups.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

import django


def plan_record(plan) -> dict[str, object]:
    return {
        "covers": [plan.covers_from.isoformat(), plan.covers_to.isoformat()],
        "matched": plan.matched_count,
        "items": [[item.paper_id, item.rank, item.in_email, item.reasons] for item in plan.items],
        "followups": [repr(followup) for followup in plan.followups],
    }


def day_plans(day: date) -> dict[str, dict[str, object]]:
    from django.conf import settings
    from django.db import transaction

    from newsletter.digests.building import unsaved_plans
    from newsletter.digests.editions import active_subscriber_ids, chunked
    from newsletter.models import Digest

    plans: dict[str, dict[str, object]] = {}
    with transaction.atomic():
        Digest.objects.filter(edition_on=day).delete()
        ids = list(active_subscriber_ids(edition_on=day))
        for batch in chunked(ids, settings.DIGEST_BATCH_SIZE):
            for plan in unsaved_plans(subscriber_ids=batch, edition_on=day):
                plans[str(plan.subscriber.pk)] = plan_record(plan)
        transaction.set_rollback(True)
    return plans


def differences(before: dict, after: dict) -> list[str]:
    found = [f"reader {sid}: only before" for sid in before.keys() - after.keys()]
    found += [f"reader {sid}: only after" for sid in after.keys() - before.keys()]
    for sid in sorted(before.keys() & after.keys(), key=int):
        for part in ("covers", "matched", "items", "followups"):
            if before[sid][part] != after[sid][part]:
                found.append(f"reader {sid}: {part} differ")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 3, 23))
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", type=Path, help="write the day's plans here")
    what.add_argument("--compare", type=Path, help="compare the day's plans with these")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    django.setup()
    # Through JSON both ways, so tuples and lists (and reasons' values) compare alike.
    plans = json.loads(json.dumps(day_plans(args.day)))
    if args.out:
        args.out.write_text(json.dumps(plans))
        print(f"{len(plans)} readers' plans written to {args.out}")
        return 0
    saved = json.loads(args.compare.read_text())
    found = differences(saved, plans)
    personal = sum(
        1
        for plan in plans.values()
        if any(reasons[0].get("kind") == "recommended" for *_, reasons in plan["items"] if reasons)
    )
    print(
        f"{len(plans)} readers planned ({personal} with recommendations); "
        f"{len(found)} differences from {args.compare}"
    )
    for line in found[:20]:
        print(" ", line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
