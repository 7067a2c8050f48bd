"""The settings a fresh process gets from the environment it starts with: the product's own
defaults, whatever this test run was given (the Makefile sets CACHE_URL, EMAIL_URL, …)."""

from __future__ import annotations

import os
import runpy
from typing import Any
from unittest import mock

import environ


def product_settings(**environment: str) -> dict[str, Any]:
    """newsletter/settings.py evaluated again with only `environment` set (and SECRET_KEY,
    which production requires) and no .env file read."""
    import newsletter.settings as loaded

    clean = {"PATH": os.environ.get("PATH", ""), "SECRET_KEY": "defaults-only", **environment}
    with (
        mock.patch.dict(os.environ, clean, clear=True),
        mock.patch.object(environ.Env, "read_env"),
    ):
        return runpy.run_path(loaded.__file__)
