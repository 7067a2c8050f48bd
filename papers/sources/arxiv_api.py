"""The arXiv API's Atom feed (export.arxiv.org/api/query): search pages and id_list lookups."""

from __future__ import annotations

from papers.sources.arxiv_ids import split_arxiv_id
from papers.sources.feeds import read_feed, utc_datetime
from papers.sources.records import (
    ARXIV_API,
    DocumentError,
    EntryError,
    PaperRecord,
    ParsedDocument,
)

_ERROR_ID = "arxiv.org/api/errors"


def parse(content: bytes) -> ParsedDocument:
    """Records from one API response; an error feed or a malformed one raises DocumentError."""
    feed = read_feed(content, expect=("atom",))
    document = ParsedDocument(
        kind=ARXIV_API, total_results=_int(feed.feed.get("opensearch_totalresults"))
    )
    for position, entry in enumerate(feed.entries, start=1):
        raw_id = (entry.get("id") or "").strip()
        if _ERROR_ID in raw_id:
            # The API answers a bad query with 200 and an entry that is the error message.
            message = " ".join((entry.get("summary") or raw_id).split())
            raise DocumentError(f"arXiv API error: {message}")
        identity = split_arxiv_id(raw_id)
        title = (entry.get("title") or "").strip()
        if identity is None:
            reason = "no arXiv id" if not raw_id else f"unrecognised arXiv id {raw_id!r}"
            document.reject(position, reason, reference=title[:80])
            continue
        arxiv_id, version = identity
        if not title:
            document.reject(position, "no title", reference=arxiv_id)
            continue
        primary = entry.get("arxiv_primary_category") or {}
        try:
            record = PaperRecord(
                arxiv_id=arxiv_id,
                version=version,
                title=title,
                abstract=(entry.get("summary") or "").strip(),
                authors=tuple(
                    author["name"] for author in entry.get("authors", []) if author.get("name")
                ),
                primary_category=(primary.get("term") or "").strip(),
                categories=tuple(
                    dict.fromkeys(tag["term"] for tag in entry.get("tags", []) if tag.get("term"))
                ),
                published_at=utc_datetime(entry.get("published_parsed")),
                updated_at=utc_datetime(entry.get("updated_parsed")),
                comment=(entry.get("arxiv_comment") or "").strip(),
                journal_ref=(entry.get("arxiv_journal_ref") or "").strip(),
                doi=(entry.get("arxiv_doi") or "").strip(),
            )
        except EntryError as error:
            document.reject(position, str(error), reference=arxiv_id)
            continue
        document.add(position, record)
    return document


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
