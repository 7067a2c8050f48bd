"""LaTeX in titles and abstracts as readable text: only the LaTeX spans are converted (with
pylatexenc), every other character is left as it came, and hostile input costs bounded work."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

# A real span ($\mathcal{O}(n \log n)$, \emph{...}) is a few dozen characters; longer ones
# and deeper nesting are left as written: pylatexenc recurses once per brace (400 nested
# braces overflow Python's stack) and its time grows with the span.
MAX_SPAN = 400
MAX_DEPTH = 8
MAX_SPANS = 200
# And at most this much LaTeX a text (a maths-heavy abstract holds a few hundred characters):
# 200 distinct dense spans took 2.6 s on a loaded box, this many 0.1 s.
MAX_LATEX_CHARS = 3000

# Math between $...$ opens on a non-space and closes on a non-space (Pandoc's rule), and when
# it opens on a digit its close is not followed by one: "costs $5 and $10" and "$5-$10" are
# prose, "$\sim$10x" is math. \(...\), \[...\] and $$...$$ too.
_UP_TO_SPAN = "{1," + str(MAX_SPAN) + "}?"
_MATH = "|".join(
    (
        r"\$\$[^$]" + _UP_TO_SPAN + r"\$\$",
        r"\$(?=[^\s$\d])[^$]" + _UP_TO_SPAN + r"(?<=[^\s\\])\$",
        r"\$(?=\d)[^$]" + _UP_TO_SPAN + r"(?<=[^\s\\])\$(?!\d)",
        r"\\\([^$]" + _UP_TO_SPAN + r"\\\)",
        r"\\\[[^$]" + _UP_TO_SPAN + r"\\\]",
    )
)
# An accent with its letter (\"u, \'{e}); a link (\url{x} reads as x, not <x>).
_ACCENT = r"""\\["'`^~=.](?:\{[A-Za-z]\}|[A-Za-z])"""
_LINK = re.compile(r"\\(?:url|href)\{([^{}\s]" + _UP_TO_SPAN + r")\}(?:\{[^{}]*\})?")
# A brace group, up to three deep.
_GROUP = r"\{[^{}]*(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}[^{}]*)*\}"
# A text macro (\emph, \textit, \alpha, \&, the thin space \,) and the brace groups after it.
_MACRO = r"\\(?:[A-Za-z]+\*?|[&%$#_{},;:!])(?:\s*" + _GROUP + ")*"
# A group opening with a font switch: {\em word}, {\bf word}.
_SWITCH = r"\{\\(?:em|it|bf|sc|tt|rm|sl|sf)\b[^{}]*\}"
_SPAN = re.compile(f"{_MATH}|{_SWITCH}|{_ACCENT}|{_MACRO}")
_HINT = re.compile(r"[$\\]")
_SPACES = re.compile(r"  +")

# pylatexenc warns once per span it cannot expand (\frac with no arguments): hostile input
# would flood the log, and the span is kept as written anyway.
logging.getLogger("pylatexenc").setLevel(logging.ERROR)


@lru_cache(maxsize=1)
def _converter() -> LatexNodes2Text:
    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


def _depth(span: str) -> int:
    depth = deepest = 0
    for char in span:
        if char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "}":
            depth -= 1
    return deepest


# Spans repeat across abstracts (\%, $\alpha$, $\times$): each is converted once a process.
@lru_cache(maxsize=8192)
def _span_text(span: str) -> str:
    if len(span) > MAX_SPAN or _depth(span) > MAX_DEPTH:
        return span
    try:
        text = _converter().latex_to_text(span)
    except (RecursionError, ValueError, IndexError, KeyError, TypeError):
        return span
    if text and not text.strip():
        return " "  # a spacing macro: \, \; \quad
    text = " ".join(text.split())
    # A macro missing its arguments comes back as a "%s" template, and one pylatexenc does not
    # know as nothing: keep the source rather than lose it.
    return span if "%s" in text or not text else text


def readable(text: str) -> str:
    """`text` with each LaTeX span ($\\alpha$-divergence, \\emph{x}, $\\textit{y}$) turned into
    what it reads as (α-divergence, x, y); text with no LaTeX comes back unchanged."""
    if not _HINT.search(text):
        return text
    text = _LINK.sub(r"\1", text)
    pieces: list[str] = []
    last = 0
    spaced = False
    budget = MAX_LATEX_CHARS
    for count, match in enumerate(_SPAN.finditer(text)):
        budget -= len(match.group())
        if count >= MAX_SPANS or budget < 0:
            break
        converted = _span_text(match.group())
        spaced = spaced or converted == " "
        pieces += (text[last : match.start()], converted)
        last = match.end()
    pieces.append(text[last:])
    if spaced:  # a spacing macro beside a space: "a \quad b" reads "a b"
        pieces = [_SPACES.sub(" ", "".join(pieces)).strip()]
    return unicodedata.normalize("NFC", "".join(pieces))
