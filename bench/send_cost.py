"""CPU per email of the send side without a database or a mail server: compose (cards, links,
subject, both parts) and build the MIME of a batch, as a worker's render-ahead thread does.

    python -m bench.send_cost [--emails 600] [--profile]

Readers get 10 of 40 sample cards each (real arXiv titles and abstracts), so after a warm-up
every card is cached, as in a worker past its first emails. Process CPU time, not wall time:
compare runs of two versions interleaved on a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from bench.spamcheck import sample_papers_in_memory  # noqa: E402
from newsletter.digests.cards import PaperCard, paper_card  # noqa: E402
from newsletter.digests.delivery import Batch, outgoing  # noqa: E402
from newsletter.mail.smtp import SmtpMailer  # noqa: E402
from newsletter.models import Digest, Subscriber  # noqa: E402

EDITION = dt.date(2026, 12, 1)
PAPERS = 40
CARDS = 10
REASONS = [
    {"kind": "topic", "label": "Diffusion models", "words": ["diffusion"], "strength": "strong"}
]


def sample_cards() -> dict[int, PaperCard]:
    papers = sample_papers_in_memory(PAPERS, announced_on=EDITION)
    return {paper.pk: paper_card(paper) for paper in papers}


def sample_batch(readers: int, cards: dict[int, PaperCard]) -> Batch:
    digests, items = [], {}
    for n in range(readers):
        reader = Subscriber(
            pk=n + 1, email=f"reader{n}@bench.invalid", language="en", status="active"
        )
        digest = Digest(
            pk=n + 1,
            subscriber=reader,
            edition_on=EDITION,
            covers_from=EDITION - dt.timedelta(days=1),
            covers_to=EDITION,
            matched_count=CARDS + 4,
            more_count=4,
            message_id=f"<digest.{n}@bench.invalid>",
        )
        digests.append(digest)
        items[digest.pk] = [((n + k) % PAPERS + 1, REASONS) for k in range(CARDS)]
    return Batch(digests, items, cards)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=600)
    parser.add_argument("--profile", action="store_true", help="print a cProfile instead")
    args = parser.parse_args()

    cards = sample_cards()
    mailer = SmtpMailer()
    for _ready in outgoing(sample_batch(PAPERS, cards), mailer):  # every card rendered once
        pass
    batch = sample_batch(args.emails, cards)

    def run() -> int:
        return sum(len(ready.data or b"") for ready in outgoing(batch, mailer))

    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        return
    started = time.process_time()
    size = run()
    seconds = time.process_time() - started
    print(
        f"compose + MIME: {1000 * seconds / args.emails:.3f} ms CPU per email "
        f"({args.emails} emails, mean {size // args.emails:,} bytes)"
    )


if __name__ == "__main__":
    main()
