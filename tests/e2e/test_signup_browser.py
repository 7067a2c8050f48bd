"""A real headless Chromium signs up, confirms, manages and leaves, against a live server."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from newsletter.models import Subscriber
from newsletter.paper_index import forget_paper_indexes
from tests.factories import PaperFactory, TopicFactory
from tests.newsletter.subscription_helpers import link_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]


@pytest.fixture
def papers(transactional_db):
    forget_paper_indexes()
    TopicFactory(name="Robot sheep", query="robot", categories=[])
    for number in range(3):
        PaperFactory(title=f"Robot grasping {number}")
    PaperFactory(title="Diffusion for video generation")
    PaperFactory(title="Diffusion for robot policies")
    yield
    forget_paper_indexes()


def test_a_reader_signs_up_confirms_manages_and_leaves_in_a_real_browser(
    live_server, papers, browser_page, mailoutbox
):
    page = browser_page
    from playwright.sync_api import expect

    # Open the page: the time zone comes from the browser.
    page.goto(live_server.url + "/")
    expect(
        page.get_by_role("heading", name="Get trending papers in your email inbox")
    ).to_be_visible()
    expect(page.locator("#id_time_zone")).to_have_value("Asia/Shanghai")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Tick a topic or write a search")

    # Tick a topic: the live preview counts its papers.
    page.get_by_label(re.compile("Robot sheep")).check()
    expect(preview).to_contain_text("About 4 papers a day")
    expect(preview).to_contain_text("Diffusion for robot policies")

    # Type a query: the preview adds its matches.
    page.get_by_label("Your own search").fill('"video generation" -survey')
    expect(preview).to_contain_text("About 5 papers a day")
    expect(preview).to_contain_text("Diffusion for video generation")

    # Submit.
    page.get_by_label("Your email address").fill("browser.reader@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    subscriber = Subscriber.objects.get(email="browser.reader@example.com")
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.time_zone == "Asia/Shanghai"
    assert subscriber.own_query == '"video generation" -survey'
    assert [topic.name for topic in subscriber.topics.all()] == ["Robot sheep"]

    # Open the confirmation link from the outbox: one button, then confirmed.
    (message,) = mail.outbox
    page.goto(live_server.url + link_in(message.body, kind="confirm"))
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING  # a GET confirms nothing
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE

    # Change a setting on the manage page.
    page.get_by_role("link", name="Manage your subscription").click()
    expect(page.get_by_role("heading", name="Manage your subscription")).to_be_visible()
    page.get_by_label("Weekly").check()
    page.get_by_label("At most this many papers per email").fill("5")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Your changes are saved.")).to_be_visible()
    subscriber.refresh_from_db()
    assert (subscriber.frequency, subscriber.max_papers) == ("weekly", 5)
    assert subscriber.time_zone == "Asia/Shanghai"  # the manage page keeps the stored zone

    # Unsubscribe.
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert page.problems == []  # type: ignore[attr-defined]  # no script error, no CSP refusal


def test_the_preview_button_works_with_javascript_off(live_server, papers, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(java_script_enabled=False).new_page()
        page.goto(live_server.url + "/")
        page.get_by_label("Your own search").fill("robot")
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#preview")).to_contain_text("About 4 papers a day")
        expect(page.get_by_label("Your own search")).to_have_value("robot")
        browser.close()
    assert Subscriber.objects.count() == 0
