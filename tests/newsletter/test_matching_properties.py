"""Properties of the query parser and matcher that must hold for any input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.matching import (
    IndexedPaper,
    PaperIndex,
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
    st.just("OR"),
)
query_text = st.lists(query_term, min_size=1, max_size=8).map(" ".join)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_cleanly(text):
    try:
        query = parse_query(text)
    except QuerySyntaxError as error:
        assert str(error)
    else:
        assert query.required


@given(query_text, papers)
def test_an_excluded_word_never_matches_a_paper_containing_it(text, corpus):
    try:
        query = parse_query(text)
    except QuerySyntaxError:
        return
    index = PaperIndex.build(corpus)
    for paper_id in index.search(query):
        paper = corpus[paper_id]
        words = normalise_words(f"{paper.title} {paper.abstract}")
        for phrase in query.excluded:
            if len(phrase) == 1:
                assert phrase[0] not in words


@given(query_text, papers)
def test_every_result_satisfies_each_required_group(text, corpus):
    try:
        query = parse_query(text)
    except QuerySyntaxError:
        return
    index = PaperIndex.build(corpus)
    for paper_id in index.search(query):
        paper = corpus[paper_id]
        haystacks = [
            " " + " ".join(normalise_words(paper.title)) + " ",
            " " + " ".join(normalise_words(paper.abstract)) + " ",
        ]
        for group in query.required:
            assert any(" " + " ".join(p) + " " in h for p in group for h in haystacks)


@given(query_text)
def test_the_canonical_spelling_parses_back_to_the_same_query(text):
    try:
        query = parse_query(text)
    except QuerySyntaxError:
        return
    assert parse_query(query.canonical) == query


@given(query_text, papers)
def test_results_do_not_depend_on_the_order_papers_were_indexed(text, corpus):
    try:
        query = parse_query(text)
    except QuerySyntaxError:
        return
    forward = PaperIndex.build(corpus).search(query)
    backward = PaperIndex.build(list(reversed(corpus))).search(query)
    assert forward == backward


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
