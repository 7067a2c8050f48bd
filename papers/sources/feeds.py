"""Reading an XML feed with feedparser, strictly: a document it had to guess at is refused."""

from __future__ import annotations

import calendar
import datetime as dt
import io
import time

import feedparser

from papers.sources.records import DocumentError, EntryError

# Harmless remarks feedparser makes about documents it read correctly. Not
# CharacterEncodingOverride: with no HTTP headers given, it means the document did not decode
# as it declared and feedparser re-read all of it as a guessed charset (one stray Latin-1 byte
# in a UTF-8 listing stored every accented name garbled).
_BENIGN = (feedparser.NonXMLContentType,)


def read_feed(content: bytes, *, expect: tuple[str, ...]) -> feedparser.FeedParserDict:
    """Parse `content` (never a URL or a path) as one of the feed `expect`ed versions."""
    if not content.strip():
        raise DocumentError("empty response: no feed in it")
    # A file object, so feedparser can never mistake the content for a URL or a file name.
    feed = feedparser.parse(io.BytesIO(content), sanitize_html=False, resolve_relative_uris=False)
    problem = feed.get("bozo_exception")
    if feed.get("bozo") and not isinstance(problem, _BENIGN):
        raise DocumentError(f"malformed XML, nothing ingested: {problem}")
    version = feed.get("version") or ""
    if not version.startswith(expect):
        found = version or "not a feed"
        raise DocumentError(f"expected {' or '.join(expect)}, got {found}")
    return feed


def utc_datetime(parsed: time.struct_time | None) -> dt.datetime | None:
    """feedparser's `*_parsed` values are UTC struct_times; EntryError past what a datetime
    holds."""
    if parsed is None:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise EntryError(f"a date that cannot be read ({error})") from None
