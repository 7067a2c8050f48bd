"""Sample papers shipped with Paperboy, built once from real arXiv papers for demos and tests."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

SAMPLE_PAPERS_PATH = Path(__file__).with_name("papers.json")


def sample_paper_records() -> list[dict]:
    return json.loads(SAMPLE_PAPERS_PATH.read_text())


@transaction.atomic
def load_sample_papers(*, shift_to_today: bool = False) -> tuple[int, int]:
    """Upsert the sample papers; returns (created, updated)."""
    from papers.models import Paper

    records = sample_paper_records()
    newest = max(date.fromisoformat(record["announced_on"]) for record in records)
    shift = (timezone.localdate() - newest) if shift_to_today else timedelta(0)
    created = updated = 0
    for record in records:
        _, was_created = Paper.objects.update_or_create(
            arxiv_id=record["arxiv_id"],
            defaults={
                "latest_version": record["version"],
                "title": record["title"],
                "abstract": record["abstract"],
                "comment": record["comment"],
                "code_url": record["code_url"],
                "primary_category": record["primary_category"],
                "categories": record["categories"],
                "announced_on": date.fromisoformat(record["announced_on"]) + shift,
                "seen_in_sources": ["sample"],
            },
        )
        created += was_created
        updated += not was_created
    return created, updated
