"""The service's own health: can it reach its database and broker, and is work happening
(/healthz)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


@dataclass
class HealthReport:
    database: str
    broker: str
    last_successful_fetch: datetime | None
    last_digest_sent: datetime | None

    @property
    def healthy(self) -> bool:
        return self.database == "ok" and self.broker in ("ok", "embedded")

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        for key in ("last_successful_fetch", "last_digest_sent"):
            value = data[key]
            data[key] = value.isoformat() if isinstance(value, datetime) else None
        data["status"] = "ok" if self.healthy else "unavailable"
        return data


def health_report() -> HealthReport:
    database = _database_status()
    last_fetch = last_digest = None
    if database == "ok":
        from newsletter.models import Digest
        from papers.models import FetchRun

        last_fetch = (
            FetchRun.objects.filter(status__in=FetchRun.SUCCESSFUL_STATUSES)
            .order_by("-finished_at")
            .values_list("finished_at", flat=True)
            .first()
        )
        last_digest = (
            Digest.objects.filter(status=Digest.Status.SENT)
            .order_by("-sent_at")
            .values_list("sent_at", flat=True)
            .first()
        )
    return HealthReport(
        database=database,
        broker=_broker_status(),
        last_successful_fetch=last_fetch,
        last_digest_sent=last_digest,
    )


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"error: {error.__class__.__name__}"
    return "ok"


def _broker_status() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER or settings.CELERY_BROKER_URL == "memory://":
        return "embedded"
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # noqa: BLE001 - any transport failure means "down"
        return f"error: {error.__class__.__name__}"
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report.as_json(), status=200 if report.healthy else 503)
