"""The query syntax readers type, and the index that answers it."""

from __future__ import annotations

import itertools

import pytest

from newsletter.matching import (
    IndexedPaper,
    PaperIndex,
    QuerySyntaxError,
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
    match = index.explain(parse_query("diffusion OR video train"), 1)

    assert match.found_words() == ["diffusion", "train"]
    assert [(hit.term, hit.in_title, hit.mentions) for hit in match.hits] == [
        ("diffusion", True, 2),
        ("train", False, 1),
    ]


def test_a_title_term_looks_at_the_title_only(index):
    assert search(index, "title:diffusion") == {1, 2}
    assert search(index, "title:video") == {3}
    assert search(index, "video") == {3}
    assert search(index, "title:text-to-image") == {1}
    assert search(index, 'title:"models diffusion"~1') == {2}


def test_an_excluded_title_term_leaves_out_only_papers_titled_with_it(index):
    assert search(index, "text-to-image -title:video") == {1}
    assert search(index, "diffusion -title:survey") == {1}
    assert search(index, "Diffusion -TITLE:Survey") == {1}


def test_a_title_term_makes_a_strong_match(index):
    query = parse_query("title:video image")

    match = index.explain(query, 3)

    assert match.strong
    assert [(hit.found, hit.in_title) for hit in match.hits] == [
        ("video", True),
        ("image", False),
    ]
    assert index.search(query, strong_only=True) == {3}


def test_equal_queries_share_one_canonical_spelling():
    assert parse_query('TITLE:"Video"  -Title:Survey').canonical == 'title:"video" -title:survey'

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
        ("title:", "right after title:"),
        ("diffusion -title: survey", "right after title:"),
    ],
)
def test_malformed_queries_are_refused_with_a_clear_message(text, message):
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(text)


# --- word forms, near phrases, synonyms, strength, bounds -------------------------------------

from newsletter.matching import (  # noqa: E402
    MAX_PHRASE_CHECKS,
    NO_SYNONYMS,
    PHRASE_CACHE_ENTRIES,
    QUERY_CACHE_ENTRIES,
    QueryTooBroad,
    Strength,
    SynonymTable,
)

FORMS = [
    IndexedPaper(10, "Generating images with a diffusion model", "Generated images look real."),
    IndexedPaper(11, "An image generator", "We train it on T2I data. Optimisation is hard."),
    IndexedPaper(12, "Image generation at scale", "Image generation, done well."),
    IndexedPaper(
        13,
        "Segmentation",
        "We segment organs in CT scans with a small network trained on few labels; a pre-trained "
        "text-to-image model helps; no generation.",
    ),
    IndexedPaper(14, "LLMs and 3D Gaussian Splatting", "We quantize the model."),
]


@pytest.fixture
def forms() -> PaperIndex:
    return PaperIndex.build(FORMS)


def found(index: PaperIndex, text: str, synonyms: SynonymTable = NO_SYNONYMS) -> set[int]:
    return set(index.search(parse_query(text, synonyms=synonyms)))


def test_unquoted_words_find_their_other_forms(forms):
    assert found(forms, "generate") == {10, 11, 12, 13}
    assert found(forms, "llm") == {14}
    assert found(forms, "optimization quantization") == set()
    assert found(forms, "optimization") == {11}
    assert found(forms, "quantized") == {14}


def test_quoted_phrases_stay_exact(forms):
    assert found(forms, '"image generation"') == {12}
    assert found(forms, '"generated images"') == {10}
    assert found(forms, '"images"') == {10}


def test_a_near_phrase_tolerates_word_forms_and_order(forms):
    assert found(forms, '"image generation"~') == {10, 11, 12}
    assert found(forms, '"image generation"~0') == {10, 11, 12}
    assert found(forms, '"generation model"~1') == set()
    assert found(forms, '"generating model"~4') == {10, 13}


def test_synonyms_widen_unquoted_terms_both_ways_but_not_quoted_ones(forms):
    table = SynonymTable.build(
        [("T2I", "text-to-image", True), ("3DGS", "gaussian splatting", True)]
    )

    assert found(forms, "text-to-image", table) == {11, 13}
    assert found(forms, "t2i", table) == {11, 13}
    assert found(forms, "3dgs", table) == {14}
    assert found(forms, '"text-to-image"', table) == {13}


def test_one_way_synonyms_chain_but_do_not_come_back():
    table = SynonymTable.build(
        [("editing", "inpainting", False), ("inpainting", "outpainting", False)]
    )
    index = PaperIndex.build([IndexedPaper(1, "Outpainting", ""), IndexedPaper(2, "Editing", "")])

    assert found(index, "editing", table) == {1, 2}
    assert found(index, "outpainting", table) == {1}


def test_a_title_hit_is_strong_and_a_single_mention_past_the_opening_is_passing(forms):
    split = forms.matches(parse_query('"image generation"~ OR text-to-image'))

    assert split.strong == {10, 11, 12}
    assert split.passing == {13}
    assert forms.search(parse_query("text-to-image"), strong_only=True) == set()


def test_the_abstracts_opening_words_or_three_mentions_make_a_match_strong():
    filler = "we study segmentation of organs in scans with small networks and few labels " * 2
    index = PaperIndex.build(
        [
            IndexedPaper(1, "A study", "Text-to-image models are used here. " + filler),
            IndexedPaper(2, "A study", filler + "text-to-image, T2I and text-to-image again."),
            IndexedPaper(3, "A study", filler + "text-to-image and text-to-image twice."),
        ]
    )
    table = SynonymTable.build([("T2I", "text-to-image", True)])

    split = index.matches(parse_query("text-to-image", synonyms=table))

    assert split.strong == {1, 2}
    assert split.passing == {3}


def test_the_why_line_names_the_words_the_paper_used_and_the_synonym(forms):
    table = SynonymTable.build([("T2I", "text-to-image", True)])

    match = forms.explain(parse_query('"image generation"~ OR text-to-image', synonyms=table), 11)

    assert match.strength is Strength.STRONG
    assert [(hit.term, hit.found, hit.via_synonym, hit.in_title) for hit in match.hits] == [
        ("image generation", "image generator", False, True),
        ("text to image", "t2i", True, False),
    ]
    assert match.found_words() == ["image generator", "t2i (text to image)"]
    assert forms.explain(parse_query("segmentation"), 11) is None


def test_forty_phrases_of_common_words_are_refused_as_too_broad():
    common = "the of and a to in is we on for"
    papers = [
        IndexedPaper(n, f"Paper {n}", f"{common} " * 3) for n in range(MAX_PHRASE_CHECKS // 20)
    ]
    index = PaperIndex.build(papers)
    triples = itertools.islice(itertools.permutations(common.split(), 3), 30)
    phrases = " OR ".join('"' + " ".join(triple) + '"' for triple in triples)

    with pytest.raises(QueryTooBroad, match="too many phrases of common words"):
        index.search(parse_query(phrases))


def test_the_phrase_cache_is_bounded():
    index = PaperIndex.build([IndexedPaper(1, "alpha beta gamma", "")])

    for n in range(PHRASE_CACHE_ENTRIES + 50):
        index.search(parse_query(f'"alpha beta" -"gamma w{n}"'))

    assert len(index._cache) <= PHRASE_CACHE_ENTRIES
    assert len(index._query_cache) <= QUERY_CACHE_ENTRIES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"a b c d e"~', "at most 4 words"),
        ('"a b"~11', "at most 10 words between"),
        ('"a b"x', "Leave a space after a closing quote"),
    ],
)
def test_malformed_near_phrases_are_refused_with_a_clear_message(text, message):
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(text)
