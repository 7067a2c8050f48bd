"""Every page carries the security headers a public site needs."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_pages_forbid_sniffing_framing_and_foreign_scripts(client):
    response = client.get("/healthz")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def test_https_responses_carry_hsts(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True

    response = client.get("/healthz", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_plain_http_responses_carry_no_hsts(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000

    response = client.get("/healthz")

    assert "Strict-Transport-Security" not in response
