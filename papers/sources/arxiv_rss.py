"""arXiv's daily listing (rss.arxiv.org/rss/<categories>): RSS 2.0 with arxiv:announce_type.

The listing is the authority on what was announced on its date; it carries no comment,
journal reference or primary category (the API fills those in).
"""

from __future__ import annotations

import datetime as dt
import re

from papers.normalise import split_author_list
from papers.schedule import ARXIV_TIME_ZONE
from papers.sources.arxiv_ids import split_arxiv_id
from papers.sources.feeds import read_feed, utc_datetime
from papers.sources.records import (
    ANNOUNCE_TYPES,
    ARXIV_RSS,
    EntryError,
    PaperRecord,
    ParsedDocument,
)

# "arXiv:2403.18791v2 Announce Type: replace \nAbstract: ..." opens every description.
_PREAMBLE = re.compile(
    r"^\s*(?:arXiv:(?P<id>\S+)\s+)?(?:Announce Type:\s*(?P<type>[\w-]+)\s*)?(?:Abstract:\s*)?",
    re.IGNORECASE,
)


def parse(content: bytes) -> ParsedDocument:
    """Records of one listing, each dated with the listing's date (America/New_York)."""
    feed = read_feed(content, expect=("rss", "atom"))
    # The channel's pubDate is the listing's date; older feeds only date their items.
    dates = [feed.feed.get("published_parsed")]
    dates += [entry.get("published_parsed") for entry in feed.entries]
    dates.append(feed.feed.get("updated_parsed"))
    listed_on = next((_eastern_date(parsed) for parsed in dates if parsed), None)
    document = ParsedDocument(kind=ARXIV_RSS, listed_on=listed_on)
    for position, entry in enumerate(feed.entries, start=1):
        description = entry.get("summary") or ""
        preamble = _PREAMBLE.match(description)
        announce_type = (
            (entry.get("arxiv_announce_type") or (preamble and preamble["type"]) or "")
            .strip()
            .lower()
        )
        title = (entry.get("title") or "").strip()
        identity = next(
            filter(
                None,
                (
                    split_arxiv_id(candidate)
                    for candidate in (
                        entry.get("id") or "",
                        (preamble and preamble["id"]) or "",
                        entry.get("link") or "",
                    )
                    if candidate
                ),
            ),
            None,
        )
        if identity is None:
            document.reject(
                position, "no arXiv id", reference=title[:80], announce_type=announce_type
            )
            continue
        arxiv_id, version = identity
        if not title:
            document.reject(position, "no title", reference=arxiv_id, announce_type=announce_type)
            continue
        if announce_type not in ANNOUNCE_TYPES:
            document.reject(
                position, f"unknown announce type {announce_type!r}", reference=arxiv_id
            )
            continue
        abstract = description[preamble.end() :] if preamble else description
        document.add(
            position,
            PaperRecord(
                arxiv_id=arxiv_id,
                version=version,
                title=title,
                abstract=abstract.strip(),
                authors=tuple(split_author_list(entry.get("author") or "")),
                categories=tuple(
                    dict.fromkeys(tag["term"] for tag in entry.get("tags", []) if tag.get("term"))
                ),
                journal_ref=(entry.get("arxiv_journal_reference") or "").strip(),
                doi=(entry.get("arxiv_doi") or "").strip(),
                announce_type=announce_type,
                announced_on=listed_on,
            ),
        )
    return document


def _eastern_date(parsed) -> dt.date | None:
    try:
        moment = utc_datetime(parsed)
        return moment.astimezone(ARXIV_TIME_ZONE).date() if moment else None
    except (EntryError, OverflowError):
        return None  # an unreadable date dates nothing; the next one in line may
