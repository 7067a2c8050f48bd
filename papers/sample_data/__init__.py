"""The demo's sample papers: real saved responses of each source, read by the product's own
parsers and ingest, re-dated so that the newest announcement day is today."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from papers.changes import MARK_FIELDS
from papers.ingest import INGESTED_FIELDS, State, ingest_records, merge
from papers.models import Paper
from papers.sample_data.redating import ListingShift, latest_listing_day
from papers.sources import arxiv_api, arxiv_rss, hf_daily
from papers.sources.detect import detect_kind
from papers.sources.records import ARXIV_API, ARXIV_RSS, HF_DAILY, PaperRecord, ParsedDocument

CAPTURES_DIR = Path(__file__).with_name("captures")
CAPTURE_SUFFIXES = (".json", ".xml")
# A Hugging Face list is the answer to `daily_papers?date=…`; its file name keeps that date.
_NAMED_DATE = re.compile(r"(\d{4}-\d\d-\d\d)")
# Within a day production reads the listing first, then looks its papers up, then gets
# Hugging Face's list of the day.
_ARRIVAL = {ARXIV_RSS: 0, ARXIV_API: 1, HF_DAILY: 2}
_MOVED_FIELDS = ("announced_on", "hf_featured_on", "published_at", "updated_at_source")


class SampleLoad(NamedTuple):
    created: int
    updated: int


@dataclasses.dataclass(frozen=True)
class Capture:
    """One saved response and the product's reading of it."""

    path: Path
    document: ParsedDocument

    @property
    def arrived_on(self) -> dt.date:
        """The day production would have received it."""
        if self.document.listed_on:
            return self.document.listed_on
        stamps = [r.updated_at or r.published_at for r in self.document.records]
        return max((stamp.date() for stamp in stamps if stamp), default=dt.date.min)


def parse_saved_response(content: bytes, *, featured_on: dt.date | None = None) -> ParsedDocument:
    """What the product's parser makes of a saved response (its format judged from its
    content); raises DocumentError for an unusable one, as a fetch would."""
    kind = detect_kind(content)
    if kind == HF_DAILY:
        return hf_daily.parse(content, featured_on=featured_on)
    return arxiv_rss.parse(content) if kind == ARXIV_RSS else arxiv_api.parse(content)


def parse_capture(path: Path) -> ParsedDocument:
    """A shipped capture, read; a Hugging Face list is dated by the date in its file name."""
    named = _NAMED_DATE.search(path.name)
    featured_on = dt.date.fromisoformat(named[1]) if named else None
    return parse_saved_response(path.read_bytes(), featured_on=featured_on)


def sample_captures(directory: Path = CAPTURES_DIR) -> list[Capture]:
    """Every capture in `directory`, parsed, in the order production would receive them."""
    captures = [
        Capture(path, parse_capture(path))
        for path in directory.iterdir()
        if path.suffix in CAPTURE_SUFFIXES
    ]
    return sorted(captures, key=lambda c: (c.arrived_on, _ARRIVAL[c.document.kind], c.path.name))


def merged_states(documents: Sequence[ParsedDocument]) -> dict[str, State]:
    """The rows the documents leave in an empty paper table, exactly as ingest merges them."""
    states: dict[str, State] = {}
    for document in documents:
        for record in document.records:
            state = merge(states.get(record.arxiv_id), record, kind=document.kind)
            if state is not None:
                states[record.arxiv_id] = state
    return states


def sample_documents(
    *, shift_to_today: bool = False, directory: Path = CAPTURES_DIR
) -> list[ParsedDocument]:
    """The captures' documents, re-dated so that their newest announcement day is the latest
    arXiv listing day up to today (today on weekdays) when `shift_to_today`."""
    documents = [capture.document for capture in sample_captures(directory)]
    announced = {
        arxiv_id: state["announced_on"]
        for arxiv_id, state in merged_states(documents).items()
        if state["announced_on"]
    }
    if not announced:
        return documents
    newest = max(announced.values())
    target = latest_listing_day(timezone.localdate()) if shift_to_today else newest
    shift = ListingShift(source_newest=newest, target_newest=target)
    return [
        dataclasses.replace(
            document,
            records=[_moved(r, shift, announced.get(r.arxiv_id)) for r in document.records],
            listed_on=document.listed_on and shift.day(document.listed_on),
        )
        for document in documents
    ]


def _moved(record: PaperRecord, shift: ListingShift, announced_on: dt.date | None) -> PaperRecord:
    changes: dict[str, object] = {}
    for name in ("announced_on", "hf_featured_on"):
        if day := getattr(record, name):
            changes[name] = shift.day(day)
    for name in ("published_at", "updated_at"):
        if (moment := getattr(record, name)) and announced_on:
            changes[name] = shift.moment(moment, announced_on=announced_on)
    return dataclasses.replace(record, **changes)


def sample_papers(*, shift_to_today: bool = False) -> list[State]:
    """The sample set as the paper table holds it after a load (dicts of Paper's ingested
    fields, less the change marks: those say when a row was written, not what the captures
    hold), newest announcement first."""
    states = merged_states(sample_documents(shift_to_today=shift_to_today))
    return sorted(
        (
            {name: value for name, value in state.items() if name not in MARK_FIELDS}
            for state in states.values()
        ),
        key=lambda s: (s["announced_on"] or dt.date.min, s["hf_upvotes"], s["arxiv_id"]),
        reverse=True,
    )


@transaction.atomic
def load_sample_papers(*, shift_to_today: bool = False) -> SampleLoad:
    """Ingest the sample captures as production would; run again, it changes nothing (on a
    later day it moves the sample's dates to the new calendar and nothing else)."""
    documents = sample_documents(shift_to_today=shift_to_today)
    target = merged_states(documents)
    before = _stored(target)
    # Ingest never moves an announcement date it has set, so a new calendar moves them here.
    moved = []
    for arxiv_id, row in Paper.objects.in_bulk(list(before), field_name="arxiv_id").items():
        if any(getattr(row, name) != target[arxiv_id][name] for name in _MOVED_FIELDS):
            for name in _MOVED_FIELDS:
                setattr(row, name, target[arxiv_id][name])
            moved.append(row)
    Paper.objects.bulk_update(moved, _MOVED_FIELDS)
    for document in documents:
        ingest_records(records=document.records, kind=document.kind, rejections=document.rejections)
    after = _stored(target)
    return SampleLoad(
        created=len(after.keys() - before.keys()),
        updated=sum(1 for arxiv_id, state in before.items() if after.get(arxiv_id) != state),
    )


def _stored(ids) -> dict[str, State]:
    rows = Paper.objects.filter(arxiv_id__in=list(ids)).order_by().values(*INGESTED_FIELDS)
    return {row["arxiv_id"]: row for row in rows}
