"""Opening an email or a page tells no third party anything: system fonts only, no web
fonts, style sheets or images from another host (each open of a digest used to ask
fonts.googleapis.com, handing Google the reader's IP address)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from bench.spamcheck import sample_email
from newsletter.rendering import render_email
from tests.factories import PaperFactory, TopicFactory

CONTEXT = {
    "site_name": "Paperboy",
    "sender_line": "Paperboy · 1 Example Street",
    "confirm_url": "https://example.org/confirm/abc/",
    "manage_url": "https://example.org/manage/abc/",
    "unsubscribe_url": "https://example.org/unsubscribe/abc/",
    "language_code": "en",
    "preheader": "",
}
# What a mail client or browser fetches by itself when it shows the message or page.
FETCHED = re.compile(
    r"""<link\b|@import|@font-face|url\(|<img\b[^>]*\bsrc=["']?https?:|<script\b[^>]*\bsrc=["']?https?:""",
    re.I,
)


def assert_fetches_nothing_elsewhere(html: str) -> None:
    assert "fonts.googleapis.com" not in html
    assert "fonts.gstatic.com" not in html
    assert not FETCHED.search(html), FETCHED.search(html)[0]


@pytest.mark.parametrize("name", ["confirm", "manage-link"])
def test_transactional_emails_use_system_fonts_only(name):
    assert_fetches_nothing_elsewhere(render_email(name, CONTEXT).html)


@pytest.mark.django_db
def test_a_digest_uses_system_fonts_only():
    html = sample_email().html

    assert_fetches_nothing_elsewhere(html)
    assert "-apple-system" in html  # the system stack is still what the text is set in


@pytest.mark.django_db
def test_public_pages_fetch_nothing_from_another_host(client):
    TopicFactory(slug="diffusion", query="diffusion")
    PaperFactory(title="Diffusion")

    for path in ["/", "/papers/", "/topics/", "/topics/diffusion/"]:
        page = client.get(path).content.decode()
        for tag in re.findall(r"<(?:link|script|img)\b[^>]*>", page, flags=re.I):
            assert not re.search(r"""(?:href|src)=["']?(?:https?:)?//""", tag), (path, tag)


def test_no_template_or_style_sheet_names_a_font_service():
    roots = [Path(settings.BASE_DIR) / "templates", Path(settings.BASE_DIR) / "newsletter"]
    files = [p for root in roots for p in root.rglob("*") if p.suffix in (".html", ".mjml", ".css")]

    assert files
    for path in files:
        text = path.read_text()
        assert "googleapis" not in text and "@import" not in text, path
