"""Hugging Face Daily Papers (huggingface.co/api/daily_papers): the trending list as JSON.

Each item wraps a `paper` object; `upvotes` sits on that inner object, the comment count on
the item. The list for a date is the day Hugging Face featured the papers, often days after
arXiv announced them; weekends return [].
"""

from __future__ import annotations

import datetime as dt
import json

from papers.sources.arxiv_ids import split_arxiv_id
from papers.sources.records import HF_DAILY, DocumentError, PaperRecord, ParsedDocument, Rejection


def parse(content: bytes, *, featured_on: dt.date | None = None) -> ParsedDocument:
    """Records of one daily list; `featured_on` is the `date=` asked for, if any."""
    if not content.strip():
        raise DocumentError("empty response: no JSON in it")
    try:
        items = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise DocumentError(f"not UTF-8 JSON, nothing ingested: {error}") from None
    except json.JSONDecodeError as error:
        raise DocumentError(f"truncated or invalid JSON, nothing ingested: {error}") from None
    if isinstance(items, dict) and "error" in items:
        raise DocumentError(f"Hugging Face API error: {items['error']}")
    if not isinstance(items, list):
        raise DocumentError(f"expected a JSON list of papers, got a JSON {type(items).__name__}")

    document = ParsedDocument(kind=HF_DAILY, listed_on=featured_on)
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            document.rejections.append(Rejection(position, "not a JSON object"))
            continue
        paper = item.get("paper") if isinstance(item.get("paper"), dict) else {}
        title = _text(item.get("title")) or _text(paper.get("title"))
        identity = split_arxiv_id(_text(paper.get("id")) or _text(item.get("id")))
        if identity is None:
            document.rejections.append(Rejection(position, "no arXiv id", reference=title[:80]))
            continue
        arxiv_id, version = identity
        if not title:
            document.rejections.append(Rejection(position, "no title", reference=arxiv_id))
            continue
        featured = (
            featured_on or _date(item.get("publishedAt")) or _date(paper.get("submittedOnDailyAt"))
        )
        authors = paper.get("authors") if isinstance(paper.get("authors"), list) else []
        keywords = paper.get("ai_keywords") if isinstance(paper.get("ai_keywords"), list) else []
        document.records.append(
            PaperRecord(
                arxiv_id=arxiv_id,
                version=version,
                title=title,
                abstract=_text(paper.get("summary")) or _text(item.get("summary")),
                authors=tuple(
                    name
                    for author in authors
                    if isinstance(author, dict) and (name := _text(author.get("name")))
                ),
                published_at=_datetime(paper.get("publishedAt")),
                code_url=_text(paper.get("githubRepo")),
                project_url=_text(paper.get("projectPage")),
                hf_upvotes=_count(paper.get("upvotes")),
                hf_comments=_count(item.get("numComments")),
                hf_keywords=tuple(k.strip() for k in keywords if isinstance(k, str) and k.strip()),
                hf_featured_on=featured,
            )
        )
    return document


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(int(value), 0)


def _datetime(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _date(value: object) -> dt.date | None:
    moment = _datetime(value)
    return moment.astimezone(dt.UTC).date() if moment else None
