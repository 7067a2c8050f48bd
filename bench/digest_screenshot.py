"""Screenshot of a sample digest in headless Chromium, for the README.

python -m bench.digest_screenshot [--width 800] [--out docs/example-digest.png]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.chromium import CHROMIUM, CHROMIUM_ARGS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--cards", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("docs/example-digest.png"))
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")
    os.environ.setdefault("SECRET_KEY", "screenshot-only")
    os.environ.setdefault("SITE_URL", "https://papers.example.org")
    import django

    django.setup()
    from playwright.sync_api import sync_playwright

    from bench.spamcheck import sample_email

    email = sample_email(args.cards)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 800})
        page.route("**/*", lambda route: route.abort())
        page.set_content(email.html, wait_until="domcontentloaded")
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(f"{args.out}: {email.subject}")


if __name__ == "__main__":
    main()
