"""Parsers: each recorded format into plain records; unusable documents refused whole."""

from __future__ import annotations

import datetime as dt

import pytest

from papers.normalise import author_name, code_and_project_urls, one_line, split_author_list
from papers.sources import arxiv_api, arxiv_rss, hf_daily
from papers.sources.arxiv_ids import split_arxiv_id
from papers.sources.detect import detect_kind
from papers.sources.records import DocumentError
from tests.papers.conftest import recorded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://arxiv.org/abs/2403.18791v2", ("2403.18791", 2)),
        ("oai:arXiv.org:2403.18791v1", ("2403.18791", 1)),
        ("arXiv:2403.18791", ("2403.18791", None)),
        ("https://arxiv.org/abs/2503.10638", ("2503.10638", None)),
        ("1501.0001v3", ("1501.0001", 3)),
        ("http://arxiv.org/abs/hep-th/9901001v3", ("hep-th/9901001", 3)),
        ("oai:arXiv.org:cond-mat/0102536v1", ("cond-mat/0102536", 1)),
        ("math.GT/0309136", ("math/0309136", None)),
        ("http://arxiv.org/api/errors#incorrect_id_format_for_1234.1234", None),
        ("2403.187915", None),
        ("", None),
    ],
)
def test_arxiv_ids_lose_their_version_whatever_their_spelling(text, expected):
    assert split_arxiv_id(text) == expected


def test_the_api_feed_gives_every_field_of_an_entry():
    document = arxiv_api.parse(recorded("arxiv_api_search.atom"))

    assert document.total_results == 4
    assert [r.arxiv_id for r in document.records] == [
        "2502.07701",
        "2502.06130",
        "2502.05153",
        "hep-ex/0307015",
    ]
    degf = document.records[1]
    assert degf.version == 1
    assert degf.authors == ("Zhang Ce", "Aisha Okafor")
    assert degf.primary_category == "cs.CV"
    assert degf.categories == ("cs.CV", "cs.LG")
    assert degf.published_at == dt.datetime(2025, 2, 10, 3, 21, 8, tzinfo=dt.UTC)
    assert degf.journal_ref == "ICLR 2025"
    assert degf.doi == "10.48550/arXiv.2502.06130"
    old = document.records[3]
    assert old.published_at == dt.datetime(2003, 7, 7, 17, 46, 39, tzinfo=dt.UTC)


def test_an_arxiv_error_feed_is_an_error_not_a_paper():
    with pytest.raises(DocumentError) as error:
        arxiv_api.parse(recorded("arxiv_api_error.atom"))

    assert str(error.value) == "arXiv API error: incorrect id format for 1234.12345"


def test_malformed_xml_is_refused_whole_even_if_feedparser_salvaged_entries():
    with pytest.raises(DocumentError) as error:
        arxiv_api.parse(recorded("arxiv_api_malformed.atom"))

    assert str(error.value).startswith("malformed XML, nothing ingested: <unknown>:")
    assert str(error.value).endswith("no element found")


def test_an_empty_response_is_an_error():
    with pytest.raises(DocumentError, match="^empty response: no feed in it$"):
        arxiv_api.parse(b"  \n")


def test_an_html_page_is_not_taken_for_a_feed():
    with pytest.raises(DocumentError, match="^expected atom, got not a feed$"):
        arxiv_api.parse(b"<html><body>Service temporarily unavailable</body></html>")


def test_the_listing_is_dated_in_new_york_and_typed_per_item():
    document = arxiv_rss.parse(recorded("arxiv_rss_2025-02-13.xml"))

    assert document.listed_on == dt.date(2025, 2, 13)
    assert [(r.arxiv_id, r.version, r.announce_type) for r in document.records] == [
        ("2502.09775", 1, "new"),
        ("2502.09611", 1, "new"),
        ("2502.09434", 1, "new"),
        ("2502.09411", 1, "new"),
        ("2502.09307", 1, "cross"),
        ("2502.08927", 1, "new"),
        ("2412.05000", 2, "replace"),
        ("2404.14755", 2, "replace-cross"),
        ("2502.08011", 2, "replace"),
    ]
    first = document.records[0]
    assert first.authors == ("Zoë Ångström", "Mateus Oliveira", "Chen Wei")
    assert first.abstract.startswith("Building a virtual cell capable")
    assert first.categories == ("q-bio.QM", "cs.CV", "cs.LG")
    assert first.primary_category == ""


def test_an_rss_listing_without_items_parses_to_nothing():
    document = arxiv_rss.parse(recorded("arxiv_rss_weekend.xml"))

    assert (document.listed_on, document.records, document.rejections) == (
        dt.date(2025, 2, 15),
        [],
        [],
    )


def test_malformed_rss_is_refused():
    with pytest.raises(DocumentError, match="^malformed XML, nothing ingested: .*mismatched tag$"):
        arxiv_rss.parse(recorded("arxiv_rss_malformed.xml"))


def test_hugging_face_upvotes_sit_on_the_inner_paper():
    document = hf_daily.parse(recorded("hf_daily_papers_2025-02-14.json"))

    magic = document.records[0]
    assert (magic.arxiv_id, magic.hf_upvotes, magic.hf_comments) == ("2502.07701", 57, 3)
    assert magic.hf_featured_on == dt.date(2025, 2, 14)
    assert magic.code_url == "https://github.com/DA-Group-PKU/Magic-1-For-1"
    assert document.records[1].project_url == "https://rotem-shalev.github.io/ImageRAG"
    assert [str(r) for r in document.rejections] == [
        "entry 5 (Magic 1-For-1: Generating One Minute Video Clips within One Minute): no arXiv id",
        "entry 6 (2502.09412): no title",
    ]


def test_truncated_json_is_refused_with_where_it_broke():
    with pytest.raises(DocumentError) as error:
        hf_daily.parse(recorded("hf_daily_papers_truncated.json"))

    assert str(error.value).startswith("truncated or invalid JSON, nothing ingested: ")
    assert "line 94" in str(error.value)


def test_a_hugging_face_error_object_is_an_error():
    with pytest.raises(DocumentError, match="^Hugging Face API error: Invalid date$"):
        hf_daily.parse(b'{"error": "Invalid date"}')


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("arxiv_api_search.atom", "arxiv_api"),
        ("arxiv_api_error.atom", "arxiv_api"),
        ("arxiv_rss_2025-02-13.xml", "arxiv_rss"),
        ("arxiv_rss_weekend.xml", "arxiv_rss"),
        ("hf_daily_papers_2025-02-14.json", "hf_daily"),
        ("hf_daily_papers_truncated.json", "hf_daily"),
    ],
)
def test_the_format_of_a_saved_response_is_told_from_its_content(name, kind):
    assert detect_kind(recorded(name)) == kind


def test_content_that_is_no_known_format_is_refused():
    with pytest.raises(DocumentError, match="^unrecognised format"):
        detect_kind(b"title,abstract\nA,B\n")
    with pytest.raises(DocumentError, match="^empty file"):
        detect_kind(b"\xef\xbb\xbf  \n")


def test_whitespace_is_normalised_to_single_spaces():
    assert one_line("Flow   Matching\n  for   Generative\tModeling ") == (
        "Flow Matching for Generative Modeling"
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ('J\\"urgen M\\"uller', "Jürgen Müller"),
        ("Fran\\c{c}ois Fleuret", "François Fleuret"),
        ("Pawe{\\l} Nowak", "Paweł Nowak"),
        ("Jos\\'e Mar\\'ia  P\\'erez", "José María Pérez"),
        ("Zoë Ångström", "Zoë Ångström"),
        ("50% Collaboration & Co", "50% Collaboration & Co"),
        ("李明", "李明"),
    ],
)
def test_author_names_are_decoded_from_tex_and_left_alone_otherwise(raw, clean):
    assert author_name(raw) == clean


def test_a_listing_author_line_splits_on_commas_and_a_final_and():
    assert split_author_list("Ada Lovelace, Alan Turing and Grace Hopper") == [
        "Ada Lovelace",
        "Alan Turing",
        "Grace Hopper",
    ]


@pytest.mark.parametrize(
    ("text", "code", "project"),
    [
        (
            "The code is available at https://github.com/DA-Group-PKU/Magic-1-For-1.",
            "https://github.com/DA-Group-PKU/Magic-1-For-1",
            "",
        ),
        (
            "Accepted by ICLR 2025. Project page:https://zhangce01.github.io/DeGF/. "
            "Code: github.com/zhangce01/DeGF",
            "https://github.com/zhangce01/DeGF",
            "https://zhangce01.github.io/DeGF/",
        ),
        (
            "Code (https://gitlab.com/group/tool), weights at "
            "https://huggingface.co/org/model; see https://huggingface.co/papers/2502.1",
            "https://gitlab.com/group/tool",
            "",
        ),
        ("Weights: https://huggingface.co/org/model!", "https://huggingface.co/org/model", ""),
        ("Project page: https://example.org/proj/ (ICLR)", "", "https://example.org/proj/"),
        (
            "Demo: \\url{https://saiyan-world.github.io/goku/}",
            "",
            "https://saiyan-world.github.io/goku/",
        ),
        ("See https://github.com for more.", "", ""),
    ],
)
def test_code_and_project_links_are_found_and_trailing_punctuation_stripped(text, code, project):
    assert code_and_project_urls(text) == (code, project)
