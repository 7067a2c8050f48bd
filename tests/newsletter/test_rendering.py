"""MJML is compiled once per process into a Django template that escapes feed text."""

from __future__ import annotations

from newsletter import rendering
from newsletter.rendering import render_email

CONTEXT = {
    "site_name": "Paperboy",
    "sender_line": "Paperboy · 1 Example Street",
    "manage_url": "https://example.org/manage/abc/",
    "unsubscribe_url": "https://example.org/unsubscribe/abc/",
    "language_code": "en",
    "preheader": "A <b>bold</b> & risky preheader",
}


def test_html_has_the_subject_as_title_and_the_footer_links():
    email = render_email("manage-link", CONTEXT)

    assert email.subject == "Your Paperboy subscription"
    assert "<title>Your Paperboy subscription</title>" in email.html
    assert 'href="https://example.org/manage/abc/"' in email.html
    assert 'href="https://example.org/unsubscribe/abc/"' in email.html
    assert "Paperboy · 1 Example Street" in email.html


def test_text_from_outside_is_escaped_in_html_and_plain_in_text():
    email = render_email("manage-link", CONTEXT)

    assert "A &lt;b&gt;bold&lt;/b&gt; &amp; risky preheader" in email.html
    assert "<b>bold</b>" not in email.html
    assert "https://example.org/manage/abc/" in email.text
    assert "&amp;" not in email.text


def test_mjml_is_compiled_once_per_process():
    rendering._compiled_html.cache_clear()

    render_email("manage-link", CONTEXT)
    render_email("manage-link", CONTEXT)

    assert rendering._compiled_html.cache_info().misses == 1
    assert rendering._compiled_html.cache_info().hits == 1
