"""Store papers, load them back the way a digest run does, and match filters over them: run
in the test on PostgreSQL, and as `python -m tests.newsletter.matching_across_databases` on a
SQLite file, which answers one JSON request per line on stdin (migrated once at start)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

DAY = dt.date(2025, 3, 25)


def store_and_match(papers: list[dict], filters: list[dict]) -> list[list[str]]:
    """Replace every paper with `papers`, then for each filter (query, categories, authors)
    the sorted arXiv ids it matches, read through the digest's per-run index."""
    from newsletter.paper_index import PaperWindow
    from newsletter.selectors import subscription_paper_ids
    from papers.models import Paper

    Paper.objects.all().delete()
    Paper.objects.bulk_create(
        Paper(
            arxiv_id=f"2503.{number:05d}",
            title=paper["title"],
            abstract=paper["abstract"],
            authors=paper["authors"],
            authors_text=", ".join(paper["authors"]),
            categories=paper["categories"],
            primary_category=paper["categories"][0] if paper["categories"] else "",
            announced_on=DAY,
        )
        for number, paper in enumerate(papers)
    )
    window = PaperWindow.load(since=DAY, until=DAY)
    arxiv_ids = dict(Paper.objects.values_list("pk", "arxiv_id"))
    return [
        sorted(
            arxiv_ids[pk]
            for pk in subscription_paper_ids(
                topics=[],
                query=chosen["query"],
                categories=chosen["categories"],
                authors=chosen["authors"],
                index=window.index,
            )
        )
        for chosen in filters
    ]


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    assert connection.vendor == "sqlite", connection.vendor
    call_command("migrate", verbosity=0)
    print("READY", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        answer = store_and_match(request["papers"], request["filters"])
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
