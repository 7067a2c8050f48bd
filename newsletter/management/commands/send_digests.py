"""`send_digests`: what the hourly tick sends, or every reader's digest for a day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from newsletter.digests.editions import WEEKLY_ON
from newsletter.digests.runs import dry_run, run_digests
from newsletter.models import Subscriber
from newsletter.selectors import subscribers_with_address
from papers.progress import CommandProgress


class Command(BaseCommand):
    help = (
        "Build and send digests. No option: what is due this hour (the beat tick's work). "
        "--date D: every confirmed reader's digest for day D, whatever their send hour. "
        "Running it again sends nothing more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=dt.date.fromisoformat, help="YYYY-MM-DD edition")
        parser.add_argument(
            "--dry-run", action="store_true", help="write .eml files, send and record nothing"
        )
        parser.add_argument(
            "--out",
            type=Path,
            default=None,
            help="folder for --dry-run files (default: var/dry-run/)",
        )
        parser.add_argument("--to", help="send a test copy to this address, record nothing")
        parser.add_argument("--subscriber", help="only this reader's digest")

    def handle(self, *args, **options) -> None:
        self.bar = CommandProgress(messages=self.stdout, bar_stream=self.stderr, desc="digests")
        try:
            self._run(**options)
        finally:
            self.bar.close()

    def _run(self, **options) -> None:
        edition_on: dt.date | None = options["date"]
        if edition_on and options["subscriber"]:
            _refuse_a_weekly_readers_mid_week(options["subscriber"], edition_on)
        if options["dry_run"] or options["to"]:
            if options["to"] and not options["subscriber"]:
                raise CommandError("--to sends one reader's digest: add --subscriber EMAIL")
            out_dir = options["out"] or Path(settings.BASE_DIR) / "var" / "dry-run"
            written = dry_run(
                edition_on=edition_on,
                subscriber_email=options["subscriber"],
                out_dir=None if options["to"] else out_dir,
                send_to=options["to"],
                progress=self.progress,
            )
            self.bar.close()
            where = f"sent to {options['to']}" if options["to"] else f"written to {out_dir}"
            self.stdout.write(f"dry run: {written} digests {where}; nothing recorded")
            return
        report = run_digests(
            edition_on=edition_on,
            subscriber_email=options["subscriber"],
            progress=self.progress,
        )
        self.bar.close()
        self.stdout.write(report.summary())

    def progress(self, done: int, total: int) -> None:
        self.bar.count(done, total, unit="readers")


def _refuse_a_weekly_readers_mid_week(email: str, edition_on: dt.date) -> None:
    """Say why a weekly reader's digest of another weekday would build nothing."""
    weekly = subscribers_with_address(email).filter(frequency=Subscriber.Frequency.WEEKLY)
    if edition_on.weekday() != WEEKLY_ON and weekly.exists():
        week_day = edition_on - dt.timedelta(days=(edition_on.weekday() - WEEKLY_ON) % 7)
        raise CommandError(
            f"{email} reads the weekly digest, made on {week_day:%A}s; {edition_on} is a "
            f"{edition_on:%A}: use --date {week_day.isoformat()}"
        )
