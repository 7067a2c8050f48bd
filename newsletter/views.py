"""Web views of the newsletter app: thin wrappers around services and selectors."""

from __future__ import annotations

from django.forms import Form
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from newsletter import address_requests, ratelimits, rating_views, selectors, services
from newsletter.forms import FilterForm, ManageForm, ManageLinkForm, SignupForm
from newsletter.models import Subscriber
from newsletter.rating_forms import ColdStartForm, request_too_big
from newsletter.selectors import subscriber_from_token
from newsletter.signing import BadToken, Purpose, make_token


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


# --- Sign-up ---------------------------------------------------------------------------------
FILTER_FIELDS = ("topics", "own_query", "categories", "authors", "include_cross_lists")


def preview_context(data: QueryDict | None) -> dict[str, object]:
    """The preview panel for submitted filter fields (None: the empty form's panel)."""
    if data is None:
        return {"preview": None}
    form = FilterForm(data)
    if not form.is_valid():
        errors = [error for name in FILTER_FIELDS for error in form.errors.get(name, [])]
        return {"preview": None, "preview_errors": errors}
    filters = form.filters()
    if filters.is_empty:
        return {"preview": None}
    return {
        "preview": selectors.subscription_preview(
            topics=filters.topics,
            query=filters.own_query,
            categories=filters.categories,
            authors=filters.authors,
            include_cross_lists=filters.include_cross_lists,
        )
    }


def preview_votes_context(data: QueryDict | None) -> dict[str, object]:
    """The sign-up preview's 👍/👎 boxes on its examples, ticked as they were sent."""
    data = data or QueryDict()
    return {
        "rate_examples": True,
        "rated_up": set(data.getlist("preview_up")),
        "rated_down": set(data.getlist("preview_down")),
    }


def topic_choices(form: Form) -> list[tuple[object, object]]:
    """Each topic checkbox with its topic and about how many papers a day it brings."""
    checkboxes = list(form["topics"])
    topics = [checkbox.data["value"].instance for checkbox in checkboxes]
    per_day = selectors.topic_papers_per_day(topics=topics)
    return [
        (checkbox, topic, per_day.get(topic.pk))
        for checkbox, topic in zip(checkboxes, topics, strict=True)
    ]


def redisplayed(form_class: type[Form], data: QueryDict, **kwargs: object) -> Form:
    """The form as typed, without error messages (for the no-JavaScript Preview button)."""
    form = form_class(data, **kwargs)
    form._errors = ErrorDict()  # as if validated without complaint: nothing is shown
    form.cleaned_data = {}
    return form


def render_signup(
    request: HttpRequest,
    *,
    form: Form,
    preview_data: QueryDict | None,
    status: int = 200,
    cold_start: Form | None = None,
) -> HttpResponse:
    context = {
        "form": form,
        "topic_choices": topic_choices(form),
        "manage_link_form": ManageLinkForm(),
        "cold_start": cold_start or ColdStartForm(),
        **preview_context(preview_data),
        **preview_votes_context(preview_data),
    }
    return render(request, "pages/signup.html", context, status=status)


def check_inbox(request: HttpRequest) -> HttpResponse:
    """The one answer to every accepted sign-up or link request, whatever the address's state."""
    return render(request, "pages/check_inbox.html")


def too_many(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/too_many.html", status=429)


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """The sign-up page. POST action=preview re-shows the form with a preview (no JavaScript)."""
    if request.method == "GET":
        return render_signup(request, form=SignupForm(), preview_data=None)
    if request.POST.get("action") == "preview":
        if ratelimits.preview_limited(request):
            return too_many(request)
        form = redisplayed(SignupForm, request.POST)
        return render_signup(request, form=form, preview_data=request.POST)
    if ratelimits.form_post_limited(request):
        return too_many(request)
    if request_too_big(request):  # issue 14: a huge upload is refused unread
        return render(request, "pages/bad_request.html", status=400)
    form = SignupForm(request.POST)
    cold_start = ColdStartForm(request.POST, request.FILES, with_preview_votes=True)
    if not (form.is_valid() & cold_start.is_valid()):  # both, so every error shows at once
        return render_signup(
            request, form=form, preview_data=request.POST, status=400, cold_start=cold_start
        )
    email = form.cleaned_data["email"]
    if ratelimits.address_post_limited(request, email=email):
        return too_many(request)
    if not form.cleaned_data["website"]:
        address_requests.signup_enqueue(
            email=email, preferences=form.preferences(), liked=cold_start.liked()
        )
    return check_inbox(request)


@never_cache
@require_http_methods(["POST"])
def request_manage_link(request: HttpRequest) -> HttpResponse:
    """ "Email me a link to manage my subscription": the same answer for every address."""
    if ratelimits.form_post_limited(request):
        return too_many(request)
    form = ManageLinkForm(request.POST)
    if not form.is_valid():
        return render(request, "pages/manage_link.html", {"form": form}, status=400)
    email = form.cleaned_data["email"]
    if ratelimits.address_post_limited(request, email=email):
        return too_many(request)
    if not form.cleaned_data["website"]:
        address_requests.manage_link_request_enqueue(email=email)
    return check_inbox(request)


@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """The live preview panel as an HTML fragment, for the page's script."""
    if ratelimits.preview_limited(request):
        return render(request, "pages/_preview.html", {"rate_limited": True}, status=429)
    context = preview_context(request.GET)
    if request.GET.get("rate") == "1":  # the sign-up page: examples can be rated (issue 14)
        context.update(preview_votes_context(request.GET))
    response = render(request, "pages/_preview.html", context)
    response["Cache-Control"] = "private, max-age=60"
    return response


# --- Confirmation ----------------------------------------------------------------------------
@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows one button (mail scanners pre-fetch links); POST confirms, once."""
    try:
        subscriber, issued_at = selectors.confirmation_from_token(token)
    except BadToken:
        return bad_link(request)
    if request.method == "GET":
        already = subscriber.status in (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)
        return render(request, "pages/confirm.html", {"already_confirmed": already})
    outcome = services.subscriber_confirm(subscriber=subscriber, link_issued_at=issued_at)
    if outcome == services.ConfirmOutcome.REFUSED:
        return bad_link(request)
    return render(
        request,
        "pages/confirmed.html",
        {
            "already_confirmed": outcome == services.ConfirmOutcome.ALREADY_CONFIRMED,
            "manage_url": manage_path(subscriber),
        },
    )


# --- Manage ----------------------------------------------------------------------------------
def manage_path(subscriber: Subscriber) -> str:
    token = make_token(purpose=Purpose.MANAGE, subject_id=subscriber.pk, email=subscriber.email)
    return reverse("newsletter:manage", args=[token])


@never_cache
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    """Everything a reader can change, behind the signed link in every email."""
    try:
        subscriber = subscriber_from_token(token, purpose=Purpose.MANAGE)
    except BadToken:
        return bad_link(request)
    if request.method == "POST" and request_too_big(request):  # a huge upload, unread
        return render(request, "pages/bad_request.html", status=400)
    # The page speaks the reader's chosen language, as their emails do (LocaleMiddleware
    # activates the browser's language again on the next request).
    translation.activate(subscriber.language)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    notice, status, papers = "", 200, {}
    form = ManageForm(initial=ManageForm.initial_for(subscriber))
    if action == "save":
        if ratelimits.manage_save_limited(request, subscriber_id=subscriber.pk):
            return too_many(request)
        form = ManageForm(request.POST)
        if form.is_valid():
            services.subscriber_update_preferences(
                subscriber=subscriber, preferences=form.preferences()
            )
            notice = "saved"
        else:
            status = 400
    elif action == "preview":
        if ratelimits.preview_limited(request):
            return too_many(request)
        form = redisplayed(ManageForm, request.POST)
    elif action == "pause":
        services.subscriber_pause(subscriber=subscriber)
        notice = "paused"
    elif action == "resume":
        outcome = services.subscriber_resume(subscriber=subscriber)
        notice = {
            services.ResumeOutcome.RESUMED: "resumed",
            services.ResumeOutcome.CONFIRMATION_SENT: "confirmation-sent",
        }.get(outcome, "")
    elif action == "unsubscribe":
        services.subscriber_unsubscribe(subscriber=subscriber)
        return render(request, "pages/unsubscribed.html", {"subscriber": subscriber})
    elif action in rating_views.MANAGE_ACTIONS:  # issue 14: ratings, imports, recommendations
        status, papers = rating_views.manage_action(request, subscriber=subscriber, action=action)
    elif request.method == "POST":
        return render(request, "pages/bad_request.html", status=400)
    subscriber.refresh_from_db()
    if notice == "saved":
        translation.activate(subscriber.language)
        form = ManageForm(initial=ManageForm.initial_for(subscriber))
    preview_data = request.POST if action in ("save", "preview") else _filters_as_data(subscriber)
    return render(
        request,
        "pages/manage.html",
        {
            "subscriber": subscriber,
            "token": token,
            "form": form,
            "topic_choices": topic_choices(form),
            "notice": notice,
            **preview_context(preview_data),
            **rating_views.manage_context(subscriber=subscriber, **papers),
        },
        status=status,
    )


def _filters_as_data(subscriber: Subscriber) -> QueryDict:
    data = QueryDict(mutable=True)
    data.setlist("topics", [str(pk) for pk in subscriber.topics.values_list("pk", flat=True)])
    data["own_query"] = subscriber.own_query
    data["categories"] = ", ".join(subscriber.categories)
    data["authors"] = ", ".join(subscriber.authors)
    if subscriber.include_cross_lists:
        data["include_cross_lists"] = "on"
    return data


@never_cache
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, token: str) -> HttpResponse:
    """Delete all my data: GET asks once more, POST deletes the row and its digests."""
    try:
        subscriber = subscriber_from_token(token, purpose=Purpose.MANAGE)
    except BadToken:
        return bad_link(request)
    if request.method == "GET":
        return render(request, "pages/delete.html", {"subscriber": subscriber})
    services.subscriber_delete(subscriber=subscriber)
    return render(request, "pages/deleted.html")
