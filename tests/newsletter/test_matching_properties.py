"""Properties of the query parser and matcher that must hold for any input."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from newsletter.matching import (
    OPENING_WORDS,
    Form,
    IndexedPaper,
    PaperIndex,
    Query,
    QuerySyntaxError,
    Term,
    normalise_words,
    parse_query,
    word_stem,
)
from newsletter.signing import BadToken, Purpose, make_token, read_token

WORDS = [
    "diffusion",
    "diffused",
    "image",
    "images",
    "text",
    "video",
    "survey",
    "model",
    "zoë",
    "3d",
]
word = st.sampled_from(WORDS)
sentence = st.lists(word, min_size=1, max_size=12).map(" ".join)
papers = st.lists(st.tuples(sentence, sentence), min_size=1, max_size=15).map(
    lambda rows: [IndexedPaper(i, title, abstract) for i, (title, abstract) in enumerate(rows)]
)
# Abstracts whose generated words come after the opening, so a mention can be a passing one.
OPENING = "opening " * OPENING_WORDS
papers_past_the_opening = papers.map(
    lambda rows: [IndexedPaper(p.id, p.title, OPENING + p.abstract) for p in rows]
)
words = st.lists(word, min_size=1, max_size=3)
query_term = st.one_of(
    word,
    word.map(lambda w: f"-{w}"),
    words.map(lambda ws: '"' + " ".join(ws) + '"'),
    words.map("-".join),
    st.tuples(words, st.integers(0, 3)).map(lambda t: '"' + " ".join(t[0]) + f'"~{t[1]}'),
    st.lists(word, min_size=2, max_size=2).map(lambda ws: '-"' + " ".join(ws) + '"'),
    st.one_of(  # title: before any of the above, drawn as often as one of them
        word.map(lambda w: f"title:{w}"),
        st.lists(word, min_size=2, max_size=2).map(lambda ws: '-title:"' + " ".join(ws) + '"'),
        st.tuples(words, st.integers(0, 3)).map(lambda t: 'title:"' + " ".join(t[0]) + f'"~{t[1]}'),
    ),
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


def has(term: Term, text: str) -> bool:
    """The documented meaning of a term, written out by brute force (not the index's code)."""
    found = normalise_words(text)
    if term.form is Form.EXACT:
        needle, haystack = list(term.words), found
    else:
        needle, haystack = [word_stem(w) for w in term.words], [word_stem(w) for w in found]
    if term.form is not Form.NEAR:
        n = len(needle)
        return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))
    for order in itertools.permutations(needle):
        positions = [[i for i, w in enumerate(haystack) if w == wanted] for wanted in order]
        for chosen in itertools.product(*positions):
            if all(0 < b - a <= term.distance + 1 for a, b in itertools.pairwise(chosen)):
                return True
    return False


def in_paper(term: Term, paper: IndexedPaper) -> bool:
    """A title: term looks at the title only."""
    return has(term, paper.title) or (not term.in_title and has(term, paper.abstract))


def satisfies(query, paper: IndexedPaper) -> bool:
    return all(
        any(in_paper(term, paper) for term in group) for group in query.required
    ) and not any(in_paper(term, paper) for term in query.excluded)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_cleanly(text):
    try:
        query = parse_query(text)
    except QuerySyntaxError as error:
        assert str(error)
    else:
        assert query.required


def test_search_finds_exactly_the_papers_the_documented_syntax_describes():
    found_some = Counter()

    @settings(max_examples=300)
    @given(query_text, papers)
    def check(text, corpus):
        query = parsed(text)
        index = PaperIndex.build(corpus)

        found = index.search(query)

        assert found == {paper.id for paper in corpus if satisfies(query, paper)}
        assert all(index.satisfies(query, paper.id) == (paper.id in found) for paper in corpus)
        found_some[bool(found)] += 1

    check()

    assert found_some[True] >= 50, found_some


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
            paper = corpus[paper_id]
            excluded = [term for term in query.excluded if in_paper(term, paper)]
            assert (paper_id in found) == (not excluded)
            for term in excluded:
                dropped_by["a phrase" if len(term.words) > 1 else "a word"] += 1

    check()

    # Both kinds of exclusion really dropped papers, many times (not only vacuously held).
    assert dropped_by["a word"] >= 50 and dropped_by["a phrase"] >= 10, dropped_by


def test_strong_and_passing_matches_split_the_results():
    strengths = Counter()

    @settings(max_examples=200)
    @given(query_text, papers_past_the_opening)
    def check(text, corpus):
        query = parsed(text)
        index = PaperIndex.build(corpus)

        split = index.matches(query)

        assert split.strong.isdisjoint(split.passing)
        assert split.all == index.search(query)
        assert index.search(query, strong_only=True) == split.strong
        for paper_id in split.all:
            assert index.explain(query, paper_id).strong == (paper_id in split.strong)
        strengths["strong"] += len(split.strong)
        strengths["passing"] += len(split.passing)

    check()

    assert strengths["strong"] >= 50 and strengths["passing"] >= 5, strengths


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
        assert claims.subject_id == subject_id
        assert claims.names(email) and claims.names(email.upper())
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
