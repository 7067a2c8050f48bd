"""Which source wrote a saved response: Atom from the API, an RSS listing, or Hugging Face JSON."""

from __future__ import annotations

import re

from papers.sources.records import ARXIV_API, ARXIV_RSS, HF_DAILY, DocumentError

_ROOT = re.compile(rb"<(?:[\w-]+:)?(rss|feed|RDF)[\s>]")


def detect_kind(content: bytes) -> str:
    """The source kind of `content`, judged from the content alone (never the file name)."""
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise DocumentError("empty file: nothing to ingest")
    if head[:1] in (b"[", b"{"):
        return HF_DAILY
    if head[:1] == b"<":
        root = _ROOT.search(head[:8192])
        if root is None:
            raise DocumentError("XML, but neither an Atom feed nor an RSS listing")
        if root.group(1) == b"feed" and b"announce_type>" not in content:
            return ARXIV_API
        return ARXIV_RSS
    raise DocumentError("unrecognised format: neither XML (Atom, RSS) nor JSON")
