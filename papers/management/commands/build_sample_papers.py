"""Check the sample captures (or add one) and print the sample set they make (maintainers)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from papers.sample_data import CAPTURES_DIR, merged_states, sample_captures
from papers.sample_data.trimming import add_capture
from papers.sources.records import DocumentError


class Command(BaseCommand):
    help = (
        "Read every sample capture with Paperboy's own parsers and print the sample set they "
        "make (per capture, then totals); fails on an unreadable capture or a rejected entry. "
        "--add copies a saved response in first (Hugging Face lists trimmed to the fields "
        "Paperboy reads)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--add", type=Path, help="a saved Atom, RSS or Hugging Face response")
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            help="YYYY-MM-DD the Hugging Face list was fetched for (daily_papers?date=…)",
        )
        parser.add_argument("--limit", type=int, help="keep a list's first N (most upvoted) papers")
        parser.add_argument(
            "--captures",
            type=Path,
            default=CAPTURES_DIR,
            help="folder of captures (default: the shipped ones)",
        )

    def handle(self, *args, add: Path | None, date, limit, captures: Path, **options) -> None:
        if add is not None:
            if not add.is_file():
                raise CommandError(f"{add} is not a file")
            try:
                added = add_capture(add, directory=captures, on=date, limit=limit)
            except (ValueError, OSError, DocumentError) as error:
                raise CommandError(str(error)) from None
            self.stdout.write(self.style.SUCCESS(f"added {added.name}"))
        try:
            found = sample_captures(captures)
        except (OSError, DocumentError) as error:
            raise CommandError(f"a capture is unreadable: {error}") from None
        rejected = []
        for capture in found:
            document = capture.document
            self.stdout.write(
                f"{capture.path.name}: {document.kind}, {capture.arrived_on}, "
                f"{len(document.records)} entries, {len(document.rejections)} rejected"
            )
            rejected += [f"{capture.path.name} {rejection}" for rejection in document.rejections]
        states = list(merged_states([capture.document for capture in found]).values())
        self.stdout.write(_summary(states))
        if rejected:
            raise CommandError("rejected entries: " + "; ".join(rejected))


def _summary(states: list[dict]) -> str:
    sources = Counter(source for state in states for source in state["seen_in_sources"])
    days = {state["announced_on"] for state in states if state["announced_on"]}
    return (
        f"{len(states)} papers over {len(days)} announcement days; "
        f"{sum(1 for s in states if s['authors'])} with authors, "
        f"{sum(1 for s in states if s['hf_upvotes'])} with upvotes, "
        f"{sum(1 for s in states if s['code_url'])} with code, "
        f"{sum(1 for s in states if s['project_url'])} with a project page; "
        + ", ".join(f"{count} seen in {source}" for source, count in sorted(sources.items()))
        + f"; {sum(1 for s in states if len(s['seen_in_sources']) > 1)} in more than one source"
    )
