"""SpamAssassin's verdict on a sample digest, with local rules only (no network tests).

    python -m bench.spamcheck [--max-score 1.0] [--save sample.eml]

Exits 1 when the score is above the limit. The test suite runs the same check, and fails
where the Debian `spamassassin` package is missing (.ci/run installs it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MAX_SCORE = 0.5
_STATUS = re.compile(
    r"^X-Spam-Status: (?P<verdict>\w+), score=(?P<score>-?[\d.]+)"
    r".*?tests=(?P<tests>.*?)\s+autolearn",
    re.M | re.S,
)


def sample_papers_in_memory(count: int = 10, *, announced_on=None) -> list:
    """Unsaved Paper rows from the shipped sample papers (real arXiv titles and abstracts),
    announced today unless a day is given."""
    from django.utils import timezone

    from papers.models import Paper
    from papers.sample_data import sample_papers

    return [
        Paper(
            pk=n + 1,
            arxiv_id=record["arxiv_id"],
            title=record["title"],
            abstract=record["abstract"],
            authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"][: n % 4 + 1],
            categories=record["categories"],
            announced_on=announced_on or timezone.localdate(),
            comment=record.get("comment", ""),
            code_url=record.get("code_url", ""),
            hf_upvotes=(n * 37) % 90,
            is_featured=n == 0,
            editor_note="A clear write-up with code; worth an afternoon." if n == 1 else "",
        )
        for n, record in enumerate(sample_papers()[:count])
    ]


def sample_cards(count: int = 10) -> list:
    """Cards of the sample papers, made in memory as an email's cards are."""
    from newsletter.digests.cards import CardMaker, paper_card
    from newsletter.ratings import rating_links

    maker = CardMaker()
    cards = []
    for n, paper in enumerate(sample_papers_in_memory(count)):
        why = "Diffusion models: diffusion" if n % 2 else "Image generation: text to image"
        # The reader's 👍/👎 links, as every email card carries them (the sample reader is pk 1).
        feedback = rating_links(
            subscriber_id=1, email="reader@example.com", paper_id=paper.pk, absolute=True
        )
        cards.append(maker.card(paper_card(paper), why, feedback))
    return cards


def sample_email(count: int = 10, *, extra_cards: list | None = None):
    """A typical ten-paper digest, rendered (a DigestEmail)."""
    from django.utils import timezone

    from newsletter.digests.render import render_digest
    from newsletter.models import Subscriber

    cards = sample_cards(count) + (extra_cards or [])
    return render_digest(
        subscriber=Subscriber(pk=1, email="reader@example.com", language="en"),
        edition_on=timezone.localdate(),
        cards=cards,
        items=[(n, [{"kind": "topic", "label": "Diffusion models"}]) for n in range(len(cards))],
        matched_count=len(cards) + 3,
        more_count=3,
        message_id="<digest.20250325.1@papers.example.org>",
        digest_id=1,
    )


def sample_digest(count: int = 10) -> bytes:
    """The bytes Paperboy would send for a typical ten-paper digest."""
    from newsletter.mail.mime import mime_bytes

    return mime_bytes(sample_email(count))


def spamassassin_score(message: bytes) -> tuple[float, list[str]]:
    result = subprocess.run(
        ["spamassassin", "-t", "-L"], input=message, capture_output=True, timeout=120, check=True
    )
    status = _STATUS.search(result.stdout.decode(errors="replace"))
    if status is None:
        raise RuntimeError("no X-Spam-Status in SpamAssassin's answer")
    tests = [name for name in re.split(r"[\s,]+", status["tests"]) if name]
    return float(status["score"]), tests


def spamassassin_installed() -> bool:
    return shutil.which("spamassassin") is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-score", type=float, default=MAX_SCORE)
    parser.add_argument("--save", type=Path, help="also write the sample digest here")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    os.environ.setdefault("SECRET_KEY", "spamcheck-only")
    os.environ.setdefault("SITE_URL", "https://papers.example.org")
    import django

    django.setup()
    message = sample_digest()
    if args.save:
        args.save.write_bytes(message)
    score, tests = spamassassin_score(message)
    print(f"SpamAssassin score {score} (limit {args.max_score}): {', '.join(tests)}")
    sys.exit(0 if score <= args.max_score else 1)


if __name__ == "__main__":
    main()
