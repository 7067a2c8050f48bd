"""Hugging Face Daily Papers (huggingface.co/api/daily_papers): the trending list as JSON.

Each item wraps a `paper` object; `upvotes` sits on that inner object, the comment count on
the item. The list for a date is the day Hugging Face featured the papers, often days after
arXiv announced them; weekends return [].
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass

from papers.sources.arxiv_ids import split_arxiv_id
from papers.sources.records import (
    HF_DAILY,
    DocumentError,
    EntryError,
    PaperRecord,
    ParsedDocument,
    bounded_count,
    bounded_moment,
)

# Longer integers are refused by Python's int() (4,300 digits) and by any column anyway.
_MAX_INT_DIGITS = 20
# Strings (with their escapes) and the characters that open, close or separate JSON values.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')
_ID_FIELD = re.compile(r'"id"\s*:\s*"([^"]{1,80})"')


@dataclass(frozen=True)
class _TooDeep:
    """An item the JSON parser could not descend into; its id is looked for in its text."""

    text: str

    @property
    def reference(self) -> str:
        found = _ID_FIELD.search(self.text)
        identity = split_arxiv_id(found[1]) if found else None
        return identity[0] if identity else ""


def parse(content: bytes, *, featured_on: dt.date | None = None) -> ParsedDocument:
    """Records of one daily list; `featured_on` is the `date=` asked for, if any."""
    if not content.strip():
        raise DocumentError("empty response: no JSON in it")
    try:
        items = _load(content.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise DocumentError(f"not UTF-8 JSON, nothing ingested: {error}") from None
    if isinstance(items, dict) and "error" in items:
        raise DocumentError(f"Hugging Face API error: {items['error']}")
    if not isinstance(items, list):
        raise DocumentError(f"expected a JSON list of papers, got a JSON {type(items).__name__}")

    document = ParsedDocument(kind=HF_DAILY, listed_on=featured_on)
    for position, item in enumerate(items, start=1):
        if isinstance(item, _TooDeep):
            document.reject(position, "a JSON value nested too deep", reference=item.reference)
            continue
        if not isinstance(item, dict):
            document.reject(position, "not a JSON object")
            continue
        paper = item.get("paper") if isinstance(item.get("paper"), dict) else {}
        title = _text(item.get("title")) or _text(paper.get("title"))
        identity = split_arxiv_id(_text(paper.get("id")) or _text(item.get("id")))
        if identity is None:
            document.reject(position, "no arXiv id", reference=title[:80])
            continue
        arxiv_id, version = identity
        if not title:
            document.reject(position, "no title", reference=arxiv_id)
            continue
        try:
            record = _record(
                item,
                paper,
                arxiv_id=arxiv_id,
                version=version,
                title=title,
                featured_on=featured_on,
            )
        except EntryError as error:
            document.reject(position, str(error), reference=arxiv_id)
            continue
        document.add(position, record)
    return document


def _record(
    item: dict,
    paper: dict,
    *,
    arxiv_id: str,
    version: int | None,
    title: str,
    featured_on: dt.date | None,
) -> PaperRecord:
    featured = (
        featured_on
        or _date(item.get("publishedAt"), what="publishedAt")
        or _date(paper.get("submittedOnDailyAt"), what="submittedOnDailyAt")
    )
    authors = paper.get("authors") if isinstance(paper.get("authors"), list) else []
    keywords = paper.get("ai_keywords") if isinstance(paper.get("ai_keywords"), list) else []
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=_text(paper.get("summary")) or _text(item.get("summary")),
        authors=tuple(
            name
            for author in authors
            if isinstance(author, dict) and (name := _text(author.get("name")))
        ),
        published_at=_datetime(paper.get("publishedAt"), what="publishedAt"),
        code_url=_text(paper.get("githubRepo")),
        project_url=_text(paper.get("projectPage")),
        hf_upvotes=bounded_count(paper.get("upvotes"), what="upvotes"),
        hf_comments=bounded_count(item.get("numComments"), what="comments"),
        hf_keywords=tuple(k.strip() for k in keywords if isinstance(k, str) and k.strip()),
        hf_featured_on=featured,
        ai_summary=_text(paper.get("ai_summary")),
    )


def _load(text: str) -> object:
    """The JSON document; when one item is nested too deep for the parser, every item is
    read alone, and that one stands as _TooDeep (its entry is rejected, not the list)."""
    try:
        return _loads(text)
    except RecursionError:
        pass
    items = []
    for item_text in _top_level_items(text):
        try:
            items.append(_loads(item_text))
        except RecursionError:
            items.append(_TooDeep(item_text))
    return items


def _loads(text: str) -> object:
    try:
        return json.loads(text, parse_int=_int, parse_constant=float)
    except json.JSONDecodeError as error:
        raise DocumentError(f"truncated or invalid JSON, nothing ingested: {error}") from None


def _int(digits: str) -> int | float:
    # Python's int() refuses 4,300 digits or more (a ValueError that would fail the whole
    # list): a longer number stands as infinity, which its entry is rejected for.
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        return -math.inf if digits.startswith("-") else math.inf
    return int(digits)


def _top_level_items(text: str) -> list[str]:
    """The source text of each item of a top-level JSON array, split at its depth-1 commas
    (strings skipped whole), without parsing the items."""
    items, depth, start = [], 0, None
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth == 1:
                if mark != "[":
                    raise DocumentError("a JSON document nested too deep to read")
                start = token.end()
        elif mark in "]}":
            depth -= 1
            if depth == 0:
                items.append(text[start : token.start()])
                break
        elif mark == "," and depth == 1:
            items.append(text[start : token.start()])
            start = token.end()
    else:
        raise DocumentError("truncated or invalid JSON, nothing ingested")
    return [item for item in items if item.strip()]


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _datetime(value: object, *, what: str) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return bounded_moment(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC), what=what)


def _date(value: object, *, what: str) -> dt.date | None:
    moment = _datetime(value, what=what)
    return moment.astimezone(dt.UTC).date() if moment else None
