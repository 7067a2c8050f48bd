"""Properties of the query parser and matcher that must hold for any input."""

from __future__ import annotations

from collections import Counter

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from newsletter.matching import (
    IndexedPaper,
    PaperIndex,
    Query,
    QuerySyntaxError,
    normalise_words,
    parse_query,
)
from newsletter.signing import BadToken, Purpose, make_token, read_token

WORDS = ["diffusion", "image", "text", "video", "survey", "model", "zoë", "3d", "flow"]
word = st.sampled_from(WORDS)
sentence = st.lists(word, min_size=1, max_size=12).map(" ".join)
papers = st.lists(st.tuples(sentence, sentence), min_size=1, max_size=15).map(
    lambda rows: [IndexedPaper(i, title, abstract) for i, (title, abstract) in enumerate(rows)]
)
query_term = st.one_of(
    word,
    word.map(lambda w: f"-{w}"),
    st.lists(word, min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.lists(word, min_size=2, max_size=3).map(lambda ws: '-"' + " ".join(ws) + '"'),
    st.just("OR"),
)
query_text = st.lists(query_term, min_size=1, max_size=8).map(" ".join)


def parsed(text: str) -> Query:
    """The query, or the example is discarded: Hypothesis then draws another, and fails the
    test loudly if too few parse, so the properties below always run on real queries."""
    try:
        return parse_query(text)
    except QuerySyntaxError:
        assume(False)
        raise  # unreachable: assume(False) stops the example


def contains(paper: IndexedPaper, phrase: tuple[str, ...]) -> bool:
    """The words of `phrase`, in order, in the paper's title or in its abstract."""
    needle = " " + " ".join(phrase) + " "
    return any(
        needle in " " + " ".join(normalise_words(text)) + " "
        for text in (paper.title, paper.abstract)
    )


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_cleanly(text):
    try:
        query = parse_query(text)
    except QuerySyntaxError as error:
        assert str(error)
    else:
        assert query.required


def test_an_excluded_word_or_phrase_drops_exactly_the_papers_containing_it():
    dropped_by: Counter[str] = Counter()

    @settings(max_examples=300)
    @given(query_text, papers)
    def check(text, corpus):
        query = parsed(text)
        index = PaperIndex.build(corpus)
        found = index.search(query)
        wanted = index.search(Query(required=query.required))  # the same, nothing excluded

        assert found <= wanted
        for paper_id in wanted:
            excluded = [phrase for phrase in query.excluded if contains(corpus[paper_id], phrase)]
            assert (paper_id in found) == (not excluded)
            for phrase in excluded:
                dropped_by["a phrase" if len(phrase) > 1 else "a word"] += 1

    check()

    # Both kinds of exclusion really dropped papers, many times (not only vacuously held).
    assert dropped_by["a word"] >= 50 and dropped_by["a phrase"] >= 20, dropped_by


def test_every_result_satisfies_each_required_group():
    results = Counter()

    @settings(max_examples=300)
    @given(query_text, papers)
    def check(text, corpus):
        query = parsed(text)
        for paper_id in PaperIndex.build(corpus).search(query):
            for group in query.required:
                assert any(contains(corpus[paper_id], phrase) for phrase in group)
                results["phrase groups" if any(len(p) > 1 for p in group) else "word groups"] += 1

    check()

    assert results["word groups"] >= 50 and results["phrase groups"] >= 20, results


@given(query_text)
def test_the_canonical_spelling_parses_back_to_the_same_query(text):
    query = parsed(text)
    assert parse_query(query.canonical) == query


def test_results_do_not_depend_on_the_order_papers_were_indexed():
    non_empty = Counter()

    @given(query_text, papers)
    def check(text, corpus):
        query = parsed(text)
        forward = PaperIndex.build(corpus).search(query)
        backward = PaperIndex.build(list(reversed(corpus))).search(query)
        assert forward == backward
        non_empty[bool(forward)] += 1

    check()

    assert non_empty[True] >= 20, non_empty


@settings(max_examples=50)
@given(
    st.integers(min_value=1, max_value=10**9),
    st.emails(),
    st.sampled_from(list(Purpose)),
    st.sampled_from(list(Purpose)),
)
def test_a_token_opens_only_its_own_purpose(subject_id, email, made_for, used_for):
    token = make_token(purpose=made_for, subject_id=subject_id, email=email)
    if made_for == used_for:
        claims = read_token(token, purpose=used_for)
        assert (claims.subject_id, claims.email) == (subject_id, email.lower())
    else:
        try:
            read_token(token, purpose=used_for)
        except BadToken:
            pass
        else:
            raise AssertionError("a token worked for another purpose")


@settings(max_examples=50)
@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=0, max_value=200))
def test_a_token_with_any_character_changed_is_refused(subject_id, position):
    token = make_token(purpose=Purpose.UNSUBSCRIBE, subject_id=subject_id, email="a@b.org")
    position %= len(token)
    replacement = "A" if token[position] != "A" else "B"
    tampered = token[:position] + replacement + token[position + 1 :]
    try:
        claims = read_token(tampered, purpose=Purpose.UNSUBSCRIBE)
    except BadToken:
        return
    # Base64 padding bits can change without changing the payload; then nothing was forged.
    assert claims.subject_id == subject_id
