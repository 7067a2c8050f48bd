"""The query syntax readers type, parsed once, and the in-memory index that answers it.

Matching happens here in Python, never in SQL, so a query finds the same papers on
PostgreSQL and on the embedded SQLite.

Syntax (case-insensitive, accents ignored):
    diffusion transformer      both words, each in any of its forms (transformers, diffused)
    text-to-image              the words in this order, in any of their forms
    "score matching"           exactly these words in this order (quotes turn word forms off)
    "image generation"~        the words in any form and any order, at most 2 other words
                               between each and the next ("generating realistic images");
                               "image generation"~5 allows 5
    video OR audio             either; OR binds tighter than the implicit AND
    -survey, -"user study"     leave out papers with that word or phrase
    title:video, -title:video  that word (or phrase, in any of the forms above) in the title

Word forms come from the Snowball English stemmer, applied to queries and papers alike, plus
British spellings (-ise, -isation) read as American ones. Editors' synonyms (SynonymTable)
widen every unquoted word or phrase that is one of theirs: T2I also finds text-to-image.

How well a paper matches: strong when a query term is in its title or its abstract's opening
words, or when each required part of the query is mentioned at three places or more; passing
otherwise (mentioned in passing).

Over 400 lines because the parser and the index must agree term by term (word forms, near
phrases, synonyms, strength): one module keeps the syntax and its evaluation together.
"""

from __future__ import annotations

import enum
import functools
import itertools
import re
import threading
import unicodedata
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

import Stemmer
from django.utils.translation import gettext

MAX_QUERY_LENGTH = 500
MAX_QUERY_TERMS = 40
MAX_PHRASE_WORDS = 12
MAX_NEAR_WORDS = 4
MAX_NEAR_DISTANCE = 10
NEAR_DEFAULT_DISTANCE = 2
# Phrase candidates one query may make the index confirm (each a substring or pattern test of
# one paper's text, ~0.3-1 µs): bounds what a crafted query costs, whatever the index size.
MAX_PHRASE_CHECKS = 60_000
# The index remembers phrase results up to these bounds, least recently used first out.
PHRASE_CACHE_ENTRIES = 4096
PHRASE_CACHE_IDS = 400_000
# And whole queries' results apart, for a while only: a caller that asks for a query's papers
# and then its strong ones keeps them itself (a run's window, one per distinct filter). In the
# phrase cache they took ~20 MB a worker at 100,000 readers and pushed the phrases out.
QUERY_CACHE_ENTRIES = 256
QUERY_CACHE_IDS = 200_000
# Terms whose patterns the index remembers (a run's distinct filters have ~15,000 terms).
TERM_PATTERNS_KEPT = 50_000
# A match is strong when a term is in the title or in the abstract's first OPENING_WORDS words
# (where a paper says what it is about), or mentioned at STRONG_MENTIONS places; measured
# against passing mentions ("a pre-trained text-to-image model") by bench/relevance.py.
OPENING_WORDS = 15
STRONG_MENTIONS = 3

Phrase = tuple[str, ...]

_WORD = re.compile(r"[^\W_]+")
_BARE_TERM = re.compile(r'[^\s"]+')
_NEAR_SUFFIX = re.compile(r"~(\d*)")
_TITLE_PREFIX = "title:"
_VOWELS = frozenset("aeiouy")
_BRITISH = re.compile(r"(?<=..)(is|ys)(e|ed|es|ing|ation|ations|er|ers)$")


class QuerySyntaxError(ValueError):
    """A query the reader must fix; the message says how, in words they understand."""


class QueryTooBroad(QuerySyntaxError):
    """A query whose phrases would make the index check too many papers."""


def normalise_words(text: str) -> list[str]:
    """Lower-cased, accent-free words: the unit both queries and papers are cut into."""
    if text.isascii():  # most of arXiv: nothing to decompose, and no accents to drop
        return _WORD.findall(text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(stripped)


_stemmer_local = threading.local()


@functools.lru_cache(maxsize=200_000)
def word_stem(word: str) -> str:
    """The form a word is matched by: Snowball English, British -ise read as -ize, and an
    acronym's plural as its singular (LLMs as LLM)."""
    if len(word) > 6:
        word = _BRITISH.sub(lambda m: ("iz" if m[1] == "is" else "yz") + m[2], word)
    stemmer = getattr(_stemmer_local, "stemmer", None)
    if stemmer is None:
        stemmer = _stemmer_local.stemmer = Stemmer.Stemmer("english")
    stem = stemmer.stemWord(word)
    if stem == word and len(word) >= 4 and word[-1] == "s" and not _VOWELS & set(word[:-1]):
        stem = word[:-1]
    return stem


def phrase_stems(words: Sequence[str]) -> Phrase:
    return tuple(word_stem(word) for word in words)


# --- Synonyms -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynonymTable:
    """Editors' synonyms, compiled: for a word or phrase (by its stems), the other spellings it
    also finds. Rules chain (A finds B, B finds C: A finds C); a synonym is applied once."""

    expansions: Mapping[Phrase, tuple[Phrase, ...]] = field(default_factory=dict)
    version: str = ""

    @classmethod
    def build(cls, rules: Iterable[tuple[str, str, bool]], *, version: str = "") -> SynonymTable:
        """From (phrase, also finds, both ways) rules as editors write them."""
        spelling: dict[Phrase, Phrase] = {}
        edges: dict[Phrase, set[Phrase]] = defaultdict(set)
        for phrase, also_finds, both_ways in rules:
            source, target = normalise_words(phrase), normalise_words(also_finds)
            if not source or not target:
                continue
            source_key, target_key = phrase_stems(source), phrase_stems(target)
            if source_key == target_key:
                continue
            spelling.setdefault(source_key, tuple(source))
            spelling.setdefault(target_key, tuple(target))
            edges[source_key].add(target_key)
            if both_ways:
                edges[target_key].add(source_key)
        expansions = {}
        for start in edges:
            seen, stack = {start}, [start]
            while stack:
                for following in edges.get(stack.pop(), ()):
                    if following not in seen:
                        seen.add(following)
                        stack.append(following)
            seen.discard(start)
            expansions[start] = tuple(sorted(spelling[key] for key in seen))
        return cls(expansions=expansions, version=version)

    def alternatives(self, words: Sequence[str]) -> tuple[Phrase, ...]:
        return self.expansions.get(phrase_stems(words), ())


NO_SYNONYMS = SynonymTable()
_synonym_source: Callable[[], SynonymTable] = lambda: NO_SYNONYMS  # noqa: E731


def use_synonym_source(source: Callable[[], SynonymTable]) -> None:
    """Where parse_query finds the synonyms in force when none are given (the app's ready())."""
    global _synonym_source
    _synonym_source = source


@contextmanager
def synonyms_in_force(table: SynonymTable) -> Iterator[None]:
    """Parse with `table` for a while (tests, benchmarks), then restore the source."""
    previous = _synonym_source
    use_synonym_source(lambda: table)
    try:
        yield
    finally:
        use_synonym_source(previous)


def current_synonyms() -> SynonymTable:
    return _synonym_source()


# --- Queries --------------------------------------------------------------------------------


class Form(enum.Enum):
    WORDS = "words"  # unquoted: word forms, in order
    EXACT = "exact"  # quoted: these very words, in order
    NEAR = "near"  # quoted with ~: word forms, any order, a few words apart


@dataclass(frozen=True)
class Term:
    """One word or phrase of a query, and the editors' synonyms it also finds."""

    words: Phrase
    form: Form = Form.WORDS
    distance: int = 0
    synonyms: tuple[Phrase, ...] = ()
    in_title: bool = False  # title:word, found in the title only

    @property
    def spelling(self) -> str:
        """How the query spells it, canonically (parse_query reads it back the same)."""
        prefix = _TITLE_PREFIX if self.in_title else ""
        if self.form is Form.EXACT:
            return prefix + '"' + " ".join(self.words) + '"'
        if self.form is Form.NEAR:
            return prefix + '"' + " ".join(self.words) + f'"~{self.distance}'
        return prefix + "-".join(self.words)

    @property
    def display(self) -> str:
        """The words as a reader reads them on a card."""
        return " ".join(self.words)


@dataclass(frozen=True)
class Query:
    """A parsed query: all `required` groups must match (any term of a group will do),
    no `excluded` term may."""

    required: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    @functools.cached_property
    def canonical(self) -> str:
        """One spelling per meaning: equal queries evaluate once per run."""
        groups = [" OR ".join(term.spelling for term in group) for group in self.required]
        return " ".join(groups + ["-" + term.spelling for term in self.excluded])

    @functools.cached_property
    def positive_terms(self) -> tuple[Term, ...]:
        return tuple(term for group in self.required for term in group)


_OR = object()


@dataclass(frozen=True)
class _Lexed:
    term: Term
    excluded: bool


def parse_query(text: str, *, synonyms: SynonymTable | None = None) -> Query:
    """Parse reader-typed search syntax, or raise QuerySyntaxError saying what to fix.

    Unquoted words and ~ phrases take the synonyms in force (`synonyms`, else the app's).
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            gettext("Keep the query under %(limit)d characters.") % {"limit": MAX_QUERY_LENGTH}
        )
    table = current_synonyms() if synonyms is None else synonyms
    required: list[list[Term]] = []
    excluded: list[Term] = []
    previous: object = None
    for item in _lex(text, table):
        if item is _OR:
            if not isinstance(previous, _Lexed) or previous.excluded:
                raise QuerySyntaxError(gettext("Put OR between two words, like: video OR audio."))
        elif isinstance(item, _Lexed) and item.excluded:
            if previous is _OR:
                raise QuerySyntaxError(gettext("OR cannot be followed by an excluded (-) word."))
            excluded.append(item.term)
        elif isinstance(item, _Lexed):
            if previous is _OR:
                required[-1].append(item.term)
            else:
                required.append([item.term])
        previous = item
    if previous is _OR:
        raise QuerySyntaxError(gettext("The query ends with OR: add the word it should offer."))
    if not required:
        raise QuerySyntaxError(
            gettext("Add at least one word to look for, not only excluded words.")
        )
    term_count = sum(len(group) for group in required) + len(excluded)
    if term_count > MAX_QUERY_TERMS:
        raise QuerySyntaxError(
            gettext("Use at most %(limit)d words and phrases.") % {"limit": MAX_QUERY_TERMS}
        )
    return Query(
        required=tuple(dict.fromkeys(tuple(dict.fromkeys(group)) for group in required)),
        excluded=tuple(dict.fromkeys(excluded)),
    )


class ParsedQueries:
    """Each distinct query text parsed once: its Query, or None for a blank one or one that
    does not parse (forms and admin refuse those; an old row matches nothing)."""

    def __init__(self) -> None:
        self._parsed: dict[str, Query | None] = {}

    def __call__(self, text: str) -> Query | None:
        text = text.strip()
        if not text:
            return None
        if text not in self._parsed:
            try:
                self._parsed[text] = parse_query(text)
            except QuerySyntaxError:
                self._parsed[text] = None
        return self._parsed[text]


def _lex(text: str, table: SynonymTable) -> list[object]:
    items: list[object] = []
    position, length = 0, len(text)
    while position < length:
        if text[position].isspace():
            position += 1
            continue
        excluded = text[position] == "-"
        if excluded:
            position += 1
            if position >= length or text[position].isspace():
                raise QuerySyntaxError(
                    gettext(
                        "A lone '-' excludes nothing: write the word right after it, like -survey."
                    )
                )
        in_title = text[position : position + len(_TITLE_PREFIX)].lower() == _TITLE_PREFIX
        if in_title:
            position += len(_TITLE_PREFIX)
            if position >= length or text[position].isspace():
                raise QuerySyntaxError(
                    gettext("Write the word right after title:, like title:video.")
                )
        form, distance = Form.WORDS, 0
        if text[position] == '"':
            end = text.find('"', position + 1)
            if end == -1:
                raise QuerySyntaxError(gettext('A quote is not closed: add the closing ".'))
            raw = text[position + 1 : end]
            position = end + 1
            if not raw.strip():
                raise QuerySyntaxError(
                    gettext('Empty quotes "" match nothing: put a phrase inside.')
                )
            form = Form.EXACT
            near = _NEAR_SUFFIX.match(text, position)
            if near:
                position = near.end()
                form = Form.NEAR
                distance = int(near[1]) if near[1] else NEAR_DEFAULT_DISTANCE
                if distance > MAX_NEAR_DISTANCE:
                    raise QuerySyntaxError(
                        gettext(
                            "A ~ phrase allows at most %(limit)d words between its words, "
                            'like "%(phrase)s"~%(default)d.'
                        )
                        % {
                            "limit": MAX_NEAR_DISTANCE,
                            "phrase": raw.strip()[:30],
                            "default": NEAR_DEFAULT_DISTANCE,
                        }
                    )
            if position < length and not text[position].isspace():
                raise QuerySyntaxError(
                    gettext(
                        "Leave a space after a closing quote (or write ~ right after it, like "
                        '"image generation"~).'
                    )
                )
        else:
            match = _BARE_TERM.match(text, position)
            assert match is not None  # a non-space, non-quote character is always there
            raw = match.group()
            position = match.end()
            if raw == "OR" and not excluded and not in_title:
                items.append(_OR)
                continue
        words = tuple(normalise_words(raw))
        if not words:
            raise QuerySyntaxError(
                gettext("“%(text)s” has no letters or digits to search for.") % {"text": raw[:40]}
            )
        if len(words) > MAX_PHRASE_WORDS:
            raise QuerySyntaxError(
                gettext("Keep phrases to %(limit)d words or fewer.") % {"limit": MAX_PHRASE_WORDS}
            )
        if form is Form.NEAR and len(words) == 1:
            form, distance = Form.WORDS, 0
        if form is Form.NEAR and len(words) > MAX_NEAR_WORDS:
            raise QuerySyntaxError(
                gettext(
                    "A ~ phrase may have at most %(limit)d words; quote longer ones "
                    "without ~ or split them."
                )
                % {"limit": MAX_NEAR_WORDS}
            )
        synonyms = () if form is Form.EXACT else table.alternatives(words)
        items.append(_Lexed(Term(words, form, distance, synonyms, in_title), excluded))
    return items


# --- What a match says ----------------------------------------------------------------------


class Strength(enum.IntEnum):
    PASSING = 1  # mentioned in passing, in the abstract
    STRONG = 2  # in the title or the abstract's opening, or every part mentioned 3+ times


@dataclass(frozen=True, slots=True)
class TermHit:
    """One query term found in one paper: what the card's why line says."""

    term: str  # the term as the query has it ("image generation")
    found: str  # the paper's own words at the first hit ("generated images", "t2i")
    via_synonym: bool  # found through an editor's synonym, not the term itself
    in_title: bool
    mentions: int  # occurrences in title and abstract


@dataclass(frozen=True, slots=True)
class PaperMatch:
    """How one paper matches one query."""

    strength: Strength
    hits: tuple[TermHit, ...]

    @property
    def strong(self) -> bool:
        return self.strength is Strength.STRONG

    def found_words(self) -> list[str]:
        """What the why line names: the paper's own words, with the query's term they stand for
        when a synonym found them ("t2i (text to image)"), each once."""
        words = [f"{hit.found} ({hit.term})" if hit.via_synonym else hit.found for hit in self.hits]
        return list(dict.fromkeys(words))


@dataclass(frozen=True, slots=True)
class MatchSplit:
    """A query's matching papers, split by strength."""

    strong: frozenset[int]
    passing: frozenset[int]

    @property
    def all(self) -> frozenset[int]:
        return self.strong | self.passing


# --- The index ------------------------------------------------------------------------------


@dataclass
class IndexedPaper:
    """The text of one paper, as the index needs it."""

    id: int
    title: str
    abstract: str
    categories: Sequence[str] = ()
    authors: Sequence[str] = ()


# A paper's text is kept as strings of code points, one per word: its words (for quoted
# phrases) and their stems (for everything else), title and abstract apart. A phrase is then
# a substring or a small pattern, tested in C, and the strings take less room than the text.
_WORDS_TITLE, _WORDS_ABSTRACT, _STEMS_TITLE, _STEMS_ABSTRACT = range(4)
_SURROGATES = 0xD800
_FIRST_CHAR = 0x100


def _char(number: int) -> str:
    code = _FIRST_CHAR + number
    return chr(code if code < _SURROGATES else code + 0x800)


def _number(char: str) -> int:
    code = ord(char)
    return (code if code < _SURROGATES else code - 0x800) - _FIRST_CHAR


class _Pattern(NamedTuple):
    """What the index looks for: one stem, one exact word, or a sequence or near-set of them.

    A tuple, so that the caches' keys hash and compare in C: a cold preview looks patterns up
    tens of thousands of times."""

    kind: str  # "stem", "word", "sequence", "near"
    chars: tuple[str, ...]
    exact: bool = False
    distance: int = 0
    title_only: bool = False

    @property
    def regex(self) -> re.Pattern[str]:
        return _near_regex(self.chars, self.distance)

    @property
    def needs_checks(self) -> bool:
        return self.kind != "stem"


@functools.lru_cache(maxsize=PHRASE_CACHE_ENTRIES)
def _near_regex(chars: tuple[str, ...], distance: int) -> re.Pattern[str]:
    gap = f".{{0,{distance}}}"
    orders = dict.fromkeys(itertools.permutations(chars))
    return re.compile(
        "|".join(gap.join(re.escape(c) for c in order) for order in orders), re.DOTALL
    )


@functools.lru_cache(maxsize=PHRASE_CACHE_ENTRIES)
def _anchored_near_regex(anchor: str, other: str, distance: int) -> re.Pattern[str]:
    """Whether two stems are near, found from `anchor` with `other` after or before it: re
    scans for one literal first character several times faster than for either of two. Its
    matches start at the anchor, so only whether it matches is _near_regex's answer."""
    first, second = re.escape(anchor), re.escape(other)
    before = "|".join(f"(?<={second}{'.' * gap}{first})" for gap in range(distance + 1))
    return re.compile(f"{first}(?:.{{0,{distance}}}{second}|{before})", re.DOTALL)


class _BoundedCache:
    """Least recently used first out, bounded in entries and in the ids the entries hold."""

    def __init__(self, *, entries: int, ids: int) -> None:
        self._items: OrderedDict[object, frozenset[int]] = OrderedDict()
        self._max_entries, self._max_ids, self.size = entries, ids, 0

    def get(self, key: object) -> frozenset[int] | None:
        found = self._items.get(key)
        if found is not None:
            try:
                self._items.move_to_end(key)
            except KeyError:  # evicted by another thread in between: still a correct answer
                pass
        return found

    def put(self, key: object, value: frozenset[int]) -> None:
        if len(value) > self._max_ids:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= len(old)
        self._items[key] = value
        self.size += len(value)
        while len(self._items) > self._max_entries or self.size > self._max_ids:
            _key, evicted = self._items.popitem(last=False)
            self.size -= len(evicted)

    def clear(self) -> None:
        self._items.clear()
        self.size = 0

    def __len__(self) -> int:
        return len(self._items)


class PaperIndex:
    """An inverted index of a set of papers (typically one run's candidates).

    Stems map to papers; phrases are confirmed against each candidate's text, so `-word` is an
    exact set difference. Phrase results are cached within bounds.
    """

    def __init__(self) -> None:
        self._word_char: dict[str, str] = {}
        self._stem_char_of_word: dict[str, str] = {}
        self._stem_char: dict[str, str] = {}
        self._words: list[str] = []
        self._stem_papers: dict[str, set[int]] = defaultdict(set)
        # Where a stem makes a match strong at once: the title, the abstract's opening words.
        self._title_stem_papers: dict[str, set[int]] = defaultdict(set)
        self._opening_stem_papers: dict[str, set[int]] = defaultdict(set)
        # And where one stem alone is mentioned often enough: STRONG_MENTIONS in the abstract.
        self._repeated_stem_papers: dict[str, set[int]] = defaultdict(set)
        self._texts: dict[int, tuple[str, str, str, str]] = {}
        self.category_papers: dict[str, set[int]] = defaultdict(set)
        self.author_word_papers: dict[str, set[int]] = defaultdict(set)
        self.author_names: dict[int, list[frozenset[str]]] = {}
        self._cache = _BoundedCache(entries=PHRASE_CACHE_ENTRIES, ids=PHRASE_CACHE_IDS)
        self._query_cache = _BoundedCache(entries=QUERY_CACHE_ENTRIES, ids=QUERY_CACHE_IDS)
        self._lock = threading.Lock()  # the cache's order changes on reads too
        # A term's patterns, asked for by every step of a search (its cost, papers, strength).
        self._term_patterns: dict[Term, tuple[tuple[_Pattern | None, bool], ...]] = {}

    @classmethod
    def build(cls, papers: Iterable[IndexedPaper]) -> PaperIndex:
        index = cls()
        for paper in papers:
            index.add(paper)
        return index

    def add(self, paper: IndexedPaper) -> None:
        title = self._encode(normalise_words(paper.title))
        abstract = self._encode(normalise_words(paper.abstract))
        self._texts[paper.id] = (title[0], abstract[0], title[1], abstract[1])
        for stem in set(title[1]) | set(abstract[1]):
            self._stem_papers[stem].add(paper.id)
        for stem in set(title[1]):
            self._title_stem_papers[stem].add(paper.id)
        for stem in set(abstract[1][:OPENING_WORDS]):
            self._opening_stem_papers[stem].add(paper.id)
        for stem, count in Counter(abstract[1]).items():
            if count >= STRONG_MENTIONS:
                self._repeated_stem_papers[stem].add(paper.id)
        for category in paper.categories:
            self.category_papers[category.casefold()].add(paper.id)
        names = [frozenset(normalise_words(author)) for author in paper.authors]
        self.author_names[paper.id] = names
        for word in set().union(*names) if names else ():
            self.author_word_papers[word].add(paper.id)
        self._cache.clear()
        self._query_cache.clear()
        self._term_patterns.clear()  # a word new to the index may complete a pattern

    def _encode(self, words: list[str]) -> tuple[str, str]:
        word_char, stem_of = self._word_char, self._stem_char_of_word
        for word in words:
            if word not in word_char:
                self._register(word)
        return "".join([word_char[w] for w in words]), "".join([stem_of[w] for w in words])

    def _register(self, word: str) -> None:
        self._word_char[word] = _char(len(self._words))
        self._words.append(word)
        stem = word_stem(word)
        if stem not in self._stem_char:
            # Stems and words share one numbering, so a stem's character is never a word's.
            self._stem_char[stem] = _char(len(self._words))
            self._words.append(stem)
        self._stem_char_of_word[word] = self._stem_char[stem]

    @property
    def paper_ids(self) -> frozenset[int]:
        return frozenset(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    # Patterns --------------------------------------------------------------------------------

    def _patterns(self, term: Term) -> tuple[tuple[_Pattern | None, bool], ...]:
        """(pattern, via a synonym) for the term and each synonym; None finds nothing here."""
        found = self._term_patterns.get(term)
        if found is None:
            title = term.in_title
            found = (
                (self._pattern(term.words, term.form, term.distance, title), False),
                *((self._pattern(words, Form.WORDS, 0, title), True) for words in term.synonyms),
            )
            if len(self._term_patterns) >= TERM_PATTERNS_KEPT:
                self._term_patterns.clear()
            self._term_patterns[term] = found
        return found

    def _pattern(
        self, words: Phrase, form: Form, distance: int, title_only: bool = False
    ) -> _Pattern | None:
        if form is Form.EXACT:
            chars = [self._word_char.get(word) for word in words]
        else:
            chars = [self._stem_char.get(word_stem(word)) for word in words]
        if None in chars:
            return None
        if len(chars) == 1:
            kind = "word" if form is Form.EXACT else "stem"
            return _Pattern(kind, tuple(chars), title_only=title_only)
        if form is Form.NEAR:
            return _Pattern("near", tuple(chars), distance=distance, title_only=title_only)
        return _Pattern("sequence", tuple(chars), exact=form is Form.EXACT, title_only=title_only)

    def _candidate_stems(self, pattern: _Pattern) -> tuple[str, ...]:
        if pattern.kind in ("word", "sequence") and (pattern.exact or pattern.kind == "word"):
            return tuple(self._stem_char_of_word[self._word(char)] for char in pattern.chars)
        return pattern.chars

    def _candidates(self, pattern: _Pattern, *, in_title: bool = False) -> set[int]:
        """Papers holding every stem of the pattern (in the title with `in_title`): a superset
        of its matches."""
        stem_papers = self._title_stem_papers if in_title else self._stem_papers
        sets = sorted(
            (stem_papers.get(stem, set()) for stem in set(self._candidate_stems(pattern))),
            key=len,
        )
        if len(sets) == 1 or not sets[0]:
            return sets[0]
        return sets[0].intersection(*sets[1:])

    def _word(self, char: str) -> str:
        return self._words[_number(char)]

    def _check_cost(self, pattern: _Pattern) -> int:
        """An upper bound of the papers a pattern makes the index confirm, cached or not (so a
        query is refused or not whatever ran before it)."""
        if not pattern.needs_checks:
            return 0
        return min(len(self._stem_papers.get(stem, ())) for stem in self._candidate_stems(pattern))

    def _papers(self, pattern: _Pattern | None) -> frozenset[int] | set[int]:
        """Every indexed paper with the pattern in its title or abstract (treat as read-only)."""
        if pattern is None:
            return frozenset()
        if pattern.kind == "stem":
            stem_papers = self._title_stem_papers if pattern.title_only else self._stem_papers
            return stem_papers.get(pattern.chars[0], frozenset())
        with self._lock:
            cached = self._cache.get(pattern)
        if cached is not None:
            return cached
        title_field, abstract_field = self._fields(pattern)
        found = frozenset(
            self._holding(pattern, self._candidates(pattern, in_title=True), title_field)
        )
        if not pattern.title_only:
            candidates = self._candidates(pattern) - found
            found = found.union(self._holding(pattern, candidates, abstract_field))
        with self._lock:
            self._cache.put(pattern, found)
        return found

    def _holding(self, pattern: _Pattern, paper_ids: Iterable[int], field_index: int) -> list[int]:
        """The papers whose text `field_index` holds the pattern, tested without a Python call
        per paper (confirming candidates is most of a cold preview's work)."""
        ids = list(paper_ids)
        texts = map(itemgetter(field_index), map(self._texts.__getitem__, ids))
        if pattern.kind == "near":
            tests: Iterator[object] = map(self._near_search(pattern), texts)
        else:
            tests = map(str.__contains__, texts, itertools.repeat("".join(pattern.chars)))
        return list(itertools.compress(ids, tests))

    def _near_search(self, pattern: _Pattern) -> Callable[[str], re.Match[str] | None]:
        """A near pattern's search, anchored on the rarer of two distinct stems."""
        if len(pattern.chars) != 2 or pattern.chars[0] == pattern.chars[1]:
            return pattern.regex.search
        anchor, other = sorted(pattern.chars, key=lambda char: len(self._stem_papers.get(char, ())))
        return _anchored_near_regex(anchor, other, pattern.distance).search

    def _tester(self, pattern: _Pattern) -> Callable[[str], bool]:
        if pattern.kind == "near":
            search = self._near_search(pattern)
            return lambda text: search(text) is not None
        needle = "".join(pattern.chars)
        return lambda text: needle in text

    @staticmethod
    def _count(pattern: _Pattern, text: str) -> int:
        if pattern.kind == "near":
            return len(pattern.regex.findall(text))
        return text.count("".join(pattern.chars))

    def _fields(self, pattern: _Pattern) -> tuple[int, int]:
        if pattern.exact or pattern.kind == "word":
            return _WORDS_TITLE, _WORDS_ABSTRACT
        return _STEMS_TITLE, _STEMS_ABSTRACT

    # Queries ---------------------------------------------------------------------------------

    def term_papers(self, term: Term) -> frozenset[int] | set[int]:
        """Papers with the term, or one of its synonyms, in the title or abstract."""
        patterns = self._patterns(term)
        if len(patterns) == 1:
            return self._papers(patterns[0][0])
        return frozenset().union(*(self._papers(pattern) for pattern, _ in patterns))

    def check_cost(self, query: Query) -> None:
        """Raise QueryTooBroad if the query's phrases would make this index check too much."""
        terms = (*query.positive_terms, *query.excluded)
        cost = sum(
            self._check_cost(pattern)
            for term in terms
            for pattern, _ in self._patterns(term)
            if pattern is not None
        )
        if cost > MAX_PHRASE_CHECKS:
            raise QueryTooBroad(
                gettext(
                    "This query has too many phrases of common words to check: use fewer "
                    "phrases, rarer words, or plain words instead of quoted phrases."
                )
            )

    def search(self, query: Query, *, strong_only: bool = False) -> frozenset[int]:
        """Ids of the papers whose title or abstract satisfies the query (only the strong
        matches with `strong_only`). Raises QueryTooBroad past the work a query may cause."""
        key = ("found", query)  # a run asks again for the strong ones among them
        with self._lock:
            cached = self._query_cache.get(key)
        if cached is not None:  # so it passed check_cost, which depends on the index alone
            return self._strong_matches(query, cached) if strong_only else cached
        self.check_cost(query)
        groups = sorted(
            (
                self.term_papers(group[0])
                if len(group) == 1
                else frozenset().union(*map(self.term_papers, group))
                for group in query.required
            ),
            key=len,
        )
        result = set(groups[0])
        for group_ids in groups[1:]:
            result &= group_ids
            if not result:
                break
        for term in query.excluded:
            if not result:
                break
            result -= self.term_papers(term)
        found = frozenset(result)
        with self._lock:
            self._query_cache.put(key, found)
        return self._strong_matches(query, found) if strong_only else found

    def matches(self, query: Query) -> MatchSplit:
        """The query's matching papers split into strong and passing (see Strength)."""
        found = self.search(query)
        strong = self._strong_matches(query, found)
        return MatchSplit(strong, found - strong)

    def _strong_matches(self, query: Query, found: frozenset[int]) -> frozenset[int]:
        """The strong ones among the query's matches `found` (what _strength decides, paper
        by paper), worked out pattern by pattern over the papers holding each, and cached:
        a topic demanding strong matches costs its first evaluation only."""
        key = ("strong", query)  # synonyms included: an editor's change is a new key
        with self._lock:
            cached = self._query_cache.get(key)
        if cached is not None:
            return cached
        patterns_of_groups = [
            list(dict.fromkeys(
                pattern for term in group for pattern, _ in self._patterns(term)
                if pattern is not None
            ))
            for group in query.required
        ]  # fmt: skip
        strong: set[int] = set()
        for patterns in patterns_of_groups:
            for pattern in patterns:
                strong |= found & self._prominent(pattern)
        undecided = found - strong
        for patterns in patterns_of_groups:
            if not undecided:
                break
            # Mentioned often by one pattern alone (a set operation for a single word), or by
            # two or more patterns whose places are then counted together.
            often: set[int] = set()
            holders: Counter[int] = Counter()
            holding_of: dict[_Pattern, set[int]] = {}
            for pattern in patterns:
                holding = holding_of[pattern] = undecided & self._papers(pattern)
                holders.update(holding)
                if pattern.kind == "stem":
                    often |= holding & self._repeated_stem_papers.get(pattern.chars[0], set())
                    continue
                ids = list(holding)
                counts = self._abstract_counts(pattern, ids)
                often.update(
                    pid for pid, count in zip(ids, counts, strict=True) if count >= STRONG_MENTIONS
                )
            several = [pid for pid, count in holders.items() if count >= 2 and pid not in often]
            often.update(
                pid
                for pid in several
                if self._mentioned_often(
                    pid, [pattern for pattern, holding in holding_of.items() if pid in holding]
                )
            )
            undecided = often
        result = frozenset(strong | undecided)
        with self._lock:
            self._query_cache.put(key, result)
        return result

    def _abstract_counts(self, pattern: _Pattern, paper_ids: list[int]) -> Iterator[int]:
        """How often each paper's abstract has the pattern (see _count), counted in C."""
        abstract_field = self._fields(pattern)[1]
        texts = map(itemgetter(abstract_field), map(self._texts.__getitem__, paper_ids))
        if pattern.kind == "near":
            return map(len, map(pattern.regex.findall, texts))
        return map(str.count, texts, itertools.repeat("".join(pattern.chars)))

    def _mentioned_often(self, paper_id: int, patterns: Sequence[_Pattern]) -> bool:
        """Whether the patterns are found at STRONG_MENTIONS distinct places of the abstract
        (counted in C; places compared only when overlapping patterns could share some)."""
        text = self._texts[paper_id]
        counts = [self._count(pattern, text[self._fields(pattern)[1]]) for pattern in patterns]
        if max(counts) >= STRONG_MENTIONS:
            return True
        if sum(counts) < STRONG_MENTIONS:
            return False
        places: set[int] = set()
        for pattern in patterns:
            places.update(self._starts(pattern, text[self._fields(pattern)[1]]))
        return len(places) >= STRONG_MENTIONS

    def _prominent(self, pattern: _Pattern) -> frozenset[int]:
        """Papers with the pattern in the title or starting in the abstract's opening words."""
        if pattern.title_only:
            return frozenset(self._papers(pattern))
        if pattern.kind == "stem":
            stem = pattern.chars[0]
            return frozenset(
                self._title_stem_papers.get(stem, frozenset())
                | self._opening_stem_papers.get(stem, frozenset())
            )
        key = ("prominent", pattern)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        holding = self._papers(pattern)
        title_field, abstract_field = self._fields(pattern)
        in_title = self._holding(
            pattern, holding & self._candidates(pattern, in_title=True), title_field
        )
        # A match starting in the opening words starts with one of the pattern's stems there.
        opening_stem_papers = self._opening_stem_papers
        maybe_opening = holding.intersection(
            set().union(*(opening_stem_papers.get(s, ()) for s in self._candidate_stems(pattern)))
        ).difference(in_title)
        texts, first = self._texts, self._first_start
        found = frozenset(in_title).union(
            pid
            for pid in maybe_opening
            if 0 <= first(pattern, texts[pid][abstract_field]) < OPENING_WORDS
        )
        with self._lock:
            self._cache.put(key, found)
        return found

    def explain(self, query: Query, paper_id: int) -> PaperMatch | None:
        """How one paper matches (None if it does not): strength and the terms found."""
        if paper_id not in self._texts or not self.satisfies(query, paper_id):
            return None
        return self._strength(query, paper_id, with_hits=True)

    def satisfies(self, query: Query, paper_id: int) -> bool:
        """Whether one indexed paper matches the query (what search() decides, for one paper)."""
        return all(
            any(self._has(term, paper_id) for term in group) for group in query.required
        ) and not any(self._has(term, paper_id) for term in query.excluded)

    def _has(self, term: Term, paper_id: int) -> bool:
        text = self._texts[paper_id]
        for pattern, _ in self._patterns(term):
            if pattern is not None:
                test = self._tester(pattern)
                title_field, abstract_field = self._fields(pattern)
                if test(text[title_field]) or (
                    not pattern.title_only and test(text[abstract_field])
                ):
                    return True
        return False

    def _strength(self, query: Query, paper_id: int, *, with_hits: bool = False) -> PaperMatch:
        """Strong when a term is in the title or the abstract's opening words, or when each
        required group's terms (with their synonyms) are found at STRONG_MENTIONS places."""
        text = self._texts[paper_id]
        hits: list[TermHit] = []
        prominent, every_part_repeated = False, True
        for group in query.required:
            places: set[tuple[int, int]] = set()
            seen: set[_Pattern] = set()
            for term in group:
                for pattern, via_synonym in self._patterns(term):
                    if pattern is None or pattern in seen:
                        continue
                    seen.add(pattern)
                    title_field, abstract_field = self._fields(pattern)
                    in_title = self._starts(pattern, text[title_field])
                    in_abstract = (
                        [] if pattern.title_only else self._starts(pattern, text[abstract_field])
                    )
                    if not in_title and not in_abstract:
                        continue
                    places.update((0, start) for start in in_title)
                    places.update((1, start) for start in in_abstract)
                    prominent = prominent or bool(in_title) or in_abstract[:1] < [OPENING_WORDS]
                    if with_hits:
                        hits.append(
                            TermHit(
                                term=term.display,
                                found=self._found_words(
                                    pattern, paper_id, title_field if in_title else abstract_field
                                ),
                                via_synonym=via_synonym,
                                in_title=bool(in_title),
                                mentions=len(in_title) + len(in_abstract),
                            )
                        )
            every_part_repeated = every_part_repeated and len(places) >= STRONG_MENTIONS
        strength = Strength.STRONG if prominent or every_part_repeated else Strength.PASSING
        return PaperMatch(strength, tuple(hits))

    @staticmethod
    def _first_start(pattern: _Pattern, text: str) -> int:
        if pattern.kind == "near":
            found = pattern.regex.search(text)
            return found.start() if found else -1
        return text.find("".join(pattern.chars))

    @staticmethod
    def _starts(pattern: _Pattern, text: str) -> list[int]:
        if pattern.kind == "near":
            return [match.start() for match in pattern.regex.finditer(text)]
        needle, starts = "".join(pattern.chars), []
        start = text.find(needle)
        while start != -1:
            starts.append(start)
            start = text.find(needle, start + len(needle))
        return starts

    def _found_words(self, pattern: _Pattern, paper_id: int, field_index: int) -> str:
        """The paper's own words where the pattern first occurs (words and stems align)."""
        text = self._texts[paper_id][field_index]
        words = self._texts[paper_id][field_index - 2 if field_index >= 2 else field_index]
        if pattern.kind == "near":
            span = pattern.regex.search(text)
            start, end = span.span() if span else (0, 0)
        else:
            needle = "".join(pattern.chars)
            start = text.find(needle)
            end = start + len(needle)
        return " ".join(self._word(char) for char in words[start:end])

    def in_categories(self, categories: Iterable[str]) -> frozenset[int]:
        found: set[int] = set()
        for category in categories:
            found |= self.category_papers.get(category.casefold(), set())
        return frozenset(found)

    def by_authors(self, names: Iterable[str]) -> frozenset[int]:
        """Papers with an author whose name holds every word of one of `names`."""
        found: set[int] = set()
        for name in names:
            wanted = frozenset(normalise_words(name))
            if not wanted:
                continue
            sets = sorted((self.author_word_papers.get(w, set()) for w in wanted), key=len)
            if not sets[0]:
                continue
            for paper_id in set(sets[0]).intersection(*sets[1:]):
                if any(wanted <= author for author in self.author_names[paper_id]):
                    found.add(paper_id)
        return frozenset(found)


# --- A reader's filter over an index ---------------------------------------------------------


def filter_paper_ids(
    *,
    query: str | Query,
    categories: Sequence[str],
    index: PaperIndex,
    strong_only: bool = False,
) -> frozenset[int]:
    """The papers one (query, categories) filter matches: a topic's, or a reader's own.

    Query and categories together: papers satisfying the query AND in one of the categories;
    only categories: every paper in them; only a query: every paper satisfying it. With
    `strong_only` (a topic that demands a strong match) passing mentions do not count. A run
    that has parsed the query already passes the Query.
    """
    found: frozenset[int] | None = None
    if isinstance(query, Query) or query.strip():
        try:
            parsed = query if isinstance(query, Query) else parse_query(query)
            found = index.search(parsed, strong_only=strong_only)
        except QuerySyntaxError:
            found = frozenset()  # forms and admin refuse such queries; an old row matches nothing
    if categories:
        in_categories = index.in_categories(categories)
        found = in_categories if found is None else found & in_categories
    return found or frozenset()
