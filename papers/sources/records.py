"""What every source parser returns: paper records, rejected entries and unusable documents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

ARXIV_API = "arxiv_api"
ARXIV_RSS = "arxiv_rss"
HF_DAILY = "hf_daily"

NEW = "new"
CROSS = "cross"
REPLACE = "replace"
REPLACE_CROSS = "replace-cross"
ANNOUNCE_TYPES = (NEW, CROSS, REPLACE, REPLACE_CROSS)
# Listing items that are the day's announced papers; the other two update known papers.
ANNOUNCING_TYPES = (NEW, CROSS)


class DocumentError(ValueError):
    """The whole response is unusable (malformed, truncated, empty, an API error): nothing is
    ingested from it. The message is written for the FetchRun a person reads."""


@dataclass(frozen=True)
class PaperRecord:
    """One entry as a source reported it, before it meets the stored paper."""

    arxiv_id: str
    title: str
    version: int | None = None
    abstract: str = ""
    authors: tuple[str, ...] = ()
    primary_category: str = ""
    categories: tuple[str, ...] = ()
    published_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    comment: str = ""
    journal_ref: str = ""
    doi: str = ""
    announce_type: str = ""
    announced_on: dt.date | None = None
    code_url: str = ""
    project_url: str = ""
    hf_upvotes: int | None = None
    hf_comments: int | None = None
    hf_keywords: tuple[str, ...] = ()
    hf_featured_on: dt.date | None = None


@dataclass(frozen=True)
class Rejection:
    """An entry that could not become a paper; `position` counts entries from 1."""

    position: int
    reason: str
    reference: str = ""
    announce_type: str = ""

    def __str__(self) -> str:
        where = f"entry {self.position}" + (f" ({self.reference})" if self.reference else "")
        return f"{where}: {self.reason}"


@dataclass
class ParsedDocument:
    """A parsed response: its records in order, the entries rejected, and what it says
    about itself (the listing's date, the API's total for paging)."""

    kind: str
    records: list[PaperRecord] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    listed_on: dt.date | None = None
    total_results: int | None = None

    @property
    def entries_read(self) -> int:
        return len(self.records) + len(self.rejections)
