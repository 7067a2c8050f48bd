"""Fetch papers from the configured sources, or ingest a saved response file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from papers import services
from papers.models import FetchRun, Source
from papers.progress import CommandProgress


class Command(BaseCommand):
    help = (
        "Fetch papers from the enabled sources (or one), or ingest a saved Atom, RSS or "
        "Hugging Face JSON response with --file. Ends with a one-line summary."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--source", help="name of the source to fetch (default: all enabled)")
        parser.add_argument(
            "--date",
            type=dt.date.fromisoformat,
            help="YYYY-MM-DD: the arXiv listing to expect or back-fill, the Hugging Face list",
        )
        parser.add_argument("--file", type=Path, help="ingest this saved response instead")

    def handle(self, *args, source: str | None, date: dt.date | None, file: Path | None, **options):
        named = None
        if source:
            named = Source.objects.filter(name=source).first()
            if named is None:
                names = ", ".join(Source.objects.values_list("name", flat=True)) or "none"
                raise CommandError(f"no source named {source!r} (sources: {names})")
        progress = CommandProgress(messages=self.stdout, bar_stream=self.stderr)
        try:
            runs = self._fetch(named=named, date=date, file=file, progress=progress)
        finally:
            progress.close()
        for run in runs:
            self._report(run)
        self.stdout.write(_summary(runs))
        failed = [run for run in runs if run.status == FetchRun.Status.FAILED]
        if failed:
            raise CommandError(f"{len(failed)} of {len(runs)} fetches failed: {failed[0].error}")

    def _fetch(
        self,
        *,
        named: Source | None,
        date: dt.date | None,
        file: Path | None,
        progress: CommandProgress,
    ) -> list[FetchRun]:
        if file is not None:
            if not file.is_file():
                raise CommandError(f"{file} is not a file")
            return [services.file_ingest(path=file, source=named, on=date, progress=progress)]
        sources = [named] if named else list(Source.objects.filter(enabled=True))
        if not sources:
            raise CommandError("no enabled source to fetch; enable one in admin")
        runs: list[FetchRun] = []
        for each in sources:
            try:
                runs += services.source_fetch(source_id=each.pk, on=date, progress=progress)
            except services.SourceBusy as busy:
                raise CommandError(f"{each.name}: {busy}") from None
        return runs

    def _report(self, run: FetchRun) -> None:
        name = run.source.name if run.source else "file"
        line = f"{name}: {run.get_status_display()}"
        if run.listed_count is not None:
            line += (
                f"; listing of {run.announced_on}: {run.listed_count} listed, "
                f"{run.stored_count} stored"
            )
        if run.error:
            line += f" — {run.error}"
        style = self.style.ERROR if run.status == FetchRun.Status.FAILED else self.style.SUCCESS
        self.stdout.write(style(line))


def _summary(runs: list[FetchRun]) -> str:
    def total(name: str) -> int:
        return sum(getattr(run, name) for run in runs)

    line = (
        f"{total('entries_read')} entries read, {total('created_count')} created, "
        f"{total('updated_count')} updated, {total('unchanged_count')} unchanged, "
        f"{total('skipped_count')} skipped, {total('rejected_count')} rejected"
    )
    if total("entries_read") and not total("created_count") and not total("updated_count"):
        line += " (nothing changed)"
    return line
