"""The public pages' cache: versioned, so an editor's hide or feature shows at once, and
keyed on the page a URL resolves to, so junk URLs cannot fill it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import wraps

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.utils.cache import patch_cache_control

VERSION_KEY = "papers:public:version"
# New papers from a fetch appear within this; curation changes appear at once (version bump).
PAGE_TIMEOUT = 300
BROWSER_MAX_AGE = 60
# A million pages of 25 papers: far past any listing; longer numbers are refused unread.
MAX_PAGE_DIGITS = 6

View = Callable[..., HttpResponse]


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


def page_number(request: HttpRequest) -> int:
    """The page `?page=` asks for: 1 without it; Http404 for anything but a plain positive
    number of at most MAX_PAGE_DIGITS digits."""
    raw = request.GET.get("page")
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_PAGE_DIGITS) or not int(raw):
        raise Http404("No such page.")
    return int(raw)


def _canonical_url(request: HttpRequest, number: int) -> str:
    return request.path + (f"?page={number}" if number > 1 else "")


def cached_public_page(view: View | None = None, *, paged: bool = True) -> View:
    """Cache a successful anonymous GET by path, resolved page number and language.

    A paged view's `?page=` is read as a number: `?page=01` and `?page=1` redirect to the one
    URL of that page, anything else answers 404, so each page has one key. An unpaged view
    (`paged=False`) ignores `?page=`; other query parameters never reach the key.
    """
    if view is None:
        return lambda inner: cached_public_page(inner, paged=paged)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        number = page_number(request) if paged else None
        raw = request.GET.get("page")
        if number is not None and raw is not None and (number == 1 or raw != str(number)):
            return HttpResponsePermanentRedirect(_canonical_url(request, number))
        language = getattr(request, "LANGUAGE_CODE", "")
        key = public_cache_key("page", language, request.path, number or "")
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
