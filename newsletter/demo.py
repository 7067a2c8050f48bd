"""The embedded demo's own `.env`: a generated key, debug mode and the address it runs on."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

DEMO_MARKER = "# Written by `make run` for the embedded demo (delete it to start afresh)."


def demo_env_write(*, path: Path, site_url: str) -> str:
    """Write the demo's .env so `python manage.py …` works in the folder after `make run`.

    Returns "created", "updated" (the site URL moved, the key kept, so links already sent
    still open) or "kept". A .env the demo did not write is never touched.
    """
    if not path.exists():
        path.write_text(
            f"{DEMO_MARKER}\n"
            "DEBUG=1\n"
            f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
            f"SITE_URL={site_url}\n",
            encoding="utf-8",
        )
        return "created"
    text = path.read_text(encoding="utf-8")
    if not text.startswith(DEMO_MARKER):
        return "kept"
    line = f"SITE_URL={site_url}"
    updated, found = re.subn(r"^SITE_URL=.*$", line, text, flags=re.M)
    if not found:
        updated = text.rstrip("\n") + f"\n{line}\n"
    if updated == text:
        return "kept"
    path.write_text(updated, encoding="utf-8")
    return "updated"
