"""The public pages' cache: versioned, so an editor's hide or feature shows at once."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import wraps

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

VERSION_KEY = "papers:public:version"
# New papers from a fetch appear within this; curation changes appear at once (version bump).
PAGE_TIMEOUT = 300
BROWSER_MAX_AGE = 60


def public_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        # Seeded from the clock: if the key is evicted, old page keys are never reused.
        cache.add(VERSION_KEY, time.time_ns() // 1000, timeout=None)
        version = cache.get(VERSION_KEY)
    return int(version)


def public_pages_changed() -> None:
    """Forget every cached public page and feed: call after any change readers must see."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, time.time_ns() // 1000, timeout=None)


def public_cache_key(*parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"papers:public:{public_version()}:{digest}"


def cached_public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Cache a successful anonymous GET by path, page number and language.

    Other query parameters do not reach the key, so nobody can fill the cache with junk URLs.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        page = request.GET.get("page", "1")
        language = getattr(request, "LANGUAGE_CODE", "")
        key = public_cache_key("page", language, request.path, page if page.isdigit() else "")
        cached = cache.get(key)
        if cached is not None:
            content, content_type = cached
            response = HttpResponse(content, content_type=content_type)
        else:
            response = view(request, *args, **kwargs)
            if response.status_code != 200 or response.streaming:
                return response
            if hasattr(response, "render"):
                response.render()
            cache.set(key, (response.content, response["Content-Type"]), PAGE_TIMEOUT)
        patch_cache_control(response, public=True, max_age=BROWSER_MAX_AGE)
        return response

    return wrapper
