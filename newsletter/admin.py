"""Admin for topics (with their match counts), subscribers and the digests sent to them.

Over 400 lines because it is one ModelAdmin per model of the app, each short: topics,
subscribers (CSV export, the next-digest page and its test copy) and digests; the digest
logic they show lives in newsletter/digests/."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from newsletter import services
from newsletter.digests.building import unsaved_plans
from newsletter.digests.cards import why_text
from newsletter.digests.editions import next_edition
from newsletter.digests.runs import send_test_copy, unsaved_emails
from newsletter.forms import validated_query
from newsletter.mail.message import DigestEmail
from newsletter.mail.outcomes import Outcome
from newsletter.matching import parse_query
from newsletter.models import (
    Digest,
    DigestItem,
    FollowUp,
    ImportedPaper,
    Rating,
    Subscriber,
    Synonym,
    Topic,
)
from newsletter.paper_index import RECENT_DAYS, recent_papers
from newsletter.query_bounds import topic_breadth_problem
from newsletter.selectors import topic_paper_ids
from newsletter.synonyms import Rule, check_synonym, synonyms_changed
from newsletter.topic_check import topic_check
from papers.admin import ARXIV_ID, status_badge
from papers.admin_paging import EstimatedCountPaginator
from papers.forms import CategoriesField
from papers.models import Paper
from papers.public_cache import public_cache_key, public_pages_changed
from papers.selectors import papers_by_ids

MATCH_COUNTS_TIMEOUT = 300
PREVIEW_PAPERS = 25
CHECK_PAPERS = 10
RECENT_DIGEST_DAYS = 60
DIGEST_STATUS_COLOURS = {
    Digest.Status.SENT: "succeeded",
    Digest.Status.SKIPPED_EMPTY: "no_announcement",
    Digest.Status.PENDING: "running",
    Digest.Status.SENDING: "running",
    Digest.Status.FAILED: "failed",
    Digest.Status.CANCELLED: "no_announcement",
}


# --- topics -------------------------------------------------------------------------------


class TopicForm(forms.ModelForm):
    categories = CategoriesField()

    def clean_query(self) -> str:
        return validated_query(self.cleaned_data["query"])

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("query") and not cleaned.get("categories") and not self.errors:
            raise ValidationError(_("Give the topic a query, categories, or both."))
        if cleaned.get("query") and not self.errors:
            problem = topic_breadth_problem(
                parse_query(cleaned["query"]),
                categories=cleaned.get("categories") or [],
                index=recent_papers().index,
                strong_only=bool(cleaned.get("require_strong_match")),
            )
            if problem:
                self.add_error("query", problem)
        return cleaned


def recent_match_counts() -> dict[int, int]:
    """Papers each topic matched in the last days: one index for every topic, cached briefly."""
    key = public_cache_key("topic-match-counts", timezone.localdate())
    counts = cache.get(key)
    if counts is None:
        index = recent_papers().index
        matches = topic_paper_ids(
            topics=Topic.objects.only("query", "categories", "require_strong_match"), index=index
        )
        counts = {topic_id: len(ids) for topic_id, ids in matches.items()}
        cache.set(key, counts, MATCH_COUNTS_TIMEOUT)
    return counts


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    form = TopicForm
    list_display = [
        "name",
        "query",
        "categories_text",
        "matched_recently",
        "followers",
        "is_active",
        "position",
    ]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name", "name_zh", "query", "description"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name",
        "slug",
        "description",
        ("name_zh", "description_zh"),
        "query",
        "categories",
        "require_strong_match",
        ("is_active", "position"),
        "matched_recently",
        "followers",
        "latest_day_matches",
        "recent_check",
    ]
    readonly_fields = ["matched_recently", "followers", "latest_day_matches", "recent_check"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Topic]:
        active = Q(subscribers__status=Subscriber.Status.ACTIVE)
        return super().get_queryset(request).annotate(follower_count=Count("subscribers", active))

    def save_model(self, request: HttpRequest, obj: Topic, form: forms.Form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(public_pages_changed)

    @admin.display(description=_("categories"))
    def categories_text(self, topic: Topic) -> str:
        return ", ".join(topic.categories) or "—"

    @admin.display(description=format_lazy(_("papers, last {days} days"), days=RECENT_DAYS))
    def matched_recently(self, topic: Topic) -> int | str:
        if topic.pk is None:
            return "—"
        return recent_match_counts().get(topic.pk, 0)

    @admin.display(description=_("active followers"), ordering="follower_count")
    def followers(self, topic: Topic) -> int | str:
        return getattr(topic, "follower_count", "—")

    @admin.display(description=_("matches on the latest announcement day"))
    def latest_day_matches(self, topic: Topic) -> str:
        if topic.pk is None:
            return _("Save the topic to see what it matches.")
        recent = recent_papers()
        if not recent.days:
            return _("No papers yet.")
        day = recent.days[-1]
        ids = topic_paper_ids(topics=[topic], index=recent.index)[topic.pk]
        papers = (
            papers_by_ids(ids=ids)
            .filter(announced_on=day)
            .only("id", "arxiv_id", "title", "is_featured")
        )
        count = papers.count()
        rows = format_html_join(
            "",
            '<li><a href="{}">{}</a>{} · <a href="{}" rel="noopener">{}</a></li>',
            (
                (
                    reverse("admin:papers_paper_change", args=[paper.pk]),
                    Truncator(paper.title).chars(120),
                    " ★" if paper.is_featured else "",
                    paper.abs_url,
                    paper.arxiv_id,
                )
                for paper in papers[:PREVIEW_PAPERS]
            ),
        )
        summary = ngettext("%(count)d paper on %(day)s.", "%(count)d papers on %(day)s.", count) % {
            "count": count,
            "day": day.isoformat(),
        }
        if count > PREVIEW_PAPERS:
            summary += " " + str(_("The first %(shown)d:")) % {"shown": PREVIEW_PAPERS}
        return format_html('<p style="margin:0">{}</p><ol style="margin:0">{}</ol>', summary, rows)

    @admin.display(
        description=format_lazy(_("check: the last {days} days by strength, and near misses"),
                                days=RECENT_DAYS)
    )  # fmt: skip
    def recent_check(self, topic: Topic) -> str:
        if topic.pk is None:
            return _("Save the topic to check what it matches.")
        return topic_check_html(topic)


def topic_check_html(topic: Topic) -> str:
    """The topic check (newsletter.topic_check) as the change page shows it: counts, and the
    first CHECK_PAPERS papers of each part with links, in one query for their titles."""
    recent = recent_papers()
    check = topic_check(topic=topic, index=recent.index, order=recent.ids_in_display_order)
    if check.error:
        return format_html('<p style="margin:0">{}</p>', check.error)
    shown = [
        *check.strong[:CHECK_PAPERS],
        *check.passing[:CHECK_PAPERS],
        *(miss.paper_id for miss in check.near_misses[:CHECK_PAPERS]),
    ]
    papers = {
        paper.pk: paper
        for paper in Paper.objects.filter(pk__in=shown).only("id", "arxiv_id", "title")
    }
    if check.categories_only:
        parts = [(_("In its categories: %(count)d") % {"count": len(check.strong)},
                  [(pid, "") for pid in check.strong])]  # fmt: skip
    else:
        passing = (
            _("Passing mentions, in the topic: %(count)d")
            if check.passing_kept
            else _("Passing mentions, left out (the topic demands a strong match): %(count)d")
        )
        parts = [
            (_("Strong matches: %(count)d") % {"count": len(check.strong)},
             [(pid, "") for pid in check.strong]),
            (passing % {"count": len(check.passing)}, [(pid, "") for pid in check.passing]),
            (_("Near misses: %(count)d") % {"count": len(check.near_misses)},
             [(miss.paper_id, miss.reason) for miss in check.near_misses]),
        ]  # fmt: skip
    return format_html_join(
        "",
        '<p style="margin:.4em 0 0"><strong>{}</strong></p><ol style="margin:0">{}</ol>',
        (
            (
                heading,
                format_html_join(
                    "",
                    '<li><a href="{}">{}</a> · <a href="{}" rel="noopener">{}</a>{}</li>',
                    (
                        (
                            reverse("admin:papers_paper_change", args=[pid]),
                            Truncator(papers[pid].title).chars(120),
                            papers[pid].abs_url,
                            papers[pid].arxiv_id,
                            format_html(" — <em>{}</em>", reason) if reason else "",
                        )
                        for pid, reason in rows[:CHECK_PAPERS]
                        if pid in papers
                    ),
                ),
            )
            for heading, rows in parts
        ),
    )


# --- synonyms -----------------------------------------------------------------------------


class SynonymForm(forms.ModelForm):
    class Meta:
        model = Synonym
        fields = ["phrase", "also_finds", "both_ways", "note"]

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        others = Synonym.objects.exclude(pk=self.instance.pk).values_list(
            "phrase", "also_finds", "both_ways"
        )
        check_synonym(
            rule=Rule(cleaned["phrase"], cleaned["also_finds"], cleaned["both_ways"]),
            others=[Rule(*row) for row in others],
            index=recent_papers().index,
        )
        return cleaned


@admin.register(Synonym)
class SynonymAdmin(admin.ModelAdmin):
    form = SynonymForm
    list_display = ["phrase", "direction", "also_finds", "note", "updated_at"]
    search_fields = ["phrase", "also_finds", "note"]

    @admin.display(description=_("finds"))
    def direction(self, synonym: Synonym) -> str:
        return "↔" if synonym.both_ways else "→"

    def save_model(
        self, request: HttpRequest, obj: Synonym, form: forms.Form, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(synonyms_changed)

    def delete_model(self, request: HttpRequest, obj: Synonym) -> None:
        super().delete_model(request, obj)
        transaction.on_commit(synonyms_changed)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Synonym]) -> None:
        super().delete_queryset(request, queryset)
        transaction.on_commit(synonyms_changed)


# --- subscribers --------------------------------------------------------------------------


class LanguageFilter(admin.SimpleListFilter):
    title = _("language")
    parameter_name = "language"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return list(settings.LANGUAGES)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(language=self.value())
        return queryset


class SubscriberForm(forms.ModelForm):
    categories = CategoriesField()

    def clean_own_query(self) -> str:
        return validated_query(self.cleaned_data["own_query"])


class RecentDigestInline(admin.TabularInline):
    model = Digest
    verbose_name_plural = format_lazy(_("digests of the last {days} days"), days=RECENT_DIGEST_DAYS)
    fields = [
        "edition_on",
        "status_badge",
        "paper_count",
        "more_count",
        "subject",
        "sent_at",
        "message_id",
        "last_error",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Digest]:
        since = timezone.localdate() - dt.timedelta(days=RECENT_DIGEST_DAYS)
        return (
            super().get_queryset(request).select_related("subscriber").filter(edition_on__gte=since)
        )

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description=_("status"))
    def status_badge(self, digest: Digest) -> str:
        return digest_status_badge(digest)


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberForm
    list_display = [
        "email",
        "status",
        "frequency",
        "topic_names",
        "language",
        "send_hour_local",
        "time_zone",
        "created_at",
        "last_digest_on",
    ]
    list_filter = ["status", "frequency", "topics", LanguageFilter]
    search_fields = ["email"]
    search_help_text = _("Part of an email address.")
    actions = ["resend_confirmation", "pause", "unsubscribe", "export_csv"]
    list_per_page = 100
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    filter_horizontal = ["topics"]
    inlines = [RecentDigestInline]
    fieldsets = [
        (None, {"fields": ["email", ("status", "suppressed_reason")]}),
        (
            _("What they follow"),
            {
                "fields": [
                    "topics",
                    "own_query",
                    "categories",
                    "authors",
                    ("include_cross_lists", "include_revisions"),
                ]
            },
        ),
        (
            _("When and how"),
            {"fields": [("frequency", "send_hour_local", "time_zone"), "max_papers", "language"]},
        ),
        (
            _("History"),
            {
                "fields": [
                    ("created_at", "confirmed_at", "unsubscribed_at"),
                    ("last_digest_on", "soft_bounce_count"),
                    "next_digest",
                ]
            },
        ),
    ]
    # The lifecycle changes through actions (and the reader's own links), never by hand.
    readonly_fields = [
        "status",
        "suppressed_reason",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "last_digest_on",
        "soft_bounce_count",
        "next_digest",
    ]

    def get_urls(self) -> list:
        preview = self.admin_site.admin_view(self.next_digest_view)
        return [
            path(
                "<path:object_id>/next-digest/",
                preview,
                name="newsletter_subscriber_next_digest",
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscriber]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("topics", queryset=Topic.objects.only("name")))
        )

    @admin.display(description=_("next digest"))
    def next_digest(self, subscriber: Subscriber) -> str:
        if subscriber.pk is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:newsletter_subscriber_next_digest", args=[subscriber.pk]),
            _("Preview it, or send a test copy to yourself"),
        )

    def next_digest_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The reader's next digest as it would be sent (HTML and text), recording nothing."""
        subscriber = self.get_object(request, unquote(object_id))
        if subscriber is None:
            raise Http404("No such subscriber.")
        if not (
            self.has_view_permission(request, subscriber)
            and request.user.has_perm("newsletter.view_digest")
        ):
            raise PermissionDenied
        edition = next_edition(subscriber, now=timezone.now())
        plans = unsaved_plans(subscriber_ids=[subscriber.pk], edition_on=edition)
        rendered = unsaved_emails(plans)
        email = rendered[0][1] if rendered else None
        if request.method == "POST":
            self._send_test_copy(request, email)
            return redirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Next digest for %(email)s") % {"email": subscriber.email},
            "subscriber": subscriber,
            "edition": edition,
            "plan": plans[0] if plans else None,
            "email": email,
            "html_bytes": len(email.html.encode()) if email else 0,
        }
        return TemplateResponse(request, "admin/newsletter/subscriber/next_digest.html", context)

    def _send_test_copy(self, request: HttpRequest, email: DigestEmail | None) -> None:
        to = request.user.email
        if not to:
            self.message_user(
                request, _("Add an email address to your account first."), messages.ERROR
            )
            return
        if email is None:
            self.message_user(request, _("Nothing to send: no paper matched."), messages.WARNING)
            return
        delivery = send_test_copy(email, to=to)
        if delivery.outcome is Outcome.ACCEPTED:
            self.message_user(request, _("Test copy sent to %(to)s.") % {"to": to})
        else:
            self.message_user(
                request,
                _("The mail server refused it: %(error)s") % {"error": delivery.detail},
                messages.ERROR,
            )

    @admin.display(description=_("topics"))
    def topic_names(self, subscriber: Subscriber) -> str:
        names = [topic.name for topic in subscriber.topics.all()]
        own = [_("own filter")] if subscriber.own_query or subscriber.categories else []
        return ", ".join([*names, *map(str, own)]) or "—"

    @admin.action(
        description=_("Resend the confirmation email to selected pending subscribers"),
        permissions=["change"],
    )
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        sent = capped = 0
        for subscriber in queryset.filter(status=Subscriber.Status.PENDING).iterator(
            chunk_size=500
        ):
            # The same path as the reader's own "email me a link": same daily cap per address.
            outcome = services.subscriber_request_manage_link(email=subscriber.email)
            sent += outcome == services.SignupOutcome.CONFIRMATION_SENT
            capped += outcome == services.SignupOutcome.MAIL_CAPPED
        message = ngettext(
            "Confirmation sent to %(sent)d subscriber.",
            "Confirmation sent to %(sent)d subscribers.",
            sent,
        ) % {"sent": sent}
        if capped:
            message += " " + ngettext(
                "%(capped)d address reached today's mail cap.",
                "%(capped)d addresses reached today's mail cap.",
                capped,
            ) % {"capped": capped}
        skipped = queryset.exclude(status=Subscriber.Status.PENDING).count()
        if skipped:
            message += " " + ngettext(
                "%(skipped)d was not waiting for confirmation.",
                "%(skipped)d were not waiting for confirmation.",
                skipped,
            ) % {"skipped": skipped}
        self.message_user(request, message)

    @admin.action(description=_("Pause selected subscribers"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        changed = sum(
            services.subscriber_pause(subscriber=s) for s in queryset.iterator(chunk_size=500)
        )
        self.message_user(
            request, ngettext("%d subscriber paused.", "%d subscribers paused.", changed) % changed
        )

    @admin.action(description=_("Unsubscribe selected subscribers"), permissions=["change"])
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        changed = sum(
            services.subscriber_unsubscribe(subscriber=s) for s in queryset.iterator(chunk_size=500)
        )
        self.message_user(
            request,
            ngettext("%d subscriber unsubscribed.", "%d subscribers unsubscribed.", changed)
            % changed,
        )

    @admin.action(description=_("Export selected subscribers as CSV"), permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Subscriber]
    ) -> StreamingHttpResponse:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(
            _csv_lines(queryset.order_by("pk")), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="subscribers-{stamp}.csv"'
        return response


CSV_COLUMNS = [
    "email",
    "status",
    "frequency",
    "topics",
    "own_query",
    "categories",
    "language",
    "time_zone",
    "send_hour_local",
    "max_papers",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "last_digest_on",
    # The reader's own data (issue 14): their votes and the papers they gave us.
    "recommendations_enabled",
    "ratings",
    "imported_papers",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(queryset: QuerySet[Subscriber]) -> Iterator[str]:
    """Rows streamed in chunks: an export of every subscriber never sits in memory at once."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    topics = Prefetch("topics", queryset=Topic.objects.only("slug"))
    rows = queryset.prefetch_related(None).prefetch_related(topics, *_reader_data_prefetches())
    for subscriber in rows.iterator(chunk_size=2000):
        yield writer.writerow(
            _spreadsheet_safe(value)
            for value in [
                subscriber.email,
                subscriber.status,
                subscriber.frequency,
                " ".join(topic.slug for topic in subscriber.topics.all()),
                subscriber.own_query,
                " ".join(subscriber.categories),
                subscriber.language,
                subscriber.time_zone,
                subscriber.send_hour_local,
                subscriber.max_papers,
                _iso(subscriber.created_at),
                _iso(subscriber.confirmed_at),
                _iso(subscriber.unsubscribed_at),
                _iso(subscriber.last_digest_on),
                subscriber.recommendations_enabled,
                *_reader_data_cells(subscriber),
            ]
        )


def _reader_data_prefetches() -> list[Prefetch]:
    ratings = Rating.objects.select_related("paper").only(
        "subscriber_id", "vote", "paper__arxiv_id"
    )
    imported = ImportedPaper.objects.only("subscriber_id", "arxiv_id", "title")
    return [
        Prefetch("ratings", queryset=ratings.order_by("-rated_at", "-pk")),
        Prefetch("imported_papers", queryset=imported.order_by("-imported_at", "-pk")),
    ]


def _reader_data_cells(subscriber: Subscriber) -> tuple[str, str]:
    """'2503.00001:+1 2503.00002:-1' (newest first) and the imported papers, ' | ' apart."""
    ratings = " ".join(
        f"{rating.paper.arxiv_id}:{rating.vote:+d}" for rating in subscriber.ratings.all()
    )
    imported = " | ".join(
        item.arxiv_id or " ".join(item.title.split()) for item in subscriber.imported_papers.all()
    )
    return ratings, imported


def _iso(value: object) -> str:
    return value.isoformat() if value is not None else ""


def _spreadsheet_safe(value: object) -> object:
    """Reader-typed text starting with = + - @ would run as a formula in a spreadsheet."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- digests ------------------------------------------------------------------------------

# What editions.message_id_for makes: the digest's identity, so a search finds it by index.
DIGEST_MESSAGE_ID = re.compile(r"^<digest\.(?P<day>\d{8})\.(?P<reader>\d+)@[^>]+>$")


def readers_by_address(term: str) -> QuerySet[Subscriber]:
    """Subscribers whose address contains `term`: a few thousand rows read, never the
    digests or follow-ups first."""
    return Subscriber.objects.filter(email__icontains=term).values("pk")


def digest_status_badge(digest: Digest) -> str:
    return status_badge(DIGEST_STATUS_COLOURS.get(digest.status, ""), digest.get_status_display())


class DigestItemInline(admin.TabularInline):
    model = DigestItem
    verbose_name = _("paper in the email")
    verbose_name_plural = _("papers in the email")
    fields = ["rank", "paper_link", "reasons"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[DigestItem]:
        return super().get_queryset(request).select_related("paper")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description=_("paper"))
    def paper_link(self, item: DigestItem) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:papers_paper_change", args=[item.paper_id]),
            Truncator(item.paper.title).chars(120),
        )


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = [
        "subscriber",
        "edition_on",
        "status_badge",
        "paper_count",
        "more_count",
        "sent_at",
        "message_id",
        "attempts",
        "error_summary",
    ]
    list_filter = ["status", ("edition_on", admin.DateFieldListFilter)]
    list_select_related = ["subscriber"]
    search_fields = ["subscriber__email", "=message_id"]
    search_help_text = _("Part of an email address, or an exact Message-ID.")
    list_per_page = 100
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = [DigestItemInline]
    fields = [
        "subscriber",
        ("edition_on", "covers_from", "covers_to"),
        "status_badge",
        ("paper_count", "more_count", "matched_count"),
        "subject",
        "message_id",
        ("created_at", "sent_at"),
        ("attempts", "lease_expires_at", "claimed_by"),
        "error_details",
        "more_page",
        "next_digest",
    ]
    readonly_fields = [
        "subscriber",
        "edition_on",
        "covers_from",
        "covers_to",
        "status_badge",
        "paper_count",
        "more_count",
        "matched_count",
        "subject",
        "message_id",
        "created_at",
        "sent_at",
        "attempts",
        "lease_expires_at",
        "claimed_by",
        "error_details",
        "more_page",
        "next_digest",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Digest]:
        # The "more" page's lists are only shown on a digest's own page.
        return super().get_queryset(request).defer("more_paper_ids", "more_reasons")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Digest], search_term: str
    ) -> tuple[QuerySet[Digest], bool]:
        # A year of digests is millions of rows: each kind of term goes to an index (the
        # admin's own search ORs an address and a Message-ID and reads every digest).
        term = search_term.strip()
        if not term:
            return queryset, False
        if match := DIGEST_MESSAGE_ID.match(term):
            day = match["day"]
            try:
                edition = dt.date(int(day[:4]), int(day[4:6]), int(day[6:]))
            except ValueError:
                return queryset.none(), False
            found = queryset.filter(subscriber_id=int(match["reader"]), edition_on=edition)
            return found.filter(message_id=term), False
        if term.startswith("<"):
            return queryset.filter(message_id=term), False
        return queryset.filter(subscriber__in=readers_by_address(term)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # digests are built by the sender, one per subscriber and edition

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a record of what was sent; nothing to edit

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, digest: Digest) -> str:
        return digest_status_badge(digest)

    @admin.display(description=_("error"))
    def error_summary(self, digest: Digest) -> str:
        line = digest.last_error.strip().splitlines()[0] if digest.last_error.strip() else ""
        return Truncator(line).chars(100)

    @admin.display(description=_("reader's next digest"))
    def next_digest(self, digest: Digest) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:newsletter_subscriber_next_digest", args=[digest.subscriber_id]),
            _("Preview it, or send a test copy to yourself"),
        )

    @admin.display(description=_("the 'more' page"))
    def more_page(self, digest: Digest) -> str:
        titles = dict(Paper.objects.filter(pk__in=digest.more_paper_ids).values_list("pk", "title"))
        rows = [
            (
                reverse("admin:papers_paper_change", args=[pid]),
                Truncator(titles[pid]).chars(120),
                why_text(reasons),
            )
            for pid, reasons in zip(digest.more_paper_ids, digest.more_reasons, strict=False)
            if pid in titles
        ]
        if not rows:
            return "—"
        return format_html(
            "<ol style='margin:0;padding-left:1.5em'>{}</ol>",
            format_html_join("", '<li><a href="{}">{}</a> <small>{}</small></li>', rows),
        )

    @admin.display(description=_("error"))
    def error_details(self, digest: Digest) -> str:
        if not digest.last_error:
            return "—"
        return format_html(
            '<pre style="white-space:pre-wrap;max-width:60em;margin:0">{}</pre>', digest.last_error
        )


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    """The updates each reader was told: a record written with its digest, so read-only
    (deleting one would tell it again)."""

    list_display = ["digest_link", "reader", "paper_link", "kind", "detail_text"]
    list_filter = ["kind"]
    search_fields = ["subscriber__email", "=paper__arxiv_id"]
    search_help_text = _("Part of an email address, or an exact arXiv id.")
    list_per_page = 100
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    ordering = ["-digest_id", "position"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FollowUp]:
        return (
            super()
            .get_queryset(request)
            .select_related("digest", "subscriber", "paper")
            .only(
                "kind",
                "position",
                "detail",
                "digest__edition_on",
                "digest__status",
                "subscriber__email",
                "paper__arxiv_id",
                "paper__title",
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[FollowUp], search_term: str
    ) -> tuple[QuerySet[FollowUp], bool]:
        # An arXiv id or an address, each on its index, never both ORed over every row.
        term = search_term.strip()
        if not term:
            return queryset, False
        if ARXIV_ID.match(term):
            return queryset.filter(paper__arxiv_id=term), False
        return queryset.filter(subscriber__in=readers_by_address(term)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description=_("digest"), ordering="digest__edition_on")
    def digest_link(self, followup: FollowUp) -> str:
        return format_html(
            '<a href="{}">{} ({})</a>',
            reverse("admin:newsletter_digest_change", args=[followup.digest_id]),
            followup.digest.edition_on,
            followup.digest.get_status_display(),
        )

    @admin.display(description=_("reader"), ordering="subscriber__email")
    def reader(self, followup: FollowUp) -> str:
        return followup.subscriber.email

    @admin.display(description=_("paper"), ordering="paper__arxiv_id")
    def paper_link(self, followup: FollowUp) -> str:
        return format_html(
            '<a href="{}">{}</a> {}',
            reverse("admin:papers_paper_change", args=[followup.paper_id]),
            followup.paper.arxiv_id,
            Truncator(followup.paper.title).chars(80),
        )

    @admin.display(description=_("detail"))
    def detail_text(self, followup: FollowUp) -> str:
        detail = followup.detail if isinstance(followup.detail, dict) else {}
        return ", ".join(f"{key}: {value}" for key, value in sorted(detail.items())) or "—"
