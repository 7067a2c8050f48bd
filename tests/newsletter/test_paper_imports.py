"""Cold start parsers: pasted arXiv ids and links, BibTeX, RIS and CSL-JSON exports; bad,
huge or empty input is refused with a clear message."""

from __future__ import annotations

import json

import pytest

from newsletter.models import ImportedPaper
from newsletter.paper_imports import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ENTRIES,
    ImportRecord,
    ImportRefused,
    parse_export,
    parse_pasted,
)

Origin = ImportedPaper.Origin

ZOTERO_BIBTEX = r"""
@article{ho2020denoising,
  title = {Denoising {Diffusion} Probabilistic Models},
  author = {Ho, Jonathan and Jain, Ajay and Abbeel, Pieter},
  year = {2020},
  eprint = {2006.11239v2},
  archivePrefix = {arXiv},
  abstract = {We present high quality image synthesis results.},
}

@inproceedings{sch\"olkopf,
  title = {Kernel methods by Sch{\"o}lkopf},
  booktitle = {NeurIPS},
  doi = {10.1000/xyz},
}

@misc{doi-only,
  title = {Attention is all you need},
  doi = {10.48550/arXiv.1706.03762},
}
"""

ZOTERO_RIS = """TY  - JOUR
TI  - Denoising Diffusion Probabilistic Models
AB  - We present high quality image synthesis results.
UR  - http://arxiv.org/abs/2006.11239
ER  -

TY  - BOOK
T1  - A book without arXiv
ER  -
"""

ZOTERO_CSL = [
    {
        "id": "http://zotero.org/users/1/items/ABC",
        "type": "article",
        "title": "Denoising Diffusion Probabilistic Models",
        "abstract": "We present high quality image synthesis results.",
        "number": "arXiv:2006.11239",
        "URL": "http://arxiv.org/abs/2006.11239",
    },
    {"id": "x", "type": "book", "title": "A book without arXiv"},
]


# --- Pasted ids -------------------------------------------------------------------------------


def test_pasted_ids_and_links_in_any_spelling_give_versionless_arxiv_ids():
    pasted = """2403.18791
    https://arxiv.org/abs/2501.00001v3, arXiv:2312.11111
    http://arxiv.org/pdf/2401.22222v1.pdf   hep-th/9901001
    2403.18791v2
    """

    records = parse_pasted(pasted)

    assert [record.arxiv_id for record in records] == [
        "2403.18791",
        "2501.00001",
        "2312.11111",
        "2401.22222",
        "hep-th/9901001",
    ]
    assert {record.origin for record in records} == {Origin.ARXIV_ID}


@pytest.mark.parametrize(
    "pasted", ["diffusion models", "https://example.org/2403.18791", "2403.18791 12345"]
)
def test_pasted_words_that_are_not_arxiv_ids_are_refused_by_name(pasted):
    with pytest.raises(ImportRefused, match="These are not arXiv ids or arXiv links"):
        parse_pasted(pasted)


def test_too_many_pasted_ids_are_refused():
    pasted = "\n".join(f"2403.{n:05d}" for n in range(MAX_IMPORT_ENTRIES + 1))

    with pytest.raises(ImportRefused, match="2001 entries are too many: at most 2000"):
        parse_pasted(pasted)


# --- Exports ----------------------------------------------------------------------------------


def test_a_zotero_bibtex_export_gives_titles_abstracts_and_arxiv_ids():
    records = parse_export(ZOTERO_BIBTEX.encode(), filename="My Library.bib")

    assert records == [
        ImportRecord(
            origin=Origin.BIBTEX,
            arxiv_id="2006.11239",
            title="Denoising Diffusion Probabilistic Models",
            abstract="We present high quality image synthesis results.",
        ),
        ImportRecord(origin=Origin.BIBTEX, arxiv_id="", title="Kernel methods by Schölkopf"),
        ImportRecord(
            origin=Origin.BIBTEX, arxiv_id="1706.03762", title="Attention is all you need"
        ),
    ]


def test_a_ris_export_gives_titles_and_arxiv_ids_from_links():
    records = parse_export(ZOTERO_RIS.encode(), filename="export.ris")

    assert records == [
        ImportRecord(
            origin=Origin.RIS,
            arxiv_id="2006.11239",
            title="Denoising Diffusion Probabilistic Models",
            abstract="We present high quality image synthesis results.",
        ),
        ImportRecord(origin=Origin.RIS, arxiv_id="", title="A book without arXiv"),
    ]


def test_a_csl_json_export_gives_titles_and_arxiv_ids():
    records = parse_export(json.dumps(ZOTERO_CSL).encode(), filename="export.json")

    assert [(r.origin, r.arxiv_id, r.title) for r in records] == [
        (Origin.CSL_JSON, "2006.11239", "Denoising Diffusion Probabilistic Models"),
        (Origin.CSL_JSON, "", "A book without arXiv"),
    ]


@pytest.mark.parametrize(
    ("content", "origin"),
    [
        (ZOTERO_BIBTEX.encode(), Origin.BIBTEX),
        (ZOTERO_RIS.encode(), Origin.RIS),
        (json.dumps(ZOTERO_CSL).encode(), Origin.CSL_JSON),
    ],
)
def test_a_file_without_a_telling_name_is_recognised_by_its_content(content, origin):
    records = parse_export(content, filename="download")

    assert {record.origin for record in records} == {origin}


def test_one_paper_twice_in_an_export_is_kept_once():
    twice = ZOTERO_BIBTEX + "\n@misc{again, title={DDPM again}, eprint={2006.11239}}\n"

    records = parse_export(twice.encode(), filename="x.bib")

    assert [record.arxiv_id for record in records] == ["2006.11239", "", "1706.03762"]


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"@article{a, title = {Unclosed", "x.bib", "The BibTeX file is malformed near line 1"),
        (
            ZOTERO_BIBTEX.encode() + b"\n@misc{b, title = {Broken,\n",
            "x.bib",
            "The BibTeX file is malformed",
        ),
        (b"just some notes, no entries", "x.bib", "No papers found in the file"),
        (b"@misc{a, year={2020}}", "x.bib", "No papers found in the file"),
        (b"TY  - JOUR\nTI  - never ends\n", "x.ris", "No papers found in the file"),
        (b"[{not json", "x.json", "The CSL-JSON file is malformed"),
        (b'{"items": 3}', "x.json", "No papers found in the file"),
        (b'"a string"', "x.json", "A CSL-JSON export is a list of items"),
        (b"\xff\xfe\x00b\x00i\x00b", "x.bib", "not UTF-8 text"),
        (b"hello", "notes.txt", "Upload a BibTeX (.bib), RIS (.ris) or CSL-JSON (.json) export"),
    ],
)
def test_a_malformed_or_empty_file_is_refused_with_a_clear_message(content, filename, message):
    with pytest.raises(ImportRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_export(content, filename=filename)


def test_a_file_over_a_megabyte_is_refused():
    huge = b"%" + b" " * MAX_IMPORT_BYTES

    with pytest.raises(ImportRefused, match="The file is too big: at most 1 MB"):
        parse_export(huge, filename="x.bib")


def test_a_file_with_more_than_two_thousand_entries_is_refused():
    items = [{"title": f"Paper {n}"} for n in range(MAX_IMPORT_ENTRIES + 1)]

    with pytest.raises(ImportRefused, match="2001 entries are too many"):
        parse_export(json.dumps(items).encode(), filename="x.json")


def test_a_very_long_title_and_abstract_are_cut_to_what_is_stored():
    items = [{"title": "T" * 5000, "abstract": "A" * 50_000}]

    (record,) = parse_export(json.dumps(items).encode(), filename="x.json")

    assert (len(record.title), len(record.abstract)) == (1000, 5000)
