"""Load the shipped sample papers, optionally re-dated so the newest day is today."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from papers.sample_data import load_sample_papers


class Command(BaseCommand):
    help = (
        "Ingest the sample captures shipped with Paperboy (real arXiv listings and Hugging "
        "Face lists) through the normal parsers and ingest. Running it again changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--shift-to-today",
            action="store_true",
            help="re-date announcements so the newest sample day is the latest arXiv listing "
            "day up to today (today on weekdays), keeping the listing days between them",
        )

    def handle(self, *args, shift_to_today: bool, **options) -> None:
        created, updated = load_sample_papers(shift_to_today=shift_to_today)
        self.stdout.write(f"sample papers: {created} created, {updated} updated")
