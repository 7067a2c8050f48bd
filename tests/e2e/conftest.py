"""What every browser test shares: one headless Chromium page that records every page error,
console error and failed request, so a test can assert there were none."""

from __future__ import annotations

import pytest
from django.db import connections

from bench.chromium import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser_page(monkeypatch):
    """A page in a fresh context (en-GB, Asia/Shanghai time); `page.problems` lists what
    went wrong."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM reads are fine.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(timezone_id="Asia/Shanghai", locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        # Browsers ask for /favicon.ico on their own; every other failed request is a bug.
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.problems = problems  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()
        # ORM calls made inside Playwright's context opened their own connection: close it,
        # or the test database cannot be dropped at the end of the run.
        connections.close_all()
