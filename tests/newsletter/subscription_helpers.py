"""Shared bits of the subscription tests: a valid sign-up form and link paths."""

from __future__ import annotations

from django.conf import settings


def signup_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "email": "reader@example.com",
        "website": "",
        "topics": [],
        "own_query": "diffusion",
        "categories": "",
        "authors": "",
        "include_cross_lists": "on",
        "frequency": "daily",
        "send_hour_local": "7",
        "time_zone": "Europe/Berlin",
        "max_papers": "10",
        "language": "en",
        "action": "subscribe",
    }
    data.update(overrides)
    return data


def path_of(url: str) -> str:
    assert url.startswith(settings.SITE_URL), url
    return url.removeprefix(settings.SITE_URL)


def link_in(text: str, *, kind: str) -> str:
    """The path of the first `/<kind>/…/` link in a text part."""
    for word in text.split():
        if word.startswith(f"{settings.SITE_URL}/{kind}/"):
            return path_of(word)
    raise AssertionError(f"no /{kind}/ link in {text!r}")
