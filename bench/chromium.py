"""Debian's headless Chromium, as the browser tests and the screenshot script launch it."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Root in a sandboxed box with no network but the registries: no sandbox, no background
# connections (they would be refused at every start), no GPU.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
