"""Admin for papers (curation), sources and fetch runs (health at a glance).

Over 400 lines because it is one ModelAdmin per model of the catalogue; curation itself is in
papers/curation.py."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.contrib import admin
from django.db import models, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from papers.admin_paging import EstimatedCountPaginator
from papers.curation import papers_set_featured, papers_set_hidden
from papers.forms import CategoriesField
from papers.models import FetchRun, Paper, PaperSummary, Source
from papers.public_cache import public_pages_changed
from papers.word_search import papers_with_words

ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")
HEALTHY_FETCH_STATUSES = (
    FetchRun.Status.SUCCEEDED,
    FetchRun.Status.NO_ANNOUNCEMENT,
    FetchRun.Status.WAITING,
)
# A source that has not succeeded for this long missed at least one announcement day.
STALE_AFTER = dt.timedelta(hours=36)
STATUS_COLOURS = {
    "succeeded": "#1a7f37",
    "no_announcement": "#59636e",
    "partial": "#9a6700",
    "running": "#0b57d0",
    "waiting": "#0b57d0",
    "failed": "#cf222e",
}


def status_badge(status: str, label: str) -> str:
    colour = STATUS_COLOURS.get(status, "#59636e")
    return format_html(
        '<span style="display:inline-block;padding:0 .5em;border-radius:1em;'
        'color:#fff;background:{}">{}</span>',
        colour,
        label,
    )


# --- papers -------------------------------------------------------------------------------


class PrimaryCategoryFilter(admin.SimpleListFilter):
    title = _("primary category")
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        categories = (
            Paper.objects.exclude(primary_category="")
            .order_by("primary_category")
            .values_list("primary_category", flat=True)
            .distinct()
        )
        return [(category, category) for category in categories]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        if self.value():
            return queryset.filter(primary_category=self.value())
        return queryset


class SourceFilter(admin.SimpleListFilter):
    title = _("source")
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(name, name) for name in Source.objects.values_list("name", flat=True)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        if self.value():
            # The quoted name inside the JSON text: works alike on PostgreSQL and SQLite.
            return queryset.filter(seen_in_sources__icontains=f'"{self.value()}"')
        return queryset


class HasCodeFilter(admin.SimpleListFilter):
    title = _("code")
    parameter_name = "has_code"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", _("has code")), ("no", _("no code"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        if self.value() == "yes":
            return queryset.exclude(code_url="")
        if self.value() == "no":
            return queryset.filter(code_url="")
        return queryset


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    list_display = [
        "short_title",
        "announced_on",
        "primary_category",
        "hf_upvotes",
        "has_code",
        "is_featured",
        "is_hidden",
        "arxiv_link",
    ]
    list_display_links = ["short_title"]
    list_filter = [
        ("announced_on", admin.DateFieldListFilter),
        PrimaryCategoryFilter,
        SourceFilter,
        "is_featured",
        "is_hidden",
        HasCodeFilter,
    ]
    search_fields = ["title", "abstract", "authors_text", "=arxiv_id"]
    search_help_text = _("Words of the title, abstract or authors, or an arXiv id.")
    date_hierarchy = "announced_on"
    actions = ["feature", "unfeature", "hide", "unhide"]
    list_per_page = 50
    list_max_show_all = 500
    show_full_result_count = False  # one COUNT over 100k rows per page view is enough
    paginator = EstimatedCountPaginator
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (_("Curation"), {"fields": ["is_featured", "is_hidden", "editor_note"]}),
        (
            _("Paper"),
            {
                "fields": [
                    "arxiv_link",
                    "title",
                    "authors_list",
                    "abstract",
                    "ai_summary",
                    ("primary_category", "categories"),
                    ("announced_on", "announce_type", "latest_version"),
                    "comment",
                    "journal_ref",
                    "doi",
                    "code_url",
                    "project_url",
                    ("hf_upvotes", "hf_comments"),
                ]
            },
        ),
        (
            _("Provenance"),
            {
                "fields": ["seen_in_sources", "published_at", "created_at", "updated_at"],
                "classes": ["collapse"],
            },
        ),
    ]
    readonly_fields = [
        "arxiv_link",
        "title",
        "authors_list",
        "abstract",
        "ai_summary",
        "primary_category",
        "categories",
        "announced_on",
        "announce_type",
        "latest_version",
        "comment",
        "journal_ref",
        "doi",
        "hf_upvotes",
        "hf_comments",
        "seen_in_sources",
        "published_at",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # papers come from the sources; editors curate them

    @admin.display(description=_("title"), ordering="title")
    def short_title(self, paper: Paper) -> str:
        return Truncator(paper.title).chars(110)

    @admin.display(description=_("code"), boolean=True)
    def has_code(self, paper: Paper) -> bool:
        return bool(paper.code_url)

    @admin.display(description=_("arXiv"))
    def arxiv_link(self, paper: Paper) -> str:
        return format_html('<a href="{}" rel="noopener">{}</a>', paper.abs_url, paper.arxiv_id)

    @admin.display(description=_("authors"))
    def authors_list(self, paper: Paper) -> str:
        return ", ".join(paper.authors)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Paper], search_term: str
    ) -> tuple[QuerySet[Paper], bool]:
        term = search_term.strip().removeprefix("arXiv:").removeprefix("arxiv:")
        if ARXIV_ID.match(term):
            # An id is looked up on its unique index instead of scanning every abstract.
            return queryset.filter(arxiv_id=re.sub(r"v\d+$", "", term)), False
        if (found := papers_with_words(queryset, term)) is not None:
            return found, False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request: HttpRequest, obj: Paper, form: forms.Form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(public_pages_changed)

    @admin.action(description=_("Feature selected papers"), permissions=["change"])
    def feature(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        changed = papers_set_featured(paper_ids=_ids(queryset), featured=True)
        self.message_user(
            request, ngettext("%d paper featured.", "%d papers featured.", changed) % changed
        )

    @admin.action(description=_("Unfeature selected papers"), permissions=["change"])
    def unfeature(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        changed = papers_set_featured(paper_ids=_ids(queryset), featured=False)
        self.message_user(
            request, ngettext("%d paper unfeatured.", "%d papers unfeatured.", changed) % changed
        )

    @admin.action(description=_("Hide selected papers everywhere"), permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        changed = papers_set_hidden(paper_ids=_ids(queryset), hidden=True)
        self.message_user(
            request, ngettext("%d paper hidden.", "%d papers hidden.", changed) % changed
        )

    @admin.action(description=_("Unhide selected papers"), permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        changed = papers_set_hidden(paper_ids=_ids(queryset), hidden=False)
        self.message_user(
            request, ngettext("%d paper shown again.", "%d papers shown again.", changed) % changed
        )


def _ids(queryset: QuerySet) -> QuerySet:
    return queryset.order_by().values("pk")


# --- sources and fetch runs ---------------------------------------------------------------


class SourceForm(forms.ModelForm):
    """Model and fields come from SourceAdmin, so fields added to Source show up here too."""

    categories = CategoriesField()


class RecentRunInline(admin.TabularInline):
    model = FetchRun
    verbose_name_plural = _("runs of the last 14 days")
    fields = [
        "started_at",
        "status_badge",
        "announced_on",
        "entries_read",
        "created_count",
        "updated_count",
        "rejected_count",
        "error_summary",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[FetchRun]:
        since = timezone.now() - dt.timedelta(days=14)
        return super().get_queryset(request).select_related("source").filter(started_at__gte=since)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description=_("status"))
    def status_badge(self, run: FetchRun) -> str:
        return status_badge(run.status, run.get_status_display())

    @admin.display(description=_("error"))
    def error_summary(self, run: FetchRun) -> str:
        return _first_line(run.error)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = [
        "name",
        "kind",
        "enabled",
        "health",
        "last_run_status",
        "last_run_at",
        "last_success_at",
        "last_error",
    ]
    list_filter = ["enabled", "kind"]
    inlines = [RecentRunInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Source]:
        runs = FetchRun.objects.filter(source=OuterRef("pk")).order_by("-started_at")
        successes = FetchRun.objects.filter(
            source=OuterRef("pk"), status__in=FetchRun.SUCCESSFUL_STATUSES
        ).order_by("-finished_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status=Subquery(runs.values("status")[:1]),
                last_started_at=Subquery(runs.values("started_at")[:1]),
                last_error_text=Subquery(runs.values("error")[:1]),
                last_success=Subquery(successes.values("finished_at")[:1]),
            )
        )

    @admin.display(description=_("health"))
    def health(self, source: Source) -> str:
        if not source.enabled:
            return status_badge("", _("off"))
        fresh = source.last_success and timezone.now() - source.last_success < STALE_AFTER
        if source.last_status in HEALTHY_FETCH_STATUSES and fresh:
            return status_badge("succeeded", _("healthy"))
        if source.last_status == FetchRun.Status.FAILED or not fresh:
            return status_badge("failed", _("needs a look"))
        return status_badge("partial", _("degraded"))

    @admin.display(description=_("last run"))
    def last_run_status(self, source: Source) -> str:
        if not source.last_status:
            return "—"
        return status_badge(source.last_status, FetchRun.Status(source.last_status).label)

    @admin.display(description=_("last run started"), ordering="last_started_at")
    def last_run_at(self, source: Source) -> dt.datetime | None:
        return source.last_started_at

    @admin.display(description=_("last success"), ordering="last_success")
    def last_success_at(self, source: Source) -> dt.datetime | None:
        return source.last_success

    @admin.display(description=_("last error"))
    def last_error(self, source: Source) -> str:
        return _first_line(source.last_error_text or "")


@admin.register(FetchRun)
class FetchRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "source",
        "status_badge",
        "announced_on",
        "duration",
        "entries_read",
        "created_count",
        "updated_count",
        "rejected_count",
        "completeness",
        "error_summary",
    ]
    list_filter = ["status", "source", ("started_at", admin.DateFieldListFilter)]
    list_select_related = ["source"]
    search_fields = ["origin", "error"]
    date_hierarchy = "started_at"
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = [
        "source",
        "origin",
        "status_badge",
        "announced_on",
        ("started_at", "finished_at", "duration"),
        ("entries_read", "created_count", "updated_count", "unchanged_count"),
        ("rejected_count", "skipped_count", "attempts"),
        ("listed_count", "stored_count", "completeness"),
        "error_details",
    ]
    readonly_fields = [
        "source",
        "origin",
        "status_badge",
        "announced_on",
        "started_at",
        "finished_at",
        "duration",
        "entries_read",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
        "skipped_count",
        "attempts",
        "listed_count",
        "stored_count",
        "completeness",
        "error_details",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are records of fetches, written by the fetcher

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, run: FetchRun) -> str:
        return status_badge(run.status, run.get_status_display())

    @admin.display(description=_("took"))
    def duration(self, run: FetchRun) -> str:
        if not run.finished_at:
            return "—"
        seconds = (run.finished_at - run.started_at).total_seconds()
        return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.0f} min"

    @admin.display(description=_("stored / listed"))
    def completeness(self, run: FetchRun) -> str:
        if run.listed_count is None:
            return "—"
        text = f"{run.stored_count or 0} / {run.listed_count}"
        if run.missing_count:
            return format_html('<strong style="color:#cf222e">{}</strong>', text)
        return text

    @admin.display(description=_("error"))
    def error_summary(self, run: FetchRun) -> str:
        return _first_line(run.error)

    @admin.display(description=_("error"))
    def error_details(self, run: FetchRun) -> str:
        if not run.error:
            return "—"
        return format_html(
            '<pre style="white-space:pre-wrap;max-width:60em;margin:0">{}</pre>', run.error
        )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return Truncator(line).chars(120)


@admin.register(PaperSummary)
class PaperSummaryAdmin(admin.ModelAdmin):
    """The LLM's TL;DRs and failed attempts; deleting one lets the next digest ask again."""

    list_display = ["paper_id_link", "language", "text", "error", "attempted_on", "model"]
    list_filter = ["language", ("attempted_on", admin.DateFieldListFilter)]
    list_select_related = ["paper"]
    search_fields = ["=paper__arxiv_id", "text", "error"]
    search_help_text = _("An arXiv id, or words of the summary or the error.")
    list_per_page = 50
    show_full_result_count = False
    fields = ["paper_id_link", "language", "text", "model", "error", "attempted_on"]
    readonly_fields = ["paper_id_link", "language", "model", "error", "attempted_on"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the summary task only

    @admin.display(description=_("paper"), ordering="paper__arxiv_id")
    def paper_id_link(self, summary: PaperSummary) -> str:
        return format_html(
            '<a href="{}" rel="noopener">{}</a>', summary.paper.abs_url, summary.paper.arxiv_id
        )
