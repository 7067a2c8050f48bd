"""Clean text as Paperboy stores it: one-line titles and abstracts, readable author names,
the code and project links authors mention in their abstract or comment, and the one rule of
which links may become an href (http and https only)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

from pylatexenc.latex2text import LatexNodes2Text

URL_MAX_LENGTH = 500
MAX_MACHINE_SUMMARY = 400  # Hugging Face's are one sentence, ~150 characters

# A link as written in prose: stop at whitespace, quotes, brackets and LaTeX braces.
_URL = re.compile(
    r"(?:https?://|(?<![\w./-])(?=(?:www\.)?github\.com/|gitlab\.com/|[\w-]+\.github\.io\b))"
    r"[^\s<>\"'(){}\[\]\\]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?*'\"`"
_PROJECT_LABEL = re.compile(
    r"(?:project|project\s+page|project\s+website|website|homepage|home\s+page|demo|page)\s*:?\s*$",
    re.IGNORECASE,
)
_CODE_HOSTS = ("github.com", "gitlab.com")


# Control characters other than whitespace: NUL is refused by PostgreSQL, the rest are noise.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def one_line(text: str) -> str:
    """arXiv wraps titles and abstracts at ~80 columns and pads with spaces: one line, single
    spaces, no control characters."""
    return " ".join(_CONTROL.sub("", text).split())


def machine_summary(text: str) -> str:
    """A machine-written summary as Paperboy stores it: plain text on one line, no control
    characters, at most MAX_MACHINE_SUMMARY characters (cut at a word, with an ellipsis).
    Markup stays as text: every template escapes it."""
    text = one_line(text)
    if len(text) <= MAX_MACHINE_SUMMARY:
        return text
    cut = text[: MAX_MACHINE_SUMMARY - 1].rsplit(" ", 1)[0] or text[: MAX_MACHINE_SUMMARY - 1]
    return cut.rstrip(",;:.") + "…"


def http_link(url: object) -> str:
    """`url` when it is an absolute http(s) link to a host, else "": the only links Paperboy
    stores or turns into an href (never javascript:, data:, vbscript:, in any letter case)."""
    if not isinstance(url, str) or len(url) > URL_MAX_LENGTH:
        return ""
    url = url.strip()
    if not url or _CONTROL.search(url) or any(ch.isspace() for ch in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced [ in the host
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return url


@lru_cache(maxsize=1)
def _latex() -> LatexNodes2Text:
    return LatexNodes2Text()


@lru_cache(maxsize=16384)
def author_name(name: str) -> str:
    """Older arXiv metadata spells accents in TeX (J\\"urgen, Fran\\c{c}ois): decode those,
    leave every other name alone (a bare % or & is not LaTeX in a name)."""
    if "\\" in name or "{" in name:
        name = _latex().latex_to_text(name)
    return unicodedata.normalize("NFC", one_line(name))


def split_author_list(text: str) -> list[str]:
    """RSS gives one string, "A, B and C": split on commas and a final "and"."""
    parts = [part.strip() for part in text.split(",")]
    if parts and " and " in parts[-1]:
        parts[-1:] = [part.strip() for part in parts[-1].split(" and ")]
    return [part for part in parts if part]


def links_in(text: str) -> list[str]:
    """Every link in `text`, trailing sentence punctuation and unbalanced brackets removed."""
    found = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if not url.lower().startswith(("http://", "https://")):
            url = "https://" + url
        if http_link(url):
            found.append(url)
    return found


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def _is_repository(url: str) -> bool:
    host = _host(url)
    path = [part for part in urlsplit(url).path.split("/") if part]
    if host in _CODE_HOSTS:
        return len(path) >= 2
    if host == "huggingface.co":
        # A model, dataset or Space; /papers/ pages are Hugging Face's own paper pages.
        return bool(path) and path[0] != "papers" and len(path) >= 2
    return False


def _is_pages_site(url: str) -> bool:
    return _host(url).endswith((".github.io", ".gitlab.io"))


def code_and_project_urls(text: str) -> tuple[str, str]:
    """(code link, project page) mentioned in an abstract or comment, "" when there is none.

    Code: a GitHub or GitLab repository, else a Hugging Face model, dataset or Space. Project:
    a *.github.io / *.gitlab.io site, else a link labelled "Project page:" or "Website:".
    """
    urls = links_in(text)
    code = next((u for u in urls if _host(u) in _CODE_HOSTS and _is_repository(u)), "")
    code = code or next((u for u in urls if _is_repository(u)), "")
    project = next((u for u in urls if _is_pages_site(u)), "")
    if not project:
        for match in _URL.finditer(text):
            if _PROJECT_LABEL.search(text[max(0, match.start() - 30) : match.start()]):
                url = match.group(0).rstrip(_TRAILING)
                if url != code and http_link(url):
                    project = url
                    break
    return code, project
