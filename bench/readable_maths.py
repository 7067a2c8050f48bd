"""What readable maths costs: `papers.latex.readable` over the sample captures' titles and
abstracts (with and without the per-process cache of converted spans), and over hostile
LaTeX (the bounds at work), each hostile text from a cold cache.

    python -m bench.readable_maths [--rounds 20]

Reads no database: the captures are parsed by the product's own parsers.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from papers.latex import MAX_SPAN, _span_text, readable  # noqa: E402
from papers.sample_data import sample_captures  # noqa: E402

HOSTILE = {
    "5,000 nested braces": "$" + "{" * 5000 + "x" + "}" * 5000 + "$",
    "3,000 \\frac{": r"\frac{" * 3000,
    "1,000 spans 8 braces deep": ("$" + "{" * 8 + r"\alpha" + "}" * 8 + "$ ") * 1000,
    "300 spans of 400 characters": ("$" + r"\alpha " * (MAX_SPAN // 7) + "$ ") * 300,
    "2,000 nested \\emph{": r"\emph{" * 2000 + "x" + "}" * 2000,
    "10,000 $": "$" * 10_000,
    "1,000 distinct spans": " ".join(f"$\\alpha_{{{n}}}^{{{{{n}}}}}$" for n in range(1000)),
    "200 distinct dense spans": " ".join(
        "$" + " ".join(f"\\frac{{a_{{{n}}}}}{{b^{{{k}}}}}" for k in range(17))[:395] + "$"
        for n in range(200)
    ),
}


def _per_text(texts: list[str], rounds: int, *, cold: bool) -> float:
    """Seconds per text; cold: each round starts with no span converted yet."""
    elapsed = 0.0
    for _ in range(rounds):
        if cold:
            _span_text.cache_clear()
        start = time.perf_counter()
        for text in texts:
            readable(text)
        elapsed += time.perf_counter() - start
    return elapsed / rounds / max(len(texts), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    texts = [
        text
        for capture in sample_captures()
        for record in capture.document.records
        for text in (record.title, record.abstract)
    ]
    with_latex = [text for text in texts if "$" in text or "\\" in text]
    print(f"{len(texts)} titles and abstracts, {len(with_latex)} with $ or \\")
    for what, chosen in (("every text", texts), ("texts with LaTeX", with_latex)):
        cold = _per_text(chosen, rounds, cold=True) * 1e6
        warm = _per_text(chosen, rounds, cold=False) * 1e6
        print(f"  {what:<18} {cold:8.0f} µs each cold, {warm:6.0f} µs with spans seen before")
    for name, text in HOSTILE.items():
        _span_text.cache_clear()
        start = time.perf_counter()
        readable(text)
        print(f"  {name:<30} {len(text):>7,} chars {time.perf_counter() - start:6.3f} s")


if __name__ == "__main__":
    main()
