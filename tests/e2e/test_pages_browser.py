"""The public pages, the digest's web pages and the admin's paper list in a real headless
Chromium: the live count in sight on a phone, short abstracts that open, the "Why:" line
inside its card, no 404 for the icon, and the paper list whole at 1280 px."""

from __future__ import annotations

import re

import pytest
from django.db import connections

from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from newsletter.digests.building import digests_build
from newsletter.models import Digest
from newsletter.paper_index import forget_paper_indexes
from newsletter.signing import Purpose, make_token
from tests.clock import TODAY
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]

LONG_ABSTRACT = " ".join(
    ["We study robot grasping with diffusion policies and report results."] * 12
)


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # ORM calls made inside Playwright's context opened their own connection: close it,
        # or the test database cannot be dropped at the end of the run.
        connections.close_all()


def open_page(browser, url: str, *, width: int, height: int = 700, cookies=()):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    if cookies:
        context.add_cookies(list(cookies))
    page = context.new_page()
    page.set_default_timeout(15_000)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.failed = failed  # type: ignore[attr-defined]
    page.goto(url)
    return page


@pytest.fixture
def papers(transactional_db):
    forget_paper_indexes()
    topic = TopicFactory(name="Robot sheep", slug="robot-sheep", query="robot", categories=[])
    for number in range(12):
        PaperFactory(title=f"Robot grasping {number}", abstract=LONG_ABSTRACT)
    yield topic
    forget_paper_indexes()


def box(page, selector: str) -> dict[str, float]:
    return page.locator(selector).first.bounding_box()


def test_on_a_phone_the_live_count_stays_in_sight_while_choosing(live_server, papers, browser):
    page = open_page(browser, live_server.url + "/", width=375, height=700)

    page.get_by_label(re.compile("Robot sheep")).check()
    count = page.locator("#preview-count")
    count.wait_for(state="visible")
    assert re.fullmatch(r"About \d+ papers? a day \(.*\)\.", count.inner_text()), count.inner_text()
    assert box(page, "#preview")["y"] > 700  # the panel itself is below the whole form
    for field in ("#id_own_query", "#id_send_hour_local", "#id_language"):
        page.locator(field).scroll_into_view_if_needed()
        shown = box(page, "#preview-count")  # relative to the viewport
        assert 0 <= shown["y"] and shown["y"] + shown["height"] <= 700, (field, shown)
        assert page.evaluate("window.scrollY") > 0
    assert page.failed == []  # type: ignore[attr-defined]  # the favicon included


def test_on_a_wide_screen_the_count_bar_is_not_shown(live_server, papers, browser):
    page = open_page(browser, live_server.url + "/", width=1280)

    page.get_by_label(re.compile("Robot sheep")).check()
    page.locator("#preview .rate").wait_for()

    assert page.locator("#preview-count").is_hidden()


def test_a_topic_page_shows_abstract_snippets_that_open_on_a_phone(live_server, papers, browser):
    page = open_page(browser, live_server.url + "/topics/robot-sheep/", width=375)

    first = page.locator("article.paper").first
    full_height = page.evaluate("document.documentElement.scrollHeight")
    assert first.locator("details.abstract p").is_hidden()
    assert first.get_by_text("Show the whole abstract").is_visible()
    first.get_by_text("Show the whole abstract").click()
    assert first.locator("details.abstract p").is_visible()
    assert first.get_by_text("Show less").is_visible()
    assert full_height < 12 * 700  # a dozen cards, each about half a phone screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


@pytest.mark.parametrize("more", [False, True])
def test_the_why_line_stays_inside_its_card_on_the_digest_pages(live_server, papers, browser, more):
    reader = SubscriberFactory(topics=[papers], max_papers=3)
    digests_build(subscriber_ids=[reader.pk], edition_on=TODAY)
    digest = Digest.objects.get(subscriber=reader)
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=reader.email)
    path = f"/digest/{token}/more/" if more else f"/digest/{token}/"

    page = open_page(browser, live_server.url + path, width=375)

    cards = page.locator("article.paper")
    assert cards.count() >= 3
    for index in range(cards.count()):
        card, why = cards.nth(index).bounding_box(), cards.nth(index).locator(".why")
        line = why.bounding_box()
        assert why.inner_text().startswith("Why: Robot sheep")
        assert card["y"] < line["y"] and line["y"] + line["height"] <= card["y"] + card["height"]
        assert card["x"] <= line["x"] and line["x"] + line["width"] <= card["x"] + card["width"]


def test_the_admins_paper_list_fits_a_1280_px_screen(live_server, papers, browser, admin_client):
    from papers.sample_data import load_sample_papers

    load_sample_papers(shift_to_today=True)  # real titles, categories and sources
    PaperFactory(
        title="An extremely long title about " + "robot grasping with diffusion policies " * 6,
        code_url="https://github.com/x/y",
    )
    session = admin_client.cookies["sessionid"].value
    cookie = {"name": "sessionid", "value": session, "url": live_server.url}

    page = open_page(
        browser, live_server.url + "/admin/papers/paper/", width=1280, cookies=[cookie]
    )

    assert page.locator("#result_list").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    results = page.locator("#changelist .results")  # scrolls sideways when too narrow
    assert results.evaluate("e => e.scrollWidth <= e.clientWidth")
    arxiv = box(page, "#result_list td.field-arxiv_link a")
    assert arxiv["x"] + arxiv["width"] <= 1280
    assert page.failed == []  # type: ignore[attr-defined]
