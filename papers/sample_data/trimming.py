"""Saved responses made into sample captures: Hugging Face lists cut to what Paperboy reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from papers.sample_data import parse_saved_response
from papers.sources.detect import detect_kind
from papers.sources.records import HF_DAILY, DocumentError

# What hf_daily.parse reads, in the API's own order; avatars, media, submitters and
# organisations are left out (they are most of a list's bytes and Paperboy shows none).
HF_PAPER_FIELDS = (
    "id",
    "authors",
    "publishedAt",
    "submittedOnDailyAt",
    "title",
    "summary",
    "upvotes",
    "projectPage",
    "githubRepo",
    "ai_summary",
    "ai_keywords",
)
HF_ITEM_FIELDS = ("title", "numComments")


def trimmed_hf_daily(content: bytes, *, limit: int | None = None) -> bytes:
    """A Hugging Face daily list keeping its first `limit` papers (the API's order: most
    upvoted first) and, of each, the fields Paperboy reads; authors keep their names."""
    try:
        items = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DocumentError(f"not a Hugging Face list: {error}") from None
    if not isinstance(items, list):
        raise DocumentError("not a Hugging Face list: expected a JSON list of papers")
    kept = []
    for item in items[:limit] if limit else items:
        paper = item.get("paper") if isinstance(item, dict) else None
        if not isinstance(paper, dict):
            continue
        trimmed = {name: paper[name] for name in HF_PAPER_FIELDS if name in paper}
        trimmed["authors"] = [
            {"name": author["name"]}
            for author in paper.get("authors") or []
            if isinstance(author, dict) and author.get("name")
        ]
        rest = {name: item[name] for name in HF_ITEM_FIELDS if name in item}
        kept.append({"paper": trimmed, **rest})
    return (json.dumps(kept, indent=2, ensure_ascii=False) + "\n").encode()


def add_capture(
    path: Path, *, directory: Path, on: dt.date | None = None, limit: int | None = None
) -> Path:
    """Copy the saved response at `path` into `directory`, named after its source and day as
    the sample loader reads it: Hugging Face lists trimmed, arXiv feeds byte for byte."""
    content = path.read_bytes()
    kind = detect_kind(content)
    if kind == HF_DAILY:
        if on is None:
            raise ValueError("a Hugging Face list needs the date it was fetched for (--date)")
        content = trimmed_hf_daily(content, limit=limit)
    elif limit:
        raise ValueError("--limit cuts Hugging Face lists only; arXiv feeds are kept whole")
    document = parse_saved_response(content, featured_on=on)
    if not document.records:
        raise DocumentError(f"{path.name} holds no paper Paperboy can read")
    if kind == HF_DAILY:
        name = f"hf_daily_papers_{on}.json"
    else:
        stamps = [r.updated_at or r.published_at for r in document.records]
        day = document.listed_on or on or max(s for s in stamps if s).date()
        name = f"{kind}_{day}.xml"
    target = directory / name
    if target.exists():
        raise FileExistsError(f"{name} is already a capture")
    target.write_bytes(content)
    return target
