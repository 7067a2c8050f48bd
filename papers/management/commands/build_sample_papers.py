"""Rebuild papers/sample_data/papers.json from a keyword-table digest (maintainers, once)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from papers.sample_data import SAMPLE_PAPERS_PATH

ROW = re.compile(
    r"^\| \*\*\[(?P<title>.+?)\]\((?P<url>https?://arxiv\.org/abs/[^)\s]+)\)\*\* "
    r"\| (?P<date>\d{4}-\d\d-\d\d) "
    r"\| (?P<abstract><details>.*?</details>) "
    r"\| (?P<comment>.*?) "
    r"\| (?P<code>.*?) \|\s*$"
)
PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)
LINK = re.compile(r"\((https?://[^)\s]+)\)")
ARXIV_URL = re.compile(r"arxiv\.org/abs/(?P<id>[^v\s]+?)(?:v(?P<version>\d+))?$")
# The seed digest carries no categories; these words pick a plausible primary one.
CATEGORY_HINTS = [
    ("cs.RO", ("robot", "manipulation", "embodied")),
    ("cs.CL", ("language model", "llm", "text generation")),
    ("eess.AS", ("audio", "speech", "music")),
    ("cs.LG", ("reinforcement learning", "optimization", "theory")),
]


class Command(BaseCommand):
    help = "Build the shipped sample papers from a keyword-table digest (Markdown)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("table", type=Path, help="keyword_table_digest_*.md")

    def handle(self, *args, table: Path, **options) -> None:
        if not table.is_file():
            raise CommandError(f"{table} is not a file")
        papers = [row for line in table.read_text().splitlines() if (row := parse_row(line))]
        if not papers:
            raise CommandError(f"no paper rows found in {table}")
        SAMPLE_PAPERS_PATH.write_text(json.dumps(papers, indent=1, ensure_ascii=False) + "\n")
        self.stdout.write(f"wrote {len(papers)} papers to {SAMPLE_PAPERS_PATH}")


def parse_row(line: str) -> dict | None:
    match = ROW.match(line)
    if not match:
        return None
    url = ARXIV_URL.search(match["url"])
    if not url:
        return None
    abstract = _paragraph(match["abstract"])
    comment = _paragraph(match["comment"]) if "<p>" in match["comment"] else match["comment"]
    code = LINK.search(match["code"])
    text = f"{match['title']} {abstract}".lower()
    primary = next(
        (category for category, words in CATEGORY_HINTS if any(w in text for w in words)), "cs.CV"
    )
    return {
        "arxiv_id": url["id"],
        "version": int(url["version"] or 1),
        "title": html.unescape(match["title"]),
        "announced_on": match["date"],
        "abstract": abstract,
        "comment": "" if comment.strip() in ("", "None") else comment.strip(),
        "code_url": code.group(1) if code else "",
        "primary_category": primary,
        "categories": [primary] if primary == "cs.CV" else [primary, "cs.CV"],
    }


def _paragraph(cell: str) -> str:
    found = PARAGRAPH.search(cell)
    return html.unescape(found.group(1)).strip() if found else ""
