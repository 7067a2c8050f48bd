"""arXiv identifiers: the versionless id a paper is stored under, from any way it is written."""

from __future__ import annotations

import re

# New style 2403.18791 (4 digits after the dot until 2014, 5 since); old style hep-th/9901001,
# sometimes written with the subject class (math.GT/0309136), which is not part of the id.
_ID = re.compile(
    r"(?:^|[/:\s])"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z-]{2,})?/\d{7})"
    r"(?:v(?P<version>\d+))?"
    r"(?:$|[\s?#.,;)\]])",
)


def split_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """("2403.18791", 2) from "http://arxiv.org/abs/2403.18791v2", "oai:arXiv.org:2403.18791v2",
    "arXiv:2403.18791v2" or "2403.18791v2"; None when `text` holds no arXiv id."""
    match = _ID.search(text.strip())
    if not match:
        return None
    arxiv_id = match["id"]
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/")
        arxiv_id = f"{archive.split('.')[0]}/{number}"
    version = int(match["version"]) if match["version"] else None
    return arxiv_id, version
