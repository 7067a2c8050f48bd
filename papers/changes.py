"""When a paper's code link, upvotes and abstract changed: the marks ingestion leaves behind
for follow-ups, and the daily upvote counts that "trending since we sent it" compares with."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from papers.models import Paper, UpvoteCount

# The columns these marks live in; ingestion reads and writes them with the paper.
MARK_FIELDS = ("code_link_seen_at", "hf_upvotes_changed_at", "abstract_changed_at")

_WORD = re.compile(r"\w+")


def _wording(text: str) -> tuple[str, ...]:
    # Sources space, wrap and punctuate one abstract differently: only its words count.
    return tuple(_WORD.findall(text.casefold()))


def changes_mark(
    *, before: Mapping[str, object] | None, after: dict[str, object], now: dt.datetime
) -> None:
    """Stamp `after` (a paper's state about to be written) with `now` where it differs from
    `before` in what readers hear about again: a code link's first appearance, a new upvote
    count, and a later version whose abstract says something else."""
    if after["code_url"] and after["code_link_seen_at"] is None:
        after["code_link_seen_at"] = now
    if before is None:
        if after["hf_upvotes"]:
            after["hf_upvotes_changed_at"] = now
        return
    if after["hf_upvotes"] != before["hf_upvotes"]:
        after["hf_upvotes_changed_at"] = now
    if (
        after["latest_version"] > before["latest_version"]
        and before["abstract"]
        and _wording(str(after["abstract"])) != _wording(str(before["abstract"]))
    ):
        after["abstract_changed_at"] = now


def upvote_counts_record(*, upvotes: Mapping[str, int], on: dt.date) -> int:
    """The day's count for each arXiv id in `upvotes` (one row per paper and day, the last
    count of the day wins); two statements whatever the number of papers."""
    if not upvotes:
        return 0
    ids = dict(
        Paper.objects.filter(arxiv_id__in=list(upvotes)).values_list("arxiv_id", "pk").order_by()
    )
    rows = [
        UpvoteCount(paper_id=ids[arxiv_id], counted_on=on, upvotes=count)
        for arxiv_id, count in upvotes.items()
        if arxiv_id in ids
    ]
    UpvoteCount.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["paper", "counted_on"],
        update_fields=["upvotes"],
        batch_size=1000,
    )
    return len(rows)
