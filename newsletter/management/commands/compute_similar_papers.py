"""`compute_similar_papers`: the "more like this" lists by hand (what the post-fetch task does)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from newsletter.recommend.neighbours import similar_papers_compute
from papers.progress import CommandProgress, Step


class Command(BaseCommand):
    help = (
        "Store the nearest neighbours of every recent visible paper (the pages' "
        '"more like this" lists). Running it again gives the same lists.'
    )

    def handle(self, *args, **options) -> None:
        bar = CommandProgress(messages=self.stdout, bar_stream=self.stderr, desc="papers")

        def step(done: int, total: int) -> None:
            bar(Step(done=done, total=total, unit="papers", text=f"  {done} of {total} papers"))

        report = similar_papers_compute(progress=step)
        bar.close()
        self.stdout.write(
            f"similar papers: {report.papers} papers in {report.seconds:.1f} s "
            f"({report.papers_per_second:.0f} papers/s)"
        )
