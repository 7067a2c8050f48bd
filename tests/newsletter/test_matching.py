"""The query syntax readers type, and the index that answers it."""

from __future__ import annotations

import pytest

from newsletter.matching import (
    IndexedPaper,
    PaperIndex,
    QuerySyntaxError,
    parse_categories,
    parse_query,
)

PAPERS = [
    IndexedPaper(1, "Text-to-Image Diffusion at Scale", "We train a diffusion model.", ["cs.CV"]),
    IndexedPaper(2, "A Survey of Diffusion Models", "We survey diffusion.", ["cs.LG", "cs.CV"]),
    IndexedPaper(3, "Video generation", "Text to image, then video.", ["cs.CV"], ["Zoë Müller"]),
    IndexedPaper(4, "Language agents", "Agents that use tools.", ["cs.CL"], ["Ada Lovelace"]),
]


@pytest.fixture
def index() -> PaperIndex:
    return PaperIndex.build(PAPERS)


def search(index: PaperIndex, text: str) -> set[int]:
    return set(index.search(parse_query(text)))


def test_words_must_all_appear_case_insensitively(index):
    assert search(index, "DIFFUSION scale") == {1}


def test_a_quoted_phrase_matches_its_words_in_order(index):
    assert search(index, '"text-to-image"') == {1, 3}
    assert search(index, '"image to text"') == set()


def test_or_offers_alternatives_and_binds_tighter_than_and(index):
    assert search(index, "video OR agents") == {3, 4}
    assert search(index, "diffusion survey OR scale") == {1, 2}


def test_excluded_words_and_phrases_remove_papers(index):
    assert search(index, '"text-to-image" diffusion -survey') == {1}
    assert search(index, "diffusion -survey") == {1}
    assert search(index, 'diffusion -"at scale"') == {2}


def test_accents_are_ignored_in_queries_and_authors(index):
    assert index.by_authors(["zoe muller"]) == {3}
    assert index.by_authors(["Lovelace"]) == {4}
    assert index.by_authors(["Ada Turing"]) == set()


def test_categories_match_primary_and_cross_lists(index):
    assert index.in_categories(["cs.cv"]) == {1, 2, 3}


def test_the_card_says_which_words_matched_and_whether_in_the_title(index):
    query = parse_query("diffusion OR video train")
    assert index.matched_phrases(query, 1) == ["diffusion", "train"]
    assert index.hits_title(query, 1)
    assert not index.hits_title(parse_query("train"), 1)


def test_equal_queries_share_one_canonical_spelling():
    assert parse_query('Diffusion  "Text-to-Image"').canonical == 'diffusion "text to image"'
    assert parse_query("a OR b -c").canonical == parse_query("a  OR B  -C").canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"unclosed', "quote is not closed"),
        ("diffusion -", "lone '-'"),
        ("- survey", "lone '-'"),
        ("OR diffusion", "Put OR between"),
        ("diffusion OR", "ends with OR"),
        ("-survey", "at least one word"),
        ('""', "Empty quotes"),
        ("+++", "no letters or digits"),
        (" ".join(["w"] * 41), "at most 40"),
        ("x" * 501, "under 500"),
    ],
)
def test_malformed_queries_are_refused_with_a_clear_message(text, message):
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(text)


def test_categories_are_validated():
    assert parse_categories("cs.CV, cs.LG cs.CV") == ["cs.CV", "cs.LG"]
    with pytest.raises(QuerySyntaxError, match="not an arXiv category"):
        parse_categories("cs.CV; <script>")
