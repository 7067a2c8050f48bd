"""What every source parser returns: paper records, rejected entries and unusable documents,
and the bounds one entry must keep to be stored."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from papers.normalise import one_line

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


# What one entry may hold: far above any real paper (arXiv caps abstracts at 1,920
# characters; the largest collaborations sign ~3,000 names), far below what hurts the table
# (a btree index row holds 2,704 bytes: 500 characters of 4-byte UTF-8 fit).
MAX_TITLE = 500
MAX_ABSTRACT = 10_000
MAX_NOTE = 2_000  # comment, journal reference
MAX_AUTHORS = 3_000
MAX_AUTHOR_NAME = 300
MAX_CATEGORIES = 50
MAX_KEYWORDS = 100
MAX_KEYWORD = 100
MAX_VERSION = 1_000
MAX_COUNT = 2**31 - 1  # upvotes and comments are 32-bit integer columns
# arXiv opened in August 1991; any date past 2100 is a broken feed, not a paper.
EARLIEST = dt.datetime(1991, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


class DocumentError(ValueError):
    """The whole response is unusable (malformed, truncated, empty, an API error): nothing is
    ingested from it. The message is written for the FetchRun a person reads."""


class EntryError(ValueError):
    """One entry holds a value Paperboy cannot store: that entry alone is rejected, with this
    message as its reason."""


def bounded_count(value: object, *, what: str) -> int | None:
    """A count (upvotes, comments) from JSON: None when absent or not a number, a negative
    one read as 0; EntryError when it is not finite or does not fit the column."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise EntryError(f"{what} {value} is not a number")
    if abs(value) > MAX_COUNT:
        raise EntryError(f"{what} {value:.3g} out of range (at most {MAX_COUNT:,})")
    return max(int(value), 0)


def bounded_moment(moment: dt.datetime | None, *, what: str) -> dt.datetime | None:
    """`moment` if it is between 1991 and 2100, else EntryError (year 9999 or year 1 in
    another zone overflow the date arithmetic of scheduling)."""
    if moment is not None and not EARLIEST <= moment < LATEST:
        raise EntryError(f"{what} {moment:%Y-%m-%d} out of range (1991 to 2099)")
    return moment


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
    ai_summary: str = ""


@dataclass(frozen=True)
class Rejection:
    """An entry that could not become a paper; `position` counts entries from 1."""

    position: int
    reason: str
    reference: str = ""
    announce_type: str = ""

    def __str__(self) -> str:
        where = f"entry {self.position}" if self.position else "an entry"
        where += f" ({self.reference})" if self.reference else ""
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

    def add(self, position: int, record: PaperRecord) -> None:
        """Keep `record`, or reject it when it breaks a bound of what one entry may hold."""
        problem = entry_problem(record)
        if problem:
            self.reject(
                position, problem, reference=record.arxiv_id, announce_type=record.announce_type
            )
        else:
            self.records.append(record)

    def reject(
        self, position: int, reason: str, *, reference: str = "", announce_type: str = ""
    ) -> None:
        self.rejections.append(Rejection(position, reason, reference, announce_type))


def entry_problem(record: PaperRecord) -> str:
    """Why `record` cannot be stored as it is ("" when it can)."""
    lengths = (
        ("a title", one_line(record.title), MAX_TITLE),
        ("an abstract", one_line(record.abstract), MAX_ABSTRACT),
        ("a comment", record.comment, MAX_NOTE),
        ("a journal reference", record.journal_ref, MAX_NOTE),
    )
    for what, text, limit in lengths:
        if len(text) > limit:
            return f"{what} of {len(text):,} characters (at most {limit:,})"
    counted = (
        ("authors", record.authors, MAX_AUTHORS, "an author name", MAX_AUTHOR_NAME),
        ("categories", record.categories, MAX_CATEGORIES, "a category", MAX_KEYWORD),
        ("keywords", record.hf_keywords, MAX_KEYWORDS, "a keyword", MAX_KEYWORD),
    )
    for what, values, limit, each, each_limit in counted:
        if len(values) > limit:
            return f"{len(values):,} {what} (at most {limit:,})"
        longest = max(map(len, values), default=0)
        if longest > each_limit:
            return f"{each} of {longest:,} characters (at most {each_limit:,})"
    if record.version is not None and not 1 <= record.version <= MAX_VERSION:
        return f"version {record.version} out of range (at most {MAX_VERSION:,})"
    moments = (("published", record.published_at), ("updated", record.updated_at))
    days = (("announced", record.announced_on), ("featured", record.hf_featured_on))
    try:
        for what, moment in moments:
            bounded_moment(moment, what=what)
        for what, day in days:
            if day is not None:
                bounded_moment(dt.datetime.combine(day, dt.time(), dt.UTC), what=what)
    except EntryError as error:
        return str(error)
    return ""
