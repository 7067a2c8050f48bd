"""Editors' synonyms: which ones are in force in this process, and which ones may be saved."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from newsletter.matching import (
    Form,
    PaperIndex,
    Phrase,
    Query,
    SynonymTable,
    Term,
    normalise_words,
    phrase_stems,
)

VERSION_KEY = "newsletter:synonyms:version"
# Other processes see an editor's change within this many seconds.
RECHECK_SECONDS = 5.0
MAX_SYNONYM_WORDS = 6
# A synonym whose words are in more than this share of recent papers would make every query
# that contains it match nearly everything.
MAX_RECENT_SHARE = 0.4
MIN_PAPERS_TO_JUDGE = 50
# Words so common in any abstract that a synonym of only these would match everything.
COMMON_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "we were which with our model models method methods paper data results using based new "
    "approach show propose proposed".split()
)


@dataclass
class _State:
    table: SynonymTable | None = None
    version: object = None
    checked_at: float = 0.0


_lock = threading.Lock()
_state = _State()


def current_synonym_table() -> SynonymTable:
    """The synonyms in force: loaded once per process and reloaded when an editor changes them
    (the version lives in the shared cache and is looked at every few seconds, not per query)."""
    with _lock:
        now = time.monotonic()
        if _state.table is not None and now - _state.checked_at < RECHECK_SECONDS:
            return _state.table
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, time.time_ns() // 1000, timeout=None)
            version = cache.get(VERSION_KEY)
        if _state.table is None or version != _state.version:
            _state.table = _load(version=str(version))
            _state.version = version
        _state.checked_at = now
        return _state.table


def _load(*, version: str) -> SynonymTable:
    from newsletter.models import Synonym

    rules = Synonym.objects.values_list("phrase", "also_finds", "both_ways")
    return SynonymTable.build(rules, version=version)


def synonyms_changed() -> None:
    """Call after saving or deleting a synonym: every process reloads them."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, time.time_ns() // 1000, timeout=None)
    forget_synonyms()


def forget_synonyms() -> None:
    with _lock:
        _state.table, _state.version, _state.checked_at = None, None, 0.0


# --- What may be saved ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    phrase: str
    also_finds: str
    both_ways: bool


def check_synonym(*, rule: Rule, others: Iterable[Rule], index: PaperIndex | None = None) -> None:
    """Refuse, with a message saying why, a synonym that would match nothing or everything,
    add nothing, or loop back through the other synonyms; `index` (the recent papers) lets the
    check see how common its words really are."""
    sides = []
    for text in (rule.phrase, rule.also_finds):
        if (
            any(mark in text for mark in ('"', "~"))
            or " OR " in f" {text} "
            or text.startswith("-")
        ):
            raise ValidationError(
                _("Write plain words in a synonym, without quotes, OR, - or ~: “%(text)s”.")
                % {"text": text}
            )
        words = tuple(normalise_words(text))
        if not words:
            raise ValidationError(
                _("“%(text)s” has no letters or digits: it would match nothing.") % {"text": text}
            )
        if len(words) > MAX_SYNONYM_WORDS:
            raise ValidationError(
                _("Keep a synonym to %(count)d words.") % {"count": MAX_SYNONYM_WORDS}
            )
        sides.append(words)
    source, target = sides
    if phrase_stems(source) == phrase_stems(target):
        raise ValidationError(
            _("“%(a)s” and “%(b)s” are the same words once word forms are set aside: "
              "the synonym would add nothing.") % {"a": rule.phrase, "b": rule.also_finds}
        )  # fmt: skip
    for text, words in ((rule.phrase, source), (rule.also_finds, target)):
        _refuse_if_everywhere(text, words, index)
    _refuse_loops(rule, source, target, others)


def _refuse_if_everywhere(text: str, words: Phrase, index: PaperIndex | None) -> None:
    if set(words) <= COMMON_WORDS:
        raise ValidationError(
            _("“%(text)s” is in nearly every abstract: any query with it would match almost "
              "every paper.") % {"text": text}
        )  # fmt: skip
    if index is None or len(index) < MIN_PAPERS_TO_JUDGE:
        return
    query = Query(required=((Term(words, Form.WORDS),),))
    matched = len(index.search(query))
    if matched > MAX_RECENT_SHARE * len(index):
        raise ValidationError(
            _("“%(text)s” is in %(matched)d of the %(total)d recent papers: any query with it "
              "would match almost everything.")
            % {"text": text, "matched": matched, "total": len(index)}
        )  # fmt: skip


def _refuse_loops(rule: Rule, source: Phrase, target: Phrase, others: Iterable[Rule]) -> None:
    key_of = {}
    edges: dict[Phrase, set[Phrase]] = defaultdict(set)
    for other in others:
        a, b = (
            phrase_stems(normalise_words(other.phrase)),
            phrase_stems(normalise_words(other.also_finds)),
        )
        if not a or not b or a == b:
            continue
        key_of.setdefault(a, other.phrase)
        key_of.setdefault(b, other.also_finds)
        edges[a].add(b)
        if other.both_ways:
            edges[b].add(a)
    start, end = phrase_stems(source), phrase_stems(target)
    if end in edges[start] and (not rule.both_ways or start in edges[end]):
        raise ValidationError(
            _("A synonym already has “%(a)s” find “%(b)s”: this one would add nothing.")
            % {"a": rule.phrase, "b": rule.also_finds}
        )
    path = _path(edges, end, start)
    if path and not rule.both_ways:
        chain = " → ".join([rule.also_finds, *(key_of.get(k, " ".join(k)) for k in path[1:])])
        raise ValidationError(
            _("“%(a)s” → “%(b)s” would loop back (%(chain)s). Make it one synonym that works "
              "both ways instead.") % {"a": rule.phrase, "b": rule.also_finds, "chain": chain}
        )  # fmt: skip


def _path(edges: dict[Phrase, set[Phrase]], start: Phrase, goal: Phrase) -> list[Phrase]:
    previous: dict[Phrase, Phrase | None] = {start: None}
    queue = [start]
    while queue:
        current = queue.pop(0)
        if current == goal:
            path = [current]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])
            return path[::-1]
        for following in edges.get(current, ()):
            if following not in previous:
                previous[following] = current
                queue.append(following)
    return []
