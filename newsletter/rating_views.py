"""Pages of a reader's ratings: the 👍/👎 link's page, and the manage page's papers section."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from newsletter import ratelimits, selectors, services
from newsletter.models import Subscriber
from newsletter.rating_forms import ColdStartForm
from newsletter.ratings import VOTE_NAMES, VOTES, rating_path
from newsletter.signing import BadToken, Purpose, make_token


def _bad_request(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/bad_request.html", status=400)


def bad_link(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/bad_link.html", status=400)


def manage_path(subscriber: Subscriber) -> str:
    token = make_token(purpose=Purpose.MANAGE, subject_id=subscriber.pk, email=subscriber.email)
    return reverse("newsletter:manage", args=[token])


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def rate(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the paper and the buttons, and records nothing (mail scanners and link
    previewers fetch every link in an email); POST records the vote, or undoes it."""
    try:
        subscriber, paper = selectors.rating_target_from_token(token)
    except BadToken:
        return bad_link(request)
    translation.activate(subscriber.language)  # as their emails and manage page do
    context = {
        "paper": paper,
        "rate_url": rating_path(token),
        "manage_url": manage_path(subscriber),
    }
    if request.method != "POST":
        current = selectors.rating_vote(subscriber=subscriber, paper_id=paper.pk)
        chosen = request.GET.get("vote", "")
        return render(
            request,
            "pages/rate.html",
            {
                **context,
                "chosen": chosen if chosen in VOTES else "",
                "current": VOTE_NAMES.get(current, "") if current else "",
            },
        )
    if ratelimits.vote_post_limited(request, subscriber_id=subscriber.pk):
        return render(request, "pages/too_many.html", status=429)
    if request.POST.get("action") == "undo":
        removed = services.rating_undo(subscriber=subscriber, paper_id=paper.pk)
        return render(request, "pages/rated.html", {**context, "undone": removed})
    vote = VOTES.get(request.POST.get("vote", ""))
    if vote is None:
        return _bad_request(request)
    outcome = services.rating_record(subscriber=subscriber, paper_id=paper.pk, vote=vote)
    return render(
        request,
        "pages/rated.html",
        {
            **context,
            "recorded": VOTE_NAMES[vote],
            "changed": outcome == services.RatingOutcome.CHANGED,
        },
    )


# --- The manage page's "Your papers" section --------------------------------------------------
MANAGE_ACTIONS = ("undo_rating", "import_papers", "remove_imported", "recommendations")


def manage_action(
    request: HttpRequest, *, subscriber: Subscriber, action: str
) -> tuple[int, dict[str, object]]:
    """One of MANAGE_ACTIONS on the manage page: (HTTP status, extra page context)."""
    if action == "import_papers":
        # Each import parses up to a megabyte: it counts as a save of the page.
        if ratelimits.manage_save_limited(request, subscriber_id=subscriber.pk):
            return 429, {"papers_notice": _("Too many attempts")}
        form = ColdStartForm(request.POST, request.FILES)
        if not form.is_valid():
            return 400, {"import_form": form}
        if not form.records:
            form.add_error(None, _("Paste arXiv ids or choose a file first."))
            return 400, {"import_form": form}
        added = services.imported_papers_add(subscriber=subscriber, records=form.records)
        notice = ngettext(
            "Added %(count)d paper you like.", "Added %(count)d papers you like.", added
        ) % {"count": added}
        return 200, {"papers_notice": notice}
    if action == "recommendations":
        enabled = request.POST.get("recommendations_enabled") == "on"
        services.subscriber_set_recommendations(subscriber=subscriber, enabled=enabled)
        notice = (
            _("“Recommended for you” is on.") if enabled else _("“Recommended for you” is off.")
        )
        return 200, {"papers_notice": notice}
    target = request.POST.get("id", "")
    if not (target.isascii() and target.isdigit() and len(target) <= 12):
        return 400, {"papers_notice": _("Nothing was changed")}
    if action == "undo_rating":
        done = services.rating_undo(subscriber=subscriber, paper_id=int(target))
        notice = _("Your rating is removed.") if done else _("That rating was already gone.")
    else:
        done = services.imported_paper_remove(subscriber=subscriber, imported_id=int(target))
        notice = _("The paper is removed.") if done else _("That paper was already gone.")
    return 200, {"papers_notice": notice}


def manage_context(
    *, subscriber: Subscriber, import_form: ColdStartForm | None = None, **extra: object
) -> dict[str, object]:
    return {
        "reader_data": selectors.subscriber_reader_data(subscriber=subscriber),
        "import_form": import_form or ColdStartForm(),
        **extra,
    }
