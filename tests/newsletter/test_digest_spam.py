"""A sample digest passes SpamAssassin's local rules (score <= 0.5) without hiding text;
without SpamAssassin the test fails (apt-get install spamassassin)."""

from __future__ import annotations

import html
import re

import pytest

from bench.spamcheck import MAX_SCORE, sample_cards, sample_digest, sample_email, spamassassin_score

pytestmark = pytest.mark.usefixtures("spamassassin")


def test_a_sample_digest_scores_at_most_half_a_point_with_spamassassin(settings):
    settings.SITE_URL = "https://papers.example.org"
    settings.SITE_HOST = "papers.example.org"

    score, tests = spamassassin_score(sample_digest())

    assert MAX_SCORE == 0.5
    assert score <= MAX_SCORE, tests
    assert "HTML_FONT_LOW_CONTRAST" not in tests  # no text hidden in the background colour
    assert "MPART_ALT_DIFF" not in tests  # the text part says what the HTML part says
    assert "MIME_HTML_ONLY" not in tests


@pytest.mark.django_db
def test_the_inbox_preview_is_visible_text_not_hidden_text():
    email = sample_email()
    compact = email.html.replace(" ", "")

    assert "display:none" not in compact and "opacity:0" not in compact
    assert "mso-hide" not in email.html
    # The first words a mail client lists are the preheader: the first papers' titles.
    body = email.html.split("<body", 1)[1].split(">", 1)[1]
    first_words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    assert first_words.startswith(sample_cards()[0].paper.title), first_words[:200]
