"""Web views of the newsletter app: thin wrappers around services and selectors."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from newsletter import services
from newsletter.health import health_report
from newsletter.selectors import subscriber_from_token
from newsletter.signing import BadToken, Purpose


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report.as_json(), status=200 if report.healthy else 503)


def bad_link(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/bad_link.html", status=400)


# The signed token is the credential, and RFC 8058 one-click POSTs carry no CSRF token.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows one button (mail scanners pre-fetch links); POST unsubscribes, 200, no redirect."""
    try:
        subscriber = subscriber_from_token(token, purpose=Purpose.UNSUBSCRIBE)
    except BadToken:
        return bad_link(request)
    if request.method == "GET":
        return render(request, "pages/unsubscribe.html", {"subscriber": subscriber})
    services.subscriber_unsubscribe(subscriber=subscriber)
    return render(request, "pages/unsubscribed.html", {"subscriber": subscriber})
