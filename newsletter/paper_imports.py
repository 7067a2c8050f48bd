"""Cold start: papers a reader likes, from pasted arXiv ids or URLs or a reference-manager
export (BibTeX, RIS, CSL-JSON), parsed into plain records; no ORM in here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import bibtexparser
import rispy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from newsletter.models import ImportedPaper
from papers.normalise import author_name, one_line
from papers.sources.arxiv_ids import split_arxiv_id

MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_ENTRIES = 2_000
TITLE_CHARS = 1000
ABSTRACT_CHARS = 5000
ARXIV_ID_CHARS = 32
# An arXiv DOI names the paper: 10.48550/arXiv.2301.00001.
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(?P<id>\S+)", re.IGNORECASE)
_BARE_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Za-z-]{2,})?/\d{7})(v\d+)?$")
_PASTED_SEPARATORS = re.compile(r"[\s,;]+")
_BRACES = re.compile(r"[{}]")


class ImportRefused(ValueError):
    """The input is malformed, too big, or names no paper: nothing of it is kept."""


@dataclass(frozen=True)
class ImportRecord:
    origin: ImportedPaper.Origin
    arxiv_id: str
    title: str
    abstract: str = ""


def arxiv_id_in(*texts: object) -> str:
    """The versionless arXiv id in the first of these texts that holds one, or ""."""
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            continue
        doi = _ARXIV_DOI.search(text)
        found = split_arxiv_id(doi["id"] if doi else text)
        if found and ("arxiv" in text.lower() or doi or _looks_like_bare_id(text)):
            return found[0][:ARXIV_ID_CHARS]
    return ""


def _looks_like_bare_id(text: str) -> bool:
    return _BARE_ID.match(text.strip()) is not None


def parse_pasted(text: str) -> list[ImportRecord]:
    """arXiv ids or URLs, one per line (or separated by spaces or commas)."""
    words = [word for word in _PASTED_SEPARATORS.split(text.strip()) if word]
    if len(words) > MAX_IMPORT_ENTRIES:
        raise ImportRefused(_too_many(len(words)))
    unknown = [word for word in words if not arxiv_id_in(word)]
    if unknown:
        shown = ", ".join(word[:40] for word in unknown[:3])
        raise ImportRefused(
            _("These are not arXiv ids or arXiv links: %(words)s.") % {"words": shown}
        )
    records = [
        ImportRecord(origin=ImportedPaper.Origin.ARXIV_ID, arxiv_id=arxiv_id_in(word), title="")
        for word in words
    ]
    return _distinct(records)


def parse_export(data: bytes, *, filename: str = "") -> list[ImportRecord]:
    """A BibTeX, RIS or CSL-JSON file, told apart by its name or else its first characters."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused(
            _("The file is too big: at most %(size)s MB.") % {"size": MAX_IMPORT_BYTES // 10**6}
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRefused(_("The file is not UTF-8 text; export it again as UTF-8.")) from error
    if "\x00" in text:
        raise ImportRefused(_("The file is not a text export."))
    kind = _kind_of(filename, text)
    if kind == ImportedPaper.Origin.BIBTEX:
        records = list(_from_bibtex(text))
    elif kind == ImportedPaper.Origin.RIS:
        records = list(_from_ris(text))
    elif kind == ImportedPaper.Origin.CSL_JSON:
        records = list(_from_csl_json(text))
    else:
        raise ImportRefused(_("Upload a BibTeX (.bib), RIS (.ris) or CSL-JSON (.json) export."))
    records = _distinct(records)
    if not records:
        raise ImportRefused(_("No papers found in the file: each needs a title or an arXiv id."))
    return records


def _too_many(count: int) -> str:
    return ngettext(
        "%(count)d entry is too many: at most %(limit)d.",
        "%(count)d entries are too many: at most %(limit)d.",
        count,
    ) % {"count": count, "limit": MAX_IMPORT_ENTRIES}


def _kind_of(filename: str, text: str) -> ImportedPaper.Origin | None:
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    by_suffix = {
        "bib": ImportedPaper.Origin.BIBTEX,
        "bibtex": ImportedPaper.Origin.BIBTEX,
        "ris": ImportedPaper.Origin.RIS,
        "json": ImportedPaper.Origin.CSL_JSON,
    }
    if suffix in by_suffix:
        return by_suffix[suffix]
    start = text.lstrip()[:1]
    if start in ("[", "{"):
        return ImportedPaper.Origin.CSL_JSON
    if re.search(r"^TY  - ", text, re.MULTILINE):
        return ImportedPaper.Origin.RIS
    if re.search(r"^\s*@\w+\s*[{(]", text, re.MULTILINE):
        return ImportedPaper.Origin.BIBTEX
    return None


def _record(
    origin: ImportedPaper.Origin, *, title: object, abstract: object, arxiv_id: str
) -> ImportRecord | None:
    title_text = one_line(title)[:TITLE_CHARS] if isinstance(title, str) else ""
    abstract_text = one_line(abstract)[:ABSTRACT_CHARS] if isinstance(abstract, str) else ""
    if not title_text and not arxiv_id:
        return None
    return ImportRecord(origin=origin, arxiv_id=arxiv_id, title=title_text, abstract=abstract_text)


def _tex(value: str) -> str:
    if "\\" in value:
        value = author_name(value)  # decodes TeX accents and commands, as for author names
    return _BRACES.sub("", value)


def _from_bibtex(text: str) -> Iterator[ImportRecord]:
    library = bibtexparser.parse_string(text)
    if library.failed_blocks:
        line = library.failed_blocks[0].start_line + 1
        raise ImportRefused(
            _("The BibTeX file is malformed near line %(line)d; nothing was imported.")
            % {"line": line}
        )
    if len(library.entries) > MAX_IMPORT_ENTRIES:
        raise ImportRefused(_too_many(len(library.entries)))
    for entry in library.entries:
        fields = {field.key.lower(): str(field.value) for field in entry.fields}
        eprint = fields.get("eprint", "")
        if eprint and fields.get("archiveprefix", "arxiv").lower() != "arxiv":
            eprint = ""
        arxiv_id = arxiv_id_in(
            f"arXiv:{eprint}" if eprint else "",
            fields.get("doi", ""),
            fields.get("url", ""),
            fields.get("journal", ""),
            fields.get("note", ""),
        )
        record = _record(
            ImportedPaper.Origin.BIBTEX,
            title=_tex(fields.get("title", "")),
            abstract=_tex(fields.get("abstract", "")),
            arxiv_id=arxiv_id,
        )
        if record:
            yield record


def _from_ris(text: str) -> Iterator[ImportRecord]:
    try:
        entries = rispy.loads(text)
    except (ValueError, KeyError, IndexError) as error:
        raise ImportRefused(_("The RIS file is malformed; nothing was imported.")) from error
    if len(entries) > MAX_IMPORT_ENTRIES:
        raise ImportRefused(_too_many(len(entries)))
    for entry in entries:
        urls = entry.get("urls") or []
        arxiv_id = arxiv_id_in(
            entry.get("doi", ""), *(url for url in urls if isinstance(url, str)), entry.get("notes")
        )
        yield from _optional(
            _record(
                ImportedPaper.Origin.RIS,
                title=entry.get("title") or entry.get("primary_title") or "",
                abstract=entry.get("abstract", ""),
                arxiv_id=arxiv_id,
            )
        )


def _from_csl_json(text: str) -> Iterator[ImportRecord]:
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ImportRefused(_("The CSL-JSON file is malformed; nothing was imported.")) from error
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ImportRefused(_("A CSL-JSON export is a list of items; this file is not."))
    if len(items) > MAX_IMPORT_ENTRIES:
        raise ImportRefused(_too_many(len(items)))
    for item in items:
        arxiv_id = arxiv_id_in(
            item.get("DOI"), item.get("URL"), item.get("number"), item.get("note"), item.get("id")
        )
        yield from _optional(
            _record(
                ImportedPaper.Origin.CSL_JSON,
                title=item.get("title", ""),
                abstract=item.get("abstract", ""),
                arxiv_id=arxiv_id,
            )
        )


def _optional(record: ImportRecord | None) -> Iterable[ImportRecord]:
    return (record,) if record else ()


def _distinct(records: Iterable[ImportRecord]) -> list[ImportRecord]:
    """One record per arXiv id (the first, and the one with a title if any), order kept."""
    kept: dict[str, int] = {}
    out: list[ImportRecord] = []
    for record in records:
        if not record.arxiv_id:
            out.append(record)
            continue
        if record.arxiv_id not in kept:
            kept[record.arxiv_id] = len(out)
            out.append(record)
        elif record.title and not out[kept[record.arxiv_id]].title:
            out[kept[record.arxiv_id]] = record
    return out
