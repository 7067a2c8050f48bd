"""Small site-wide views: the language switch on every page, and the favicon."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe
def switch_language(request: HttpRequest, code: str) -> HttpResponseRedirect:
    """A link, not a form: it works on every page, cached ones too, and needs no CSRF token;
    all it changes is which language this browser's pages speak."""
    if code not in dict(settings.LANGUAGES):
        raise Http404("No such language.")
    target = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


@require_safe
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """/favicon.ico, which browsers ask for on pages without an icon link (admin)."""
    return HttpResponseRedirect(static("newsletter/favicon.svg"))
