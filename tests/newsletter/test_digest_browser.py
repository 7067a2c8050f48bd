"""The digest email in a real headless Chromium: no horizontal scrolling at phone width
(375 px) or desktop width (800 px), even with long unbreakable words from feeds."""

from __future__ import annotations

import pytest

from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from bench.spamcheck import sample_email
from newsletter.digests.cards import Card, CardMaker, paper_card
from papers.models import Paper

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]


def long_words_card() -> Card:
    paper = Paper(
        pk=999,
        arxiv_id="2503.99999",
        title="Supercalifragilistic" * 8 + " $\\mathcal{O}(n^2)$ <b>&</b>",
        abstract="https://example.org/" + "a" * 300 + " and more words",
        authors=["Averyveryverylongfirstname Averyveryverylonglastname"] * 5,
        categories=["cs.CV", "cs.LG", "cs.AI", "stat.ML"],
        comment="x" * 200,
        code_url="https://github.com/" + "y" * 150,
        hf_upvotes=1234,
        editor_note="Note" * 60,
    )
    return CardMaker().card(paper_card(paper), "Topic: " + "word" * 50)


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        # Never touch the network: the layout's web-font link is simply not loaded.
        page.route("**/*", lambda route: route.abort())
        yield page
        browser.close()


@pytest.mark.parametrize("width", [375, 800])
def test_the_digest_has_no_horizontal_overflow(page, width):
    email = sample_email(extra_cards=[long_words_card()])
    page.set_viewport_size({"width": width, "height": 900})

    page.set_content(email.html, wait_until="domcontentloaded")

    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width
    assert page.title() == email.subject
    widest = page.evaluate(
        "Math.max(...[...document.querySelectorAll('body *')]"
        ".map(e => e.getBoundingClientRect().right))"
    )
    assert widest <= width + 0.5
