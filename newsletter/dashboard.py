"""The numbers an editor checks every morning, in a handful of aggregate queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from newsletter.day_counts import (
    DAYS,
    DIGEST_FIELDS,
    LIVE_DAYS,
    REFRESH_HOURS,
    counted_days,
    digests_per_day,
    start_of,
)
from newsletter.models import DayCount, Digest, Subscriber
from newsletter.rating_stats import RatingStats, rating_stats
from papers.models import FetchRun, Paper

TREND_DAYS = 30
TABLE_DAYS = DAYS
CACHE_SECONDS = 60


@dataclass(frozen=True)
class DayNumbers:
    day: dt.date
    papers_announced: int = 0
    papers_hidden: int = 0
    papers_fetched: int = 0
    fetches_failed: int = 0
    digests_sent: int = 0
    digests_failed: int = 0
    digests_skipped: int = 0


@dataclass(frozen=True)
class Dashboard:
    status_counts: list[tuple[str, str, int]]  # (status, label, count), every status
    subscriber_trend: list[tuple[dt.date, int]]  # confirmed, not unsubscribed, at each day's end
    days: list[DayNumbers]  # newest first
    last_fetch: FetchRun | None
    last_successful_fetch_at: dt.datetime | None
    last_digest_sent_at: dt.datetime | None
    ratings: RatingStats | None = None  # readers' 👍/👎 (issue 14)
    digests_counted_at: dt.datetime | None = None  # oldest stored day's count, if any

    @property
    def over_day_hours(self) -> int:
        return REFRESH_HOURS

    @property
    def trend_start(self) -> int:
        return self.subscriber_trend[0][1]

    @property
    def trend_end(self) -> int:
        return self.subscriber_trend[-1][1]

    @property
    def trend_change(self) -> int:
        return self.trend_end - self.trend_start

    @property
    def trend_svg(self) -> SafeString:
        return trend_svg(self.subscriber_trend)


def morning_dashboard(*, today: dt.date | None = None) -> Dashboard:
    today = today or timezone.localdate()
    key = f"admin:dashboard:{today.isoformat()}:{translation.get_language()}"
    dashboard = cache.get(key)
    if dashboard is None:
        dashboard = _build(today)
        cache.set(key, dashboard, CACHE_SECONDS)
    return dashboard


def _build(today: dt.date) -> Dashboard:
    counts = dict(
        Subscriber.objects.order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    status_counts = [
        (status, str(label), counts.get(status, 0)) for status, label in Subscriber.Status.choices
    ]
    table_from = today - dt.timedelta(days=TABLE_DAYS - 1)
    rows = {table_from + dt.timedelta(days=offset): {} for offset in range(TABLE_DAYS)}
    for day, hidden, n in (
        Paper.objects.filter(announced_on__gte=table_from, announced_on__lte=today)
        .order_by()
        .values_list("announced_on", "is_hidden")
        .annotate(n=Count("pk"))
    ):
        key = "papers_hidden" if hidden else "papers_announced"
        rows[day][key] = rows[day].get(key, 0) + n
    for day, fetched, failed in (
        FetchRun.objects.filter(started_at__gte=start_of(table_from))
        .annotate(day=TruncDate("started_at"))
        .order_by()
        .values_list("day")
        .annotate(
            fetched=Sum("created_count"),
            failed=Count("pk", filter=Q(status=FetchRun.Status.FAILED)),
        )
    ):
        if day in rows:
            rows[day].update(papers_fetched=fetched or 0, fetches_failed=failed)
    counted = counted_days(today=today)
    digest_days, digests_counted_at = digest_counts(today=today, counted=counted)
    for day, numbers in digest_days.items():
        rows[day].update(numbers)
    days = [DayNumbers(day=day, **numbers) for day, numbers in sorted(rows.items(), reverse=True)]

    last_fetch = FetchRun.objects.select_related("source").order_by("-started_at").first()
    last_success = (
        FetchRun.objects.filter(status__in=FetchRun.SUCCESSFUL_STATUSES)
        .order_by()
        .aggregate(at=Max("finished_at"))["at"]
    )
    # The newest send is in the newest editions with a sent digest (a day's readers span time
    # zones, so the one before too): found on the (status, edition_on) index, then a day or two
    # of rows read, not a month of a big audience's digests.
    sent = Digest.objects.filter(status=Digest.Status.SENT).order_by()
    latest_edition = (
        sent.filter(edition_on__gte=today - dt.timedelta(days=TREND_DAYS))
        .order_by("-edition_on")
        .values_list("edition_on", flat=True)
        .first()
    )
    last_sent = (
        sent.filter(edition_on__gte=latest_edition - dt.timedelta(days=1)).aggregate(
            at=Max("sent_at")
        )["at"]
        if latest_edition
        else None
    )
    return Dashboard(
        status_counts=status_counts,
        subscriber_trend=_subscriber_trend(today),
        days=days,
        last_fetch=last_fetch,
        last_successful_fetch_at=last_success,
        last_digest_sent_at=last_sent,
        ratings=rating_stats(today=today, counted=counted),
        digests_counted_at=digests_counted_at,
    )


def digest_counts(
    *, today: dt.date, counted: dict[dt.date, DayCount] | None = None
) -> tuple[dict[dt.date, dict[str, int]], dt.datetime | None]:
    """Digests sent, failed and skipped per edition over the table's days, and when the
    oldest stored day was counted: today and yesterday live, older days from their DayCount
    rows (`counted`, else read here; newsletter.day_counts), so a view reads two editions of
    digests whatever the audience's size or history, and so does the first one after the
    page's cache expires."""
    if counted is None:
        counted = counted_days(today=today)
    counts = {
        day: {field: n for field in DIGEST_FIELDS.values() if (n := getattr(row, field))}
        for day, row in counted.items()
    }
    counts.update(digests_per_day(today - dt.timedelta(days=LIVE_DAYS - 1), today))
    counted_at = min((row.counted_at for row in counted.values()), default=None)
    return counts, counted_at


def _subscriber_trend(today: dt.date) -> list[tuple[dt.date, int]]:
    """Confirmed and not unsubscribed at the end of each day, rebuilt from the timestamps.

    Pauses and suppressions carry no date, so they are not in the curve.
    """
    first = today - dt.timedelta(days=TREND_DAYS - 1)
    start = start_of(first)
    before = Subscriber.objects.aggregate(
        n=Count(
            "pk",
            filter=Q(confirmed_at__lt=start)
            & (Q(unsubscribed_at__isnull=True) | Q(unsubscribed_at__gte=start)),
        )
    )["n"]
    joined = _per_day(Subscriber.objects.filter(confirmed_at__gte=start), "confirmed_at")
    left = _per_day(
        Subscriber.objects.filter(unsubscribed_at__gte=start, confirmed_at__isnull=False),
        "unsubscribed_at",
    )
    trend, running = [], before
    for offset in range(TREND_DAYS):
        day = first + dt.timedelta(days=offset)
        running += joined.get(day, 0) - left.get(day, 0)
        trend.append((day, running))
    return trend


def _per_day(queryset, field: str) -> dict[dt.date, int]:
    return dict(
        queryset.annotate(day=TruncDate(field))
        .order_by()
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )


def trend_svg(
    points: list[tuple[dt.date, int]], *, width: int = 320, height: int = 64
) -> SafeString:
    """A sparkline as inline SVG: no script, so the admin's CSP lets it through."""
    if not points:
        return SafeString("")
    values = [value for _, value in points]
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = width / max(len(points) - 1, 1)
    pad = 4
    coordinates = [
        (round(i * step, 1), round(pad + (height - 2 * pad) * (1 - (v - low) / span), 1))
        for i, v in enumerate(values)
    ]
    polyline = " ".join(f"{x},{y}" for x, y in coordinates)
    last_x, last_y = coordinates[-1]
    tips = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="6" fill="transparent"><title>{}: {}</title></circle>',
        (
            (x, y, day.isoformat(), value)
            for (x, y), (day, value) in zip(coordinates, points, strict=True)
        ),
    )
    return format_html(
        '<svg class="trend" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'aria-label="{label}"><title>{label}</title>'
        '<polyline fill="none" stroke="#0b57d0" stroke-width="2" points="{points}"/>'
        '<circle cx="{lx}" cy="{ly}" r="3" fill="#0b57d0"/>{tips}</svg>',
        w=width,
        h=height,
        label=f"{points[0][1]} → {points[-1][1]} subscribers over {len(points)} days",
        points=polyline,
        lx=last_x,
        ly=last_y,
        tips=tips,
    )
