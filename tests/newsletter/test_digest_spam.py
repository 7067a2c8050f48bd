"""A sample digest passes SpamAssassin's local rules (score <= 1.0); without SpamAssassin the
test fails (apt-get install spamassassin)."""

from __future__ import annotations

import pytest

from bench.spamcheck import MAX_SCORE, sample_digest, spamassassin_score

pytestmark = pytest.mark.usefixtures("spamassassin")


def test_a_sample_digest_scores_at_most_one_with_spamassassin(settings):
    settings.SITE_URL = "https://papers.example.org"
    settings.SITE_HOST = "papers.example.org"

    score, tests = spamassassin_score(sample_digest())

    assert score <= MAX_SCORE, tests
    assert "MPART_ALT_DIFF" not in tests  # the text part says what the HTML part says
    assert "MIME_HTML_ONLY" not in tests
