"""Per-email cost of a digest: three ways to render it, two ways to build its MIME, and the
send rate over one reused SMTP connection to a local sink, against the raw smtplib floor.

    python -m bench.digest_render [--emails 2000] [--cards 10] [--json]

Needs no database: cards are made in memory from the shipped sample papers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.template import engines  # noqa: E402
from mjml import mjml2html  # noqa: E402

from bench.floor import measure_floor  # noqa: E402
from bench.spamcheck import sample_cards, sample_papers_in_memory  # noqa: E402
from newsletter import rendering  # noqa: E402
from newsletter.digests.cards import Card  # noqa: E402
from newsletter.digests.render import render_digest  # noqa: E402
from newsletter.mail.mime import django_message, mime_bytes  # noqa: E402
from newsletter.mail.outcomes import Outcome  # noqa: E402
from newsletter.mail.smtp import SmtpMailer  # noqa: E402
from newsletter.models import Subscriber  # noqa: E402


def reader(n: int) -> Subscriber:
    return Subscriber(pk=n, email=f"reader{n}@bench.invalid", language="en")


def per_call_ms(function, repeat: int) -> float:
    function()  # warm caches (compiled templates, translations)
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat // 5):
            function()
        samples.append((time.perf_counter() - started) * 1000 / (repeat // 5))
    return statistics.median(samples)


def render_variants(cards: list[Card], repeat: int) -> dict[str, float]:
    subscriber = reader(1)
    items = [(n, [{"kind": "topic", "label": "Diffusion models"}]) for n in range(len(cards))]

    def full_compose() -> None:
        render_digest(
            subscriber=subscriber,
            edition_on=django.utils.timezone.localdate(),
            cards=cards,
            items=items,
            matched_count=len(cards) + 4,
            more_count=4,
            message_id="<bench@bench.invalid>",
            digest_id=1,
        )

    context = {
        "site_name": "Paperboy",
        "sender_line": settings.SENDER_ADDRESS_LINE,
        "language_code": "en",
        "subject": "12 new papers on Diffusion models — Tue 25 Mar",
        "preheader": cards[0].paper.title,
        "heading": "Tuesday 25 March 2025 · 10 papers",
        "cards": cards,
        "more_count": 4,
        "more_url": "https://example.org/more/",
        "view_url": "https://example.org/view/",
        "manage_url": "https://example.org/manage/",
        "unsubscribe_url": "https://example.org/unsubscribe/",
    }
    compiled = rendering.html_template("digest")
    layout = rendering._source(rendering.LAYOUT)
    mjml_source = layout.replace(rendering.CONTENT_SLOT, rendering._source("emails/digest.mjml"))
    mjml_template = engines["django"].from_string(mjml_source)
    plain = engines["django"].get_template("pages/_digest_entries.html")
    # The web view's template renders Paper rows (it links each to its "similar papers" page).
    papers = sample_papers_in_memory(len(cards))
    entries = [{"paper": paper, "why": card.why} for paper, card in zip(papers, cards, strict=True)]

    return {
        "mjml_compiled_once_ms": per_call_ms(lambda: compiled.render(context), repeat),
        "mjml_per_email_ms": per_call_ms(lambda: mjml2html(mjml_template.render(context)), repeat),
        "plain_django_cards_ms": per_call_ms(lambda: plain.render({"entries": entries}), repeat),
        "full_compose_ms": per_call_ms(full_compose, repeat),
        "html_bytes": len(compiled.render(context).encode()),
    }


def mime_variants(cards: list[Card], repeat: int) -> tuple[dict[str, float], bytes]:
    email = render_digest(
        subscriber=reader(1),
        edition_on=django.utils.timezone.localdate(),
        cards=cards,
        items=[(n, []) for n in range(len(cards))],
        matched_count=len(cards),
        more_count=0,
        message_id="<bench@bench.invalid>",
        digest_id=1,
    )
    message = django_message(email)
    return {
        "mime_by_hand_ms": per_call_ms(lambda: mime_bytes(email), repeat),
        "mime_email_package_ms": per_call_ms(
            lambda: message.message().as_bytes(linesep="\r\n"), max(50, repeat // 10)
        ),
    }, mime_bytes(email)


def send_rate(cards: list[Card], emails: int) -> dict[str, float]:
    """Render + build + send over one reused connection, vs the raw floor, same sink."""
    folder = Path(tempfile.mkdtemp(prefix="paperboy-bench-"))
    port = 2600 + os.getpid() % 300
    sink = subprocess.Popen(
        [sys.executable, "-m", "bench.smtp_sink", "--port", str(port), "--log",
         str(folder / "sink.log")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert sink.stdout is not None and sink.stdout.readline().startswith("READY")
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        items = [(n, []) for n in range(len(cards))]
        mailer = SmtpMailer()
        size = 0
        started = time.perf_counter()
        for n in range(emails):
            email = render_digest(
                subscriber=reader(n + 1),
                edition_on=django.utils.timezone.localdate(),
                cards=cards,
                items=items,
                matched_count=len(cards),
                more_count=0,
                message_id=f"<bench.{n}@bench.invalid>",
                digest_id=n + 1,
            )
            delivery = mailer.deliver(email)
            assert delivery.outcome is Outcome.ACCEPTED, delivery
            size = len(mime_bytes(email)) if n == 0 else size
        mailer.close()
        ours = emails / (time.perf_counter() - started)
        floor = measure_floor(port=port, messages=emails, size=size, connections=1, starttls=False)
    finally:
        sink.terminate()
        sink.wait(10)
    return {
        "message_bytes": size,
        "ours_per_second": ours,
        "floor_per_second": floor["per_second"],
        "ratio": ours / floor["per_second"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--cards", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cards = sample_cards(args.cards)
    results: dict[str, float] = {}
    results.update(render_variants(cards, args.repeat))
    mime, _message = mime_variants(cards, args.repeat)
    results.update(mime)
    results.update(send_rate(cards, args.emails))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value:10.3f}" if isinstance(value, float) else
              f"{name:<{width}}  {value:10d}")  # fmt: skip


if __name__ == "__main__":
    main()
