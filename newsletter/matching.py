"""The query syntax readers type, parsed once, and the in-memory index that answers it.

Matching happens here in Python, never in SQL, so a query finds the same papers on
PostgreSQL and on the embedded SQLite.

Syntax (case-insensitive, accents ignored):
    diffusion transformer      both words
    "text-to-image"            the exact phrase (a hyphenated word is a phrase too)
    video OR audio             either word; OR binds tighter than the implicit AND
    -survey, -"user study"     leave out papers with that word or phrase
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_QUERY_LENGTH = 500
MAX_QUERY_TERMS = 40
MAX_PHRASE_WORDS = 12

Phrase = tuple[str, ...]

_WORD = re.compile(r"[^\W_]+")
_BARE_TERM = re.compile(r'[^\s"]+')


class QuerySyntaxError(ValueError):
    """A query the reader must fix; the message says how, in words they understand."""


def normalise_words(text: str) -> list[str]:
    """Lower-cased, accent-free words: the unit both queries and papers are cut into."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(stripped)


def _joined(words: Sequence[str]) -> str:
    return " " + " ".join(words) + " "


@dataclass(frozen=True)
class Query:
    """A parsed query: all `required` groups must match (any phrase of a group will do),
    no `excluded` phrase may."""

    required: tuple[tuple[Phrase, ...], ...]
    excluded: tuple[Phrase, ...] = ()

    @functools.cached_property
    def canonical(self) -> str:
        """One spelling per meaning: equal queries evaluate once per run."""

        def spell(phrase: Phrase) -> str:
            return phrase[0] if len(phrase) == 1 else '"' + " ".join(phrase) + '"'

        groups = [" OR ".join(spell(p) for p in group) for group in self.required]
        return " ".join(groups + ["-" + spell(p) for p in self.excluded])

    @functools.cached_property
    def positive_phrases(self) -> tuple[Phrase, ...]:
        return tuple(phrase for group in self.required for phrase in group)


@dataclass(frozen=True)
class _Term:
    phrase: Phrase
    excluded: bool


_OR = object()


def parse_query(text: str) -> Query:
    """Parse reader-typed search syntax, or raise QuerySyntaxError saying what to fix."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"Keep the query under {MAX_QUERY_LENGTH} characters.")
    items = _lex(text)
    required: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    previous: object = None
    for item in items:
        if item is _OR:
            if not isinstance(previous, _Term) or previous.excluded:
                raise QuerySyntaxError("Put OR between two words, like: video OR audio.")
        elif isinstance(item, _Term) and item.excluded:
            if previous is _OR:
                raise QuerySyntaxError("OR cannot be followed by an excluded (-) word.")
            excluded.append(item.phrase)
        elif isinstance(item, _Term):
            if previous is _OR:
                required[-1].append(item.phrase)
            else:
                required.append([item.phrase])
        previous = item
    if previous is _OR:
        raise QuerySyntaxError("The query ends with OR: add the word it should offer.")
    if not required:
        raise QuerySyntaxError("Add at least one word to look for, not only excluded words.")
    term_count = sum(len(group) for group in required) + len(excluded)
    if term_count > MAX_QUERY_TERMS:
        raise QuerySyntaxError(f"Use at most {MAX_QUERY_TERMS} words and phrases.")
    return Query(
        required=tuple(dict.fromkeys(tuple(dict.fromkeys(group)) for group in required)),
        excluded=tuple(dict.fromkeys(excluded)),
    )


def _lex(text: str) -> list[object]:
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
                    "A lone '-' excludes nothing: write the word right after it, like -survey."
                )
        if text[position] == '"':
            end = text.find('"', position + 1)
            if end == -1:
                raise QuerySyntaxError('A quote is not closed: add the closing ".')
            raw = text[position + 1 : end]
            position = end + 1
            if not raw.strip():
                raise QuerySyntaxError('Empty quotes "" match nothing: put a phrase inside.')
        else:
            match = _BARE_TERM.match(text, position)
            assert match is not None  # a non-space, non-quote character is always there
            raw = match.group()
            position = match.end()
            if raw == "OR" and not excluded:
                items.append(_OR)
                continue
        words = normalise_words(raw)
        if not words:
            raise QuerySyntaxError(f"“{raw[:40]}” has no letters or digits to search for.")
        if len(words) > MAX_PHRASE_WORDS:
            raise QuerySyntaxError(f"Keep phrases to {MAX_PHRASE_WORDS} words or fewer.")
        items.append(_Term(phrase=tuple(words), excluded=excluded))
    return items


def parse_categories(text: str | Iterable[str]) -> list[str]:
    """arXiv categories from a comma/space separated string (or a list), validated."""
    raw = re.split(r"[\s,;]+", text) if isinstance(text, str) else list(text)
    categories = []
    for item in (part.strip() for part in raw):
        if not item:
            continue
        if not re.fullmatch(r"[a-zA-Z-]+(\.[a-zA-Z-]+)?", item) or len(item) > 20:
            raise QuerySyntaxError(f"“{item[:40]}” is not an arXiv category like cs.CV.")
        categories.append(item)
    return list(dict.fromkeys(categories))


@dataclass
class IndexedPaper:
    """The text of one paper, as the index needs it."""

    id: int
    title: str
    abstract: str
    categories: Sequence[str] = ()
    authors: Sequence[str] = ()


@dataclass
class PaperIndex:
    """An inverted index of a set of papers (typically one run's candidates).

    Word lookups are set operations; phrases are confirmed against each candidate's
    normalised text, so `-word` is an exact set difference.
    """

    word_papers: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    title_word_papers: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    category_papers: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    author_word_papers: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    joined_titles: dict[int, str] = field(default_factory=dict)
    joined_abstracts: dict[int, str] = field(default_factory=dict)
    author_names: dict[int, list[frozenset[str]]] = field(default_factory=dict)
    _phrase_cache: dict[Phrase, frozenset[int]] = field(default_factory=dict)
    _title_phrase_cache: dict[Phrase, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, papers: Iterable[IndexedPaper]) -> PaperIndex:
        index = cls()
        for paper in papers:
            index.add(paper)
        return index

    def add(self, paper: IndexedPaper) -> None:
        title_words = normalise_words(paper.title)
        abstract_words = normalise_words(paper.abstract)
        self.joined_titles[paper.id] = _joined(title_words)
        self.joined_abstracts[paper.id] = _joined(abstract_words)
        for word in title_words:
            self.title_word_papers[word].add(paper.id)
            self.word_papers[word].add(paper.id)
        for word in abstract_words:
            self.word_papers[word].add(paper.id)
        for category in paper.categories:
            self.category_papers[category.casefold()].add(paper.id)
        names = [frozenset(normalise_words(author)) for author in paper.authors]
        self.author_names[paper.id] = names
        for word in set().union(*names) if names else ():
            self.author_word_papers[word].add(paper.id)
        self._phrase_cache.clear()
        self._title_phrase_cache.clear()

    @property
    def paper_ids(self) -> frozenset[int]:
        return frozenset(self.joined_titles)

    def phrase_papers(self, phrase: Phrase) -> frozenset[int]:
        cached = self._phrase_cache.get(phrase)
        if cached is not None:
            return cached
        candidates = self._all_words(self.word_papers, phrase)
        if len(phrase) > 1:
            needle = _joined(phrase)
            candidates = {
                paper_id
                for paper_id in candidates
                if needle in self.joined_titles[paper_id]
                or needle in self.joined_abstracts[paper_id]
            }
        result = frozenset(candidates)
        self._phrase_cache[phrase] = result
        return result

    def search(self, query: Query) -> frozenset[int]:
        """Ids of the papers whose title or abstract satisfies the query."""
        groups = sorted(
            (frozenset().union(*map(self.phrase_papers, group)) for group in query.required),
            key=len,
        )
        result = set(groups[0])
        for group_ids in groups[1:]:
            result &= group_ids
            if not result:
                return frozenset()
        for phrase in query.excluded:
            result -= self.phrase_papers(phrase)
        return frozenset(result)

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
            for paper_id in self._all_words(self.author_word_papers, tuple(wanted)):
                if any(wanted <= author for author in self.author_names[paper_id]):
                    found.add(paper_id)
        return frozenset(found)

    def matched_phrases(self, query: Query, paper_id: int) -> list[str]:
        """The query's words and phrases found in one paper: the card's 'why it's here'."""
        return [
            " ".join(phrase)
            for phrase in query.positive_phrases
            if paper_id in self.phrase_papers(phrase)
        ]

    def title_phrase_papers(self, phrase: Phrase) -> frozenset[int]:
        cached = self._title_phrase_cache.get(phrase)
        if cached is None:
            candidates = self._all_words(self.title_word_papers, phrase)
            if len(phrase) > 1:
                needle = _joined(phrase)
                candidates = {pid for pid in candidates if needle in self.joined_titles[pid]}
            cached = self._title_phrase_cache[phrase] = frozenset(candidates)
        return cached

    def title_hit_papers(self, query: Query) -> frozenset[int]:
        """Papers with one of the query's words or phrases in the title (ranks above abstract)."""
        return frozenset().union(*map(self.title_phrase_papers, query.positive_phrases))

    def hits_title(self, query: Query, paper_id: int) -> bool:
        title = self.joined_titles.get(paper_id, "")
        return any(_joined(phrase) in title for phrase in query.positive_phrases)

    @staticmethod
    def _all_words(postings: dict[str, set[int]], words: Sequence[str]) -> set[int]:
        sets = sorted((postings.get(word, set()) for word in set(words)), key=len)
        if not sets or not sets[0]:
            return set()
        return set(sets[0]).intersection(*sets[1:])
