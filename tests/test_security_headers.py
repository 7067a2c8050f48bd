"""Every page carries the security headers a public site needs."""

from __future__ import annotations

import pytest

from newsletter.emails import unsubscribe_url
from newsletter.signing import Purpose, make_token
from tests.factories import DigestFactory, PaperFactory, TopicFactory
from tests.product_settings import product_settings

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


def use_security_defaults_of(settings, *, site_url: str) -> None:
    """The HSTS settings a site at `site_url` gets when nothing else is set."""
    defaults = product_settings(SITE_URL=site_url)
    for name in ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"):
        setattr(settings, name, defaults[name])


def test_an_https_site_sends_hsts_by_default(client, settings):
    use_security_defaults_of(settings, site_url="https://papers.example.org")

    response = client.get("/healthz", secure=True)

    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


def test_hsts_never_goes_out_over_plain_http(client, settings):
    use_security_defaults_of(settings, site_url="https://papers.example.org")

    response = client.get("/healthz")

    assert "Strict-Transport-Security" not in response


def test_an_http_site_sends_no_hsts_by_default(client, settings):
    use_security_defaults_of(settings, site_url="http://127.0.0.1:8000")

    response = client.get("/healthz", secure=True)

    assert "Strict-Transport-Security" not in response


def test_every_kind_of_public_page_carries_the_policy(client):
    PaperFactory()
    topic = TopicFactory()
    digest = DigestFactory()
    view = make_token(
        purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=digest.subscriber.email
    )
    pages = [
        "/",
        "/papers/",
        "/topics/",
        f"/topics/{topic.slug}/",
        f"/digest/{view}/",
        unsubscribe_url(digest.subscriber).removeprefix("http://127.0.0.1:8000"),
        "/confirm/forged/",
    ]

    for page in pages:
        response = client.get(page)
        assert response.status_code in (200, 400), page
        assert "default-src 'self'" in response["Content-Security-Policy"], page
        assert response["X-Content-Type-Options"] == "nosniff", page
        assert response["Referrer-Policy"] == "same-origin", page


# --- a proxy's X-Forwarded-Proto is trusted only when a setting says a proxy is there ---------


def use_proxy_settings_of(settings, **environment: str) -> None:
    defaults = product_settings(SITE_URL="https://papers.example.org", **environment)
    for name in ("SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS"):
        setattr(settings, name, defaults[name])


def test_a_client_cannot_claim_https_when_no_proxy_is_in_front(client, settings):
    use_proxy_settings_of(settings)

    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")

    assert settings.SECURE_PROXY_SSL_HEADER is None
    assert response.status_code == 301  # plain HTTP, whatever the header claims
    assert response["Location"].startswith("https://")
    assert "Strict-Transport-Security" not in response


def test_behind_a_proxy_its_forwarded_proto_is_trusted(client, settings):
    use_proxy_settings_of(settings, BEHIND_PROXY="1")

    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")

    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
