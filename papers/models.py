"""What a paper is, where papers come from, and the record of every fetch."""

from __future__ import annotations

from django.core.validators import URLValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

# What an editor may type as a paper's link: the web only (ingestion applies the same rule).
web_link = URLValidator(schemes=["http", "https"])


class Source(models.Model):
    """A feed Paperboy reads; editors change its categories, query and switch it on or off."""

    class Kind(models.TextChoices):
        ARXIV_API = "arxiv_api", _("arXiv API")
        ARXIV_RSS = "arxiv_rss", _("arXiv RSS")
        HF_DAILY = "hf_daily", _("Hugging Face Daily Papers")

    name = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    categories = models.JSONField(default=list, blank=True, help_text=_("e.g. cs.CV, cs.LG"))
    query = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Paper(models.Model):
    """One arXiv paper, whatever the source or version that reported it."""

    class AnnounceType(models.TextChoices):
        NEW = "new", _("new")
        CROSS = "cross", _("cross-list")
        REPLACE = "replace", _("replacement")
        REPLACE_CROSS = "replace-cross", _("replacement of a cross-list")

    arxiv_id = models.CharField(max_length=40, unique=True, help_text=_("Without version."))
    latest_version = models.PositiveSmallIntegerField(default=1)
    title = models.TextField()
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    authors_text = models.TextField(blank=True, help_text=_("Authors joined, for search."))
    primary_category = models.CharField(max_length=40, blank=True, db_index=True)
    categories = models.JSONField(default=list, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    updated_at_source = models.DateTimeField(null=True, blank=True)
    announced_on = models.DateField(null=True, blank=True, db_index=True)
    announce_type = models.CharField(
        max_length=20, choices=AnnounceType.choices, default=AnnounceType.NEW
    )
    comment = models.TextField(blank=True)
    journal_ref = models.TextField(blank=True)
    doi = models.CharField(max_length=200, blank=True)
    code_url = models.URLField(max_length=500, blank=True, validators=[web_link])
    project_url = models.URLField(max_length=500, blank=True, validators=[web_link])
    hf_upvotes = models.PositiveIntegerField(default=0, db_index=True)
    hf_comments = models.PositiveIntegerField(default=0)
    hf_keywords = models.JSONField(default=list, blank=True)
    hf_featured_on = models.DateField(null=True, blank=True)
    # A database default too: code (and migrations' models) from before the column insert
    # papers without it.
    ai_summary = models.CharField(
        max_length=400,
        blank=True,
        default="",
        db_default="",
        help_text=_("Hugging Face's one-sentence machine summary."),
    )
    # When things readers hear about again happened (follow-ups): set by ingestion only.
    code_link_seen_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a code link first appeared.")
    )
    hf_upvotes_changed_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When Hugging Face's upvote count last changed.")
    )
    abstract_changed_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a new version replaced the abstract.")
    )
    seen_in_sources = models.JSONField(default=list, blank=True)
    is_featured = models.BooleanField(default=False, db_index=True)
    is_hidden = models.BooleanField(default=False, db_index=True)
    editor_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-announced_on", "-hf_upvotes", "arxiv_id"]
        indexes = [
            models.Index(fields=["announced_on", "is_hidden"], name="paper_day_visible"),
            models.Index(Lower("title"), name="paper_title_lower"),
            models.Index(fields=["code_link_seen_at"], name="paper_code_link_seen"),
            models.Index(fields=["hf_upvotes_changed_at"], name="paper_upvotes_changed"),
            models.Index(fields=["abstract_changed_at"], name="paper_abstract_changed"),
        ]

    def __str__(self) -> str:
        return f"{self.arxiv_id}: {self.title[:80]}"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


class PaperSummary(models.Model):
    """A paper's one-sentence summary in one reader language, written by the configured LLM.
    A failed attempt stays with empty text, so it is tried at most once a day."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="summaries")
    language = models.CharField(max_length=10)
    text = models.CharField(max_length=400, blank=True)
    model = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=300, blank=True)
    attempted_on = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("paper summaries")
        constraints = [
            models.UniqueConstraint(fields=["paper", "language"], name="one_summary_per_language")
        ]

    def __str__(self) -> str:
        return f"{self.paper_id} [{self.language}]: {self.text[:60] or self.error[:60]}"


class SummaryBudget(models.Model):
    """Calls made to the summary endpoint on one UTC day: where the daily budget is kept."""

    day = models.DateField(unique=True)
    calls = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.calls} calls"


class UpvoteCount(models.Model):
    """A paper's Hugging Face upvotes as last counted on one day (UTC): what "trending since
    we sent it" compares with. A row per day the count changed, for the refreshed days."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="upvote_counts")
    counted_on = models.DateField()
    upvotes = models.PositiveIntegerField()

    class Meta:
        ordering = ["paper", "-counted_on"]
        constraints = [
            models.UniqueConstraint(fields=["paper", "counted_on"], name="upvote_count_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.paper_id} @ {self.counted_on}: {self.upvotes}"


class FetchRun(models.Model):
    """One fetch of one source (or one ingested file): what it read and what it changed."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        PARTIAL = "partial", _("partial: some entries rejected")
        FAILED = "failed", _("failed")
        NO_ANNOUNCEMENT = "no_announcement", _("no announcement that day")
        WAITING = "waiting", _("waiting: listing not out yet, retried next tick")

    # A fetch that stored what it read: all of it, or all but some refused entries.
    SUCCESSFUL_STATUSES = (Status.SUCCEEDED, Status.PARTIAL)

    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="runs", null=True, blank=True
    )
    origin = models.CharField(max_length=500, blank=True, help_text=_("URL or file read."))
    announced_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    entries_read = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(
        default=0, help_text=_("Valid entries not stored, e.g. replacements of unknown papers.")
    )
    attempts = models.PositiveSmallIntegerField(
        default=1, help_text=_("Tries so far; a listing not out yet is retried each tick.")
    )
    listed_count = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Items in the day's RSS listing (completeness).")
    )
    stored_count = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Papers stored for that announcement day.")
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["status", "-finished_at"], name="fetchrun_status_done"),
            models.Index(fields=["source", "announced_on"], name="fetchrun_source_day"),
        ]

    def __str__(self) -> str:
        return f"{self.source or self.origin} @ {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def missing_count(self) -> int | None:
        """Listed papers not stored: above zero, that announcement day is incomplete."""
        if self.listed_count is None or self.stored_count is None:
            return None
        return max(self.listed_count - self.stored_count, 0)
