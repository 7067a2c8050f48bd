"""Parsed records into the paper table: normalise, merge with what is stored, bulk upsert.

One row per versionless arXiv id, whichever source reported it. Each source is the authority
on some fields and never overwrites the others':
- the RSS listing dates the paper (`announced_on`, for `new` and `cross` items only) and its
  replacements bump the version and text without making the paper new again;
- the API owns metadata: primary category, comment, journal reference, DOI, timestamps;
- Hugging Face owns upvotes, comments, keywords and its machine summary, refreshed on every
  fetch; it only fills a paper's text when nothing else has, and never moves an announcement
  date.
Titles and abstracts are stored as readable text (LaTeX spans converted, papers/latex.py), so
every page, feed, email and the matcher read the same words.
Text from an older version never replaces text from a newer one (the API index can lag).
Each write also stamps when a code link appeared, the upvotes moved or a new version changed
the abstract (papers.changes), for the follow-ups readers get.

Everything is read in one query per chunk and written in one upsert per chunk; entries whose
paper would not change are not written at all, so re-ingesting a response changes nothing.
A paper the database still refuses (a value no bound foresaw) is rejected alone: its chunk is
written again paper by paper.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from papers import schedule
from papers.changes import MARK_FIELDS, changes_mark, upvote_counts_record
from papers.latex import readable
from papers.models import Paper
from papers.normalise import (
    author_name,
    code_and_project_urls,
    http_link,
    machine_summary,
    one_line,
)
from papers.sources.records import (
    ANNOUNCING_TYPES,
    ARXIV_API,
    ARXIV_RSS,
    HF_DAILY,
    REPLACE,
    REPLACE_CROSS,
    PaperRecord,
    Rejection,
)

CHUNK_SIZE = 500

# The columns ingestion owns; editorial flags (featured, hidden, note) are never written here.
INGESTED_FIELDS = (
    "arxiv_id",
    "latest_version",
    "title",
    "abstract",
    "authors",
    "authors_text",
    "primary_category",
    "categories",
    "published_at",
    "updated_at_source",
    "announced_on",
    "announce_type",
    "comment",
    "journal_ref",
    "doi",
    "code_url",
    "project_url",
    "hf_upvotes",
    "hf_comments",
    "hf_keywords",
    "hf_featured_on",
    "ai_summary",
    "seen_in_sources",
    *MARK_FIELDS,
)
_LIMITS = {
    field.name: field.max_length
    for field in Paper._meta.get_fields()
    if getattr(field, "max_length", None) and field.name in INGESTED_FIELDS
}

State = dict[str, object]


@dataclass
class IngestResult:
    """What one document did to the table: entries count, papers are counted once each."""

    entries_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    stored_ids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.entries_read} entries read, {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.skipped} skipped, {self.rejected} rejected"
        )


def ingest_records(
    *,
    records: Sequence[PaperRecord],
    kind: str,
    rejections: Sequence[Rejection] = (),
) -> IngestResult:
    """Upsert `records` from a source of `kind` in one transaction; only a paper the database
    refuses is left out (rejected), and a lost database writes nothing."""
    result = IngestResult(
        entries_read=len(records) + len(rejections),
        rejected=len(rejections),
        rejections=list(rejections),
    )
    incoming: dict[str, list[PaperRecord]] = {}
    for record in records:
        incoming.setdefault(record.arxiv_id, []).append(record)

    now = timezone.now()
    upvotes: dict[str, int] = {}
    with transaction.atomic():
        stored = _stored_states(incoming)
        to_write: list[tuple[Paper, bool]] = []
        for arxiv_id, reports in incoming.items():
            before = stored.get(arxiv_id)
            after = before
            for record in reports:
                after = merge(after, record, kind=kind)
            if after is None:
                result.skipped += len(reports)
                continue
            result.stored_ids.append(arxiv_id)
            if after == before:
                result.unchanged += 1
                continue
            changes_mark(before=before, after=after, now=now)
            if after["hf_upvotes_changed_at"] == now:
                upvotes[arxiv_id] = after["hf_upvotes"]
            to_write.append((Paper(**after), before is None))
        for start in range(0, len(to_write), CHUNK_SIZE):
            _write(to_write[start : start + CHUNK_SIZE], result)
        upvote_counts_record(upvotes=upvotes, on=now.astimezone(dt.UTC).date())
    return result


def _write(chunk: list[tuple[Paper, bool]], result: IngestResult) -> None:
    """Upsert one chunk of (paper, is new); if the database refuses it, paper by paper, so
    only the paper it refuses is lost (and counted as rejected)."""
    try:
        _upsert([paper for paper, _new in chunk])
    except DatabaseError:
        for one in chunk:
            _write_alone(one, result)
        return
    for _paper, new in chunk:
        _count_written(result, new=new)


def _write_alone(one: tuple[Paper, bool], result: IngestResult) -> None:
    paper, new = one
    try:
        _upsert([paper])
    except DatabaseError as error:
        if not connection.is_usable():
            raise  # the database is gone, not this paper: the whole run fails
        reason = str(error).splitlines()[0][:200]
        result.stored_ids.remove(paper.arxiv_id)
        result.rejected += 1
        result.rejections.append(
            Rejection(0, f"the database refused it: {reason}", reference=paper.arxiv_id)
        )
        return
    _count_written(result, new=new)


def _count_written(result: IngestResult, *, new: bool) -> None:
    if new:
        result.created += 1
    else:
        result.updated += 1


def _upsert(papers: list[Paper]) -> None:
    # A savepoint: a refused statement must not abort the transaction around it.
    with transaction.atomic():
        Paper.objects.bulk_create(
            papers,
            update_conflicts=True,
            unique_fields=["arxiv_id"],
            update_fields=[*INGESTED_FIELDS[1:], "updated_at"],
        )


def _stored_states(ids: Iterable[str]) -> dict[str, State]:
    ids = list(ids)
    states: dict[str, State] = {}
    for start in range(0, len(ids), CHUNK_SIZE):
        rows = (
            Paper.objects.select_for_update()
            .filter(arxiv_id__in=ids[start : start + CHUNK_SIZE])
            .order_by()
            .values(*INGESTED_FIELDS)
        )
        states.update((row["arxiv_id"], row) for row in rows)
    return states


def _empty_state(arxiv_id: str) -> State:
    return {
        "arxiv_id": arxiv_id,
        "latest_version": 1,
        "title": "",
        "abstract": "",
        "authors": [],
        "authors_text": "",
        "primary_category": "",
        "categories": [],
        "published_at": None,
        "updated_at_source": None,
        "announced_on": None,
        "announce_type": Paper.AnnounceType.NEW.value,
        "comment": "",
        "journal_ref": "",
        "doi": "",
        "code_url": "",
        "project_url": "",
        "hf_upvotes": 0,
        "hf_comments": 0,
        "hf_keywords": [],
        "hf_featured_on": None,
        "ai_summary": "",
        "seen_in_sources": [],
        **dict.fromkeys(MARK_FIELDS),
    }


def merge(stored: State | None, record: PaperRecord, *, kind: str) -> State | None:
    """The paper after `record` from a `kind` source meets it; None when the record is not
    stored (a replacement of a paper Paperboy never saw)."""
    if stored is None and record.announce_type in (REPLACE, REPLACE_CROSS):
        return None
    state = dict(stored) if stored is not None else _empty_state(record.arxiv_id)
    is_arxiv = kind in (ARXIV_API, ARXIV_RSS)
    version = record.version or state["latest_version"]
    # Fresh text: arXiv's, unless it is an older version than the stored one; anyone's when
    # there is none yet.
    current = (is_arxiv and version >= state["latest_version"]) or not state["title"]

    if current:
        state["title"] = readable(one_line(record.title))
        if record.abstract:
            state["abstract"] = readable(one_line(record.abstract))
        if record.authors:
            state["authors"] = [name for name in map(author_name, record.authors) if name]
            state["authors_text"] = ", ".join(state["authors"])
        if is_arxiv and record.categories:
            state["categories"] = _clean_list(record.categories)
    if record.version:
        state["latest_version"] = max(state["latest_version"], record.version)

    if kind == ARXIV_API and current:
        state["primary_category"] = one_line(record.primary_category) or state["primary_category"]
        state["updated_at_source"] = record.updated_at or state["updated_at_source"]
        state["comment"] = one_line(record.comment)
        state["journal_ref"] = one_line(record.journal_ref)
        state["doi"] = one_line(record.doi)
    else:
        # The listing names no primary category: its first one stands in until the API says.
        if not state["primary_category"] and state["categories"]:
            state["primary_category"] = state["categories"][0]
        state["journal_ref"] = state["journal_ref"] or one_line(record.journal_ref)
        state["doi"] = state["doi"] or one_line(record.doi)
    if record.published_at and (kind == ARXIV_API or state["published_at"] is None):
        state["published_at"] = record.published_at

    _date_announcement(state, record, kind=kind)
    _links(state, record)
    if kind == HF_DAILY:
        state["hf_upvotes"] = (
            record.hf_upvotes if record.hf_upvotes is not None else state["hf_upvotes"]
        )
        state["hf_comments"] = (
            record.hf_comments if record.hf_comments is not None else state["hf_comments"]
        )
        state["hf_keywords"] = _clean_list(record.hf_keywords) or state["hf_keywords"]
        state["hf_featured_on"] = state["hf_featured_on"] or record.hf_featured_on
        state["ai_summary"] = machine_summary(readable(record.ai_summary)) or state["ai_summary"]
    state["seen_in_sources"] = sorted({*state["seen_in_sources"], kind})
    for name, limit in _LIMITS.items():
        if isinstance(state[name], str) and len(state[name]) > limit:
            state[name] = "" if name.endswith("_url") else state[name][:limit]
    return state


def _date_announcement(state: State, record: PaperRecord, *, kind: str) -> None:
    """The listing's date is final; anything else is an estimate made once, from the time
    the first version was submitted, which the listing may later correct."""
    dated_by_listing = ARXIV_RSS in state["seen_in_sources"] and state["announced_on"]
    if kind == ARXIV_RSS and record.announce_type in ANNOUNCING_TYPES and record.announced_on:
        if not dated_by_listing:
            state["announced_on"] = record.announced_on
            state["announce_type"] = record.announce_type
        return
    if state["announced_on"] is None and state["published_at"] is not None:
        state["announced_on"] = schedule.listing_day_for_submission(state["published_at"])


def _clean_list(values: Iterable[str]) -> list[str]:
    return [text for text in map(one_line, values) if text]


def _links(state: State, record: PaperRecord) -> None:
    """Links named in the text win over the source's fields; only http(s) links are kept."""
    code, project = code_and_project_urls(f"{state['abstract']} {state['comment']}")
    state["code_url"] = code or http_link(record.code_url) or http_link(state["code_url"])
    state["project_url"] = (
        project or http_link(record.project_url) or http_link(state["project_url"])
    )
