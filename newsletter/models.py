"""Topics readers follow, the readers themselves, and every digest sent to them."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import translation
from django.utils.translation import gettext_lazy as _


class Topic(models.Model):
    """A curated, named filter: a keyword query and/or arXiv categories."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    name_zh = models.CharField(
        _("Chinese name"),
        max_length=100,
        blank=True,
        help_text=_("Shown on Chinese pages and in Chinese emails; blank: the English name."),
    )
    description_zh = models.CharField(
        _("Chinese description"),
        max_length=300,
        blank=True,
        help_text=_("Blank: the English description."),
    )
    query = models.CharField(max_length=500, blank=True, help_text=_("Search syntax."))
    categories = models.JSONField(default=list, blank=True, help_text=_("e.g. cs.CV"))
    require_strong_match = models.BooleanField(
        _("demand a strong match"),
        default=False,
        help_text=_(
            "Only papers that name the topic in their title or their abstract's opening words, "
            "or mention it three times or more; a passing mention stays out of the preview, "
            "the topic page and feed, and the email."
        ),
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"/topics/{self.slug}/"

    def name_in(self, language: str | None) -> str:
        """The editor's Chinese name for a Chinese reader, else (or when blank) the English."""
        if (language or "").lower().startswith("zh") and self.name_zh:
            return self.name_zh
        return self.name

    def description_in(self, language: str | None) -> str:
        if (language or "").lower().startswith("zh") and self.description_zh:
            return self.description_zh
        return self.description

    @property
    def local_name(self) -> str:
        """The name in the active language (pages, feeds)."""
        return self.name_in(translation.get_language())

    @property
    def local_description(self) -> str:
        return self.description_in(translation.get_language())


class Synonym(models.Model):
    """An editor's equivalence applied when queries are matched: a query with `phrase` also
    finds `also_finds` (and the other way round when `both_ways`)."""

    phrase = models.CharField(max_length=100, help_text=_("e.g. T2I"))
    also_finds = models.CharField(max_length=100, help_text=_("e.g. text-to-image"))
    both_ways = models.BooleanField(
        default=True, help_text=_("A query with either one also finds the other.")
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["phrase", "also_finds"]
        constraints = [
            models.UniqueConstraint(fields=["phrase", "also_finds"], name="synonym_pair_once"),
        ]

    def __str__(self) -> str:
        return f"{self.phrase} {'↔' if self.both_ways else '→'} {self.also_finds}"


class Subscriber(models.Model):
    """A reader: what they follow, when they want it, and where their subscription stands."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for confirmation")
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
        SUPPRESSED = "suppressed", _("suppressed (bounced or complained)")

    class Frequency(models.TextChoices):
        DAILY = "daily", _("daily")
        WEEKLY = "weekly", _("weekly")

    email = models.EmailField(max_length=254, unique=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    topics = models.ManyToManyField(Topic, blank=True, related_name="subscribers")
    own_query = models.CharField(max_length=500, blank=True)
    categories = models.JSONField(default=list, blank=True)
    authors = models.JSONField(default=list, blank=True)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    send_hour_local = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(0), MaxValueValidator(23)]
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    max_papers = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    language = models.CharField(max_length=10, default="en")
    include_cross_lists = models.BooleanField(default=True)
    include_revisions = models.BooleanField(
        default=False, help_text=_("Also send papers announced again as a new version.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    last_digest_on = models.DateField(
        null=True, blank=True, help_text=_("Edition date of the latest digest built.")
    )
    soft_bounce_count = models.PositiveSmallIntegerField(default=0)
    suppressed_reason = models.CharField(max_length=200, blank=True)
    recommendations_enabled = models.BooleanField(
        default=True,
        help_text=_("Add a few papers outside the reader's filters that their ratings suggest."),
    )
    # Follow-ups: news of papers the reader got, at the end of the next digest.
    followup_code = models.BooleanField(_("when a paper I got releases its code"), default=True)
    followup_trending = models.BooleanField(
        _("when a paper I got takes off on Hugging Face"), default=True
    )
    followup_new_version = models.BooleanField(
        _("when a paper I got has a new version with a changed abstract"), default=True
    )
    followups_alone = models.BooleanField(
        _("send the updates even on days without new papers"),
        default=False,
        help_text=_("Otherwise an email with only updates is not sent; they wait for the next."),
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(send_hour_local__gte=0) & Q(send_hour_local__lte=23),
                name="subscriber_send_hour_in_day",
            ),
            models.CheckConstraint(
                condition=Q(max_papers__gte=1) & Q(max_papers__lte=50),
                name="subscriber_max_papers_bounded",
            ),
            # Reader@Example.org and reader@example.org reach one mailbox: one subscriber.
            models.UniqueConstraint(
                Lower("email"),
                name="subscriber_one_per_mailbox",
                violation_error_message=_(
                    "A subscriber with this address, in any letter case, already exists."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "send_hour_local"], name="subscriber_due"),
        ]

    def __str__(self) -> str:
        return self.email


class Digest(models.Model):
    """One email for one subscriber and one edition (their local date); never two."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SKIPPED_EMPTY = "skipped_empty", _("skipped: nothing matched")
        CANCELLED = "cancelled", _("cancelled: the reader left before it was sent")

    # No index of its own: the (subscriber, edition) constraint's index serves it, and every
    # index costs on each of a run's inserts and "sent" marks.
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="digests", db_index=False
    )
    edition_on = models.DateField()
    covers_from = models.DateField()
    covers_to = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    paper_count = models.PositiveSmallIntegerField(default=0)
    more_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(
        default=0, help_text=_("Every matching paper, even past the 'more' page's limit.")
    )
    # The "more" page: ids, best first, and why each matched (kinds and labels), side by side.
    # Two small JSON lists per digest instead of ~50 item rows a reader; the ids alone are
    # what "never twice" reads for every later digest.
    more_paper_ids = models.JSONField(default=list, blank=True)
    more_reasons = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("A worker's claim; a sweeper retakes it after this.")
    )
    claimed_by = models.CharField(
        max_length=64, blank=True, help_text=_("The task holding the lease; its retry may resume.")
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-edition_on", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "edition_on"], name="digest_one_per_subscriber_edition"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "edition_on"], name="digest_status_edition"),
            # The admin's list, newest first, and its date filter: a year is millions of rows.
            models.Index(fields=["edition_on", "created_at"], name="digest_edition_created"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} · {self.edition_on} ({self.status})"


class DigestItem(models.Model):
    """A paper in a digest's email; (subscriber, paper) is unique so no paper reaches a
    reader's inbox twice (the "more" page's papers are in Digest.more_paper_ids)."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="items")
    # No index of its own: the (subscriber, paper) constraint's index serves subscriber lookups.
    # No foreign keys in the database for the reader and the paper (Django still cascades):
    # the reader is the digest's own, whose key is checked, and papers are never deleted
    # outside the ORM. Checking both at commit for ~10 rows a reader was 60 % of a build's
    # PostgreSQL CPU, and shared locks on the day's papers from every worker at once.
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    paper = models.ForeignKey(
        "papers.Paper", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    rank = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["digest", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "paper"], name="digest_item_paper_once_per_subscriber"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.digest_id} #{self.rank}: {self.paper_id}"


class Rating(models.Model):
    """A reader's 👍 or 👎 on one paper; changing one's mind replaces the vote."""

    class Vote(models.IntegerChoices):
        UP = 1, _("more like this")
        DOWN = -1, _("not for me")

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="ratings")
    paper = models.ForeignKey("papers.Paper", on_delete=models.CASCADE, related_name="+")
    vote = models.SmallIntegerField(choices=Vote.choices)
    rated_at = models.DateTimeField()

    class Meta:
        ordering = ["-rated_at"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "paper"], name="rating_one_per_paper"),
            models.CheckConstraint(condition=Q(vote__in=[1, -1]), name="rating_vote_up_or_down"),
        ]
        # The dashboard counts a week of votes by day and by paper from this index alone.
        indexes = [
            models.Index(fields=["rated_at", "vote", "paper"], name="rating_rated_at_vote_paper")
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} {'👍' if self.vote == self.Vote.UP else '👎'} {self.paper_id}"


class DayCount(models.Model):
    """The dashboard's figures of one day that is over, counted once (newsletter/day_counts.py):
    that edition's digests by outcome and the votes cast that day."""

    day = models.DateField(primary_key=True)
    digests_sent = models.PositiveIntegerField(default=0)
    digests_failed = models.PositiveIntegerField(default=0)
    digests_skipped = models.PositiveIntegerField(default=0)
    votes_up = models.PositiveIntegerField(default=0)
    votes_down = models.PositiveIntegerField(default=0)
    counted_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.digests_sent} sent, counted {self.counted_at:%Y-%m-%d %H:%M}"


class ImportedPaper(models.Model):
    """A paper a reader said they like before any digest (cold start): pasted arXiv ids or a
    reference-manager export. Kept as text so papers outside the catalogue still count."""

    class Origin(models.TextChoices):
        ARXIV_ID = "arxiv_id", _("arXiv id or URL")
        BIBTEX = "bibtex", _("BibTeX")
        RIS = "ris", _("RIS")
        CSL_JSON = "csl_json", _("CSL-JSON")

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="imported_papers"
    )
    paper = models.ForeignKey(
        "papers.Paper", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    arxiv_id = models.CharField(max_length=32, blank=True)
    title = models.CharField(max_length=1000)
    abstract = models.TextField(blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-imported_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "arxiv_id"],
                condition=~Q(arxiv_id=""),
                name="imported_paper_arxiv_id_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber}: {self.title[:60]}"


class ProcessedWebhookEvent(models.Model):
    """A provider's bounce or complaint event already acted on: providers retry webhooks,
    and a retried event must not count again (nor a second soft bounce of one message)."""

    provider = models.CharField(max_length=30)
    event_key = models.CharField(max_length=255, help_text=_("The provider's event id."))
    message_id = models.CharField(max_length=255, blank=True)
    soft_bounce = models.BooleanField(default=False)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_key"], name="webhook_event_once"),
            models.UniqueConstraint(
                fields=["provider", "message_id"],
                condition=Q(soft_bounce=True) & ~Q(message_id=""),
                name="webhook_one_soft_bounce_per_message",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_key}"


class EditionRunRequest(models.Model):
    """A day someone asked to send to every reader (send_digests_for_date): until each reader
    confirmed by then has that edition, the sweeper builds what a lost task never did."""

    edition_on = models.DateField(unique=True)
    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"run of {self.edition_on}"


# --- Personalisation (newsletter/recommend/) ---------------------------------------------------


class ReaderModel(models.Model):
    """A reader's learned taste: one small linear model per interest over the papers' text,
    retrained by a batched task after new ratings (never inside a web request)."""

    subscriber = models.OneToOneField(
        Subscriber, on_delete=models.CASCADE, related_name="reader_model"
    )
    requested_at = models.DateTimeField(
        null=True, blank=True, help_text=_("A new rating or import asked for a retrain.")
    )
    trained_at = models.DateTimeField(null=True, blank=True)
    features = models.CharField(
        max_length=100, blank=True, help_text=_("The text representation the weights are for.")
    )
    rating_count = models.PositiveIntegerField(default=0)
    positive_count = models.PositiveIntegerField(default=0)
    interest_count = models.PositiveSmallIntegerField(default=0)
    # numpy .npz bytes: per-interest weights and intercepts, and the liked papers' vectors
    # (for the "like <paper>" line); liked_titles lists those papers in the same order.
    weights = models.BinaryField(null=True, blank=True)
    liked_titles = models.JSONField(default=list, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    embedding_weights = models.BinaryField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["requested_at"], name="reader_model_requested")]

    def __str__(self) -> str:
        return f"{self.subscriber} · {self.interest_count} interests, {self.rating_count} ratings"

    @property
    def is_stale(self) -> bool:
        return self.trained_at is None or (
            self.requested_at is not None and self.requested_at > self.trained_at
        )


class TermStatistics(models.Model):
    """Document frequencies of the hashed word features over the catalogue: the stored IDF
    that keeps the default representation's feature space stable as papers arrive."""

    features = models.CharField(max_length=100, unique=True)
    document_count = models.PositiveIntegerField()
    document_frequencies = models.BinaryField()
    built_at = models.DateTimeField()

    class Meta:
        ordering = ["-built_at"]
        verbose_name_plural = "term statistics"

    def __str__(self) -> str:
        return f"{self.features} over {self.document_count} papers"


class PaperTerms(models.Model):
    """A paper's term counts in the default representation's hashed feature space, stored
    by the tasks that vectorise papers anyway (more like this, training) so that scoring a
    day's papers needs no vectoriser: the send workers never load scikit-learn."""

    paper = models.OneToOneField(
        "papers.Paper", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    features = models.CharField(max_length=100)  # the hashing that made them
    # Of the text they count: a paper whose title or abstract changed is counted again.
    text_digest = models.BinaryField(max_length=16)
    counts = models.BinaryField()  # int32 feature indices, then their float32 counts

    class Meta:
        verbose_name_plural = "paper terms"

    def __str__(self) -> str:
        return f"terms of paper {self.paper_id}"


class SimilarPapers(models.Model):
    """A recent paper's nearest neighbours, best first, precomputed by a task after each
    fetch (newsletter.recommend.neighbours) so a page reads them instead of vectorising."""

    paper = models.OneToOneField(
        "papers.Paper", on_delete=models.CASCADE, related_name="similar_papers"
    )
    # Parallel lists: neighbour paper ids and their cosine similarities, best first.
    neighbour_ids = models.JSONField(default=list, blank=True)
    scores = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "similar papers"

    def __str__(self) -> str:
        return f"{self.paper_id}: {len(self.neighbour_ids)} neighbours"


class FollowUp(models.Model):
    """News of a paper a reader got (its code released, it is trending, a new version), told
    in one digest: (subscriber, paper, kind) is unique, so no reader hears it twice. Written
    with the digest that carries it, in the same transaction."""

    class Kind(models.TextChoices):
        CODE = "code", _("code released")
        TRENDING = "trending", _("trending")
        NEW_VERSION = "new_version", _("new version")

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="followups")
    # No index of its own: the (subscriber, paper, kind) constraint's index serves lookups.
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    paper = models.ForeignKey("papers.Paper", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    position = models.PositiveSmallIntegerField(help_text=_("Order in the email, from 1."))
    # What the line says (the code link, the upvotes then and now, the version), fixed when
    # the digest is built so a resend reads the same.
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["digest", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "paper", "kind"], name="followup_once_per_reader_paper_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.digest_id} #{self.position}: {self.paper_id} {self.kind}"
