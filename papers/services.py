"""Fetching papers: each call reads one source or file and leaves one finished FetchRun.

Whatever goes wrong, a run never stays `running`: an unexpected error ends every run the call
began as failed, with the error, and a run whose process was killed is failed by the next tick.

A daily arXiv run reads the RSS listing (what was announced, dated), then looks the announced
ids up through the API in batches (comment, venue, primary category). The beat ticks decide in
arXiv's own time zone what is due; a listing not out yet is retried on the next tick.

Over 400 lines because every source shares one run lifecycle (claim, fetch, store, finish,
fail loudly); the parsing is per source in papers/sources/, the upsert in papers/ingest.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from papers import schedule
from papers.http_client import FetchError, PoliteClient
from papers.ingest import IngestResult, ingest_records
from papers.models import FetchRun, Paper, Source
from papers.progress import Step
from papers.sources import arxiv_api, arxiv_rss, hf_daily
from papers.sources.detect import detect_kind
from papers.sources.records import (
    ANNOUNCING_TYPES,
    ARXIV_API,
    ARXIV_RSS,
    HF_DAILY,
    DocumentError,
    ParsedDocument,
)

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

LOOKUP_BATCH_SIZE = 50
SEARCH_PAGE_SIZE = 200
LOCK_TIMEOUT = 60 * 60
MAX_ERRORS_SHOWN = 10
# Runs after which the schedule need not read that listing again.


class SourceBusy(Exception):
    """Another fetch of the same service is running (one connection to arXiv at a time)."""


def _quiet(message: str) -> None:
    logger.info(message)


def _lock_key(kind: str) -> str:
    # Both arXiv kinds share a lock: arXiv's 3-second rule is per client, not per endpoint.
    return "papers:fetch-lock:" + ("arxiv" if kind in (ARXIV_API, ARXIV_RSS) else kind)


@contextmanager
def _fetch_lock(kind: str) -> Iterator[None]:
    key = _lock_key(kind)
    token = uuid.uuid4().hex
    if not cache.add(key, token, LOCK_TIMEOUT):
        raise SourceBusy(f"another fetch from {kind.split('_')[0]} is running; try again later")
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)


# --- FetchRun bookkeeping ------------------------------------------------------------------

# The runs begun by the fetch in progress in this thread, which an unexpected error must fail.
_runs_in_progress: ContextVar[list[FetchRun] | None] = ContextVar("runs_in_progress", default=None)


@contextmanager
def _runs_fail_on_error() -> Iterator[list[FetchRun]]:
    """Yield the runs begun inside (a nested use shares the outer list). On any exception
    every one of them not finished yet ends failed with the error, which is logged and not
    raised again; an exception before any run began is raised."""
    outer = _runs_in_progress.get()
    if outer is not None:
        yield outer
        return
    runs: list[FetchRun] = []
    token = _runs_in_progress.set(runs)
    try:
        yield runs
    except Exception as error:
        if not runs:
            raise
        logger.exception("fetch failed unexpectedly")
        for run in runs:
            if run.status == FetchRun.Status.RUNNING:
                _run_finish(
                    run,
                    status=FetchRun.Status.FAILED,
                    error=f"unexpected error: {type(error).__name__}: {error}"[:2000],
                )
    finally:
        _runs_in_progress.reset(token)


def _track(run: FetchRun) -> FetchRun:
    runs = _runs_in_progress.get()
    if runs is not None:
        runs.append(run)
    return run


def _run_begin(*, source: Source | None, origin: str, announced_on: dt.date | None) -> FetchRun:
    return _track(
        FetchRun.objects.create(source=source, origin=origin[:500], announced_on=announced_on)
    )


def fetch_runs_abandoned_fail(*, now: dt.datetime) -> int:
    """Fail the runs still `running` LOCK_TIMEOUT after they began while no fetch of their
    service holds the lock: their process was killed (or lost its database) mid-run."""
    stale = FetchRun.objects.filter(
        status=FetchRun.Status.RUNNING, started_at__lt=now - dt.timedelta(seconds=LOCK_TIMEOUT)
    ).select_related("source")
    abandoned = [
        run.pk for run in stale if run.source is None or not cache.get(_lock_key(run.source.kind))
    ]
    return FetchRun.objects.filter(pk__in=abandoned, status=FetchRun.Status.RUNNING).update(
        status=FetchRun.Status.FAILED,
        finished_at=now,
        error=(
            "abandoned: the process running this fetch stopped before it finished (killed, "
            "or its database connection was lost); the next fetch reads the source again"
        ),
    )


def _run_finish(
    run: FetchRun,
    *,
    status: str,
    error: str = "",
    result: IngestResult | None = None,
) -> FetchRun:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    if result is not None:
        run.entries_read = result.entries_read
        run.created_count = result.created
        run.updated_count = result.updated
        run.unchanged_count = result.unchanged
        run.skipped_count = result.skipped
        run.rejected_count = result.rejected
    run.save()
    logger.info("fetch run %s: %s %s", run.pk, status, error)
    return run


def _rejections_text(result: IngestResult) -> str:
    shown = "; ".join(str(rejection) for rejection in result.rejections[:MAX_ERRORS_SHOWN])
    more = len(result.rejections) - MAX_ERRORS_SHOWN
    return f"{result.rejected} entries rejected: {shown}" + (
        f"; and {more} more" if more > 0 else ""
    )


def _status_of(result: IngestResult) -> tuple[str, str]:
    if not result.rejected:
        return FetchRun.Status.SUCCEEDED, ""
    if result.rejected == result.entries_read:
        return FetchRun.Status.FAILED, "all " + _rejections_text(result)
    return FetchRun.Status.PARTIAL, _rejections_text(result)


def _ingest_document(
    run: FetchRun, document: ParsedDocument, *, progress: Progress
) -> tuple[FetchRun, IngestResult | None]:
    """Write a parsed document and finish `run` with its counts and outcome."""
    if document.entries_read == 0:
        day = f" for {document.listed_on}" if document.listed_on else ""
        if document.kind == HF_DAILY:
            status = FetchRun.Status.NO_ANNOUNCEMENT
            error = f"Hugging Face lists no papers{day} (none on weekends)"
        else:
            status = FetchRun.Status.FAILED
            what = f"the listing{day} has no items" if document.kind == ARXIV_RSS else "no entries"
            error = f"empty feed: {what}"
        return _run_finish(run, status=status, error=error), None
    progress(f"  {document.entries_read} entries read from {run.origin}")
    result = ingest_records(
        records=document.records, kind=document.kind, rejections=document.rejections
    )
    if document.kind == ARXIV_RSS:
        _record_completeness(run, document)
    status, error = _status_of(result)
    return _run_finish(run, status=status, error=error, result=result), result


def _record_completeness(run: FetchRun, document: ParsedDocument) -> None:
    """Items the listing announced (new and cross, rejected ones included) against the
    papers now stored for them: a gap is a paper the day's digest will miss."""
    listed_ids = {r.arxiv_id for r in document.records if r.announce_type in ANNOUNCING_TYPES}
    unreadable = sum(1 for r in document.rejections if r.announce_type in ("", *ANNOUNCING_TYPES))
    run.listed_count = len(listed_ids) + unreadable
    run.stored_count = Paper.objects.filter(arxiv_id__in=listed_ids).count()


# --- one source or one file ----------------------------------------------------------------


def _parse(kind: str, content: bytes, *, on: dt.date | None) -> ParsedDocument:
    if kind == ARXIV_API:
        return arxiv_api.parse(content)
    if kind == ARXIV_RSS:
        return arxiv_rss.parse(content)
    return hf_daily.parse(content, featured_on=on)


def file_ingest(
    *,
    path: Path,
    source: Source | None = None,
    on: dt.date | None = None,
    progress: Progress = _quiet,
) -> FetchRun:
    """Ingest a saved response; its format comes from its content. `on` dates a Hugging Face
    list saved without one."""
    with _runs_fail_on_error() as runs:
        return _file_ingest(path=path, source=source, on=on, progress=progress)
    return runs[0]


def _file_ingest(
    *, path: Path, source: Source | None, on: dt.date | None, progress: Progress
) -> FetchRun:
    run = _run_begin(source=source, origin=str(path), announced_on=on)
    try:
        content = path.read_bytes()
        kind = detect_kind(content)
        if source is not None and source.kind != kind:
            raise DocumentError(
                f"{path.name} holds {Source.Kind(kind).label}, but source {source.name} reads "
                f"{source.get_kind_display()}"
            )
        run.source = source or Source.objects.filter(kind=kind).order_by("-enabled", "pk").first()
        document = _parse(kind, content, on=on)
    except (OSError, DocumentError) as error:
        return _run_finish(run, status=FetchRun.Status.FAILED, error=str(error))
    run.announced_on = document.listed_on or on
    return _ingest_document(run, document, progress=progress)[0]


def source_fetch(
    *,
    source_id: int,
    on: dt.date | None = None,
    scheduled: bool = False,
    client: PoliteClient | None = None,
    progress: Progress = _quiet,
) -> list[FetchRun]:
    """Fetch one source (its listing, its back-fill search or its daily list for `on`) and
    return the runs that left: a listing's run, then its API lookups' run.

    `scheduled` runs skip a listing already stored, so running one twice is harmless.
    Raises SourceBusy when another fetch of the same service holds the lock.
    """
    source = Source.objects.get(pk=source_id)
    with _fetch_lock(source.kind), _runs_fail_on_error() as runs:
        if source.kind == ARXIV_RSS:
            if scheduled and on and _listing_done(source, on):
                return []
            return arxiv_listing_fetch(
                source=source,
                expected_on=on,
                client=client or PoliteClient.for_arxiv(),
                accept_newer=scheduled,
                progress=progress,
            )
        if source.kind == ARXIV_API:
            search = arxiv_search_fetch(
                source=source,
                listing_day=on or schedule.latest_listing_day(timezone.now()),
                client=client or PoliteClient.for_arxiv(),
                progress=progress,
            )
            return [search]
        daily = hf_daily_fetch(
            source=source,
            on=on,
            client=client or PoliteClient.for_hugging_face(),
            progress=progress,
        )
        return [daily]
    return runs


def _listing_done(source: Source, day: dt.date) -> bool:
    """A listing dated `day` (or a later one) is stored, or `day` had none."""
    stored = Q(announced_on__gte=day, status__in=FetchRun.SUCCESSFUL_STATUSES)
    none = Q(announced_on=day, status=FetchRun.Status.NO_ANNOUNCEMENT)
    return FetchRun.objects.filter(stored | none, source=source).exists()


def arxiv_listing_fetch(
    *,
    source: Source,
    expected_on: dt.date | None,
    client: PoliteClient,
    accept_newer: bool = True,
    progress: Progress = _quiet,
) -> list[FetchRun]:
    """Read the current RSS listing of the source's categories, then look its papers up
    through the API. When the listing is older than `expected_on` the run is left waiting
    (the next tick tries again, on the same run)."""
    url = settings.ARXIV_RSS_URL.rstrip("/") + "/" + "+".join(source.categories)
    run = None
    if expected_on:
        run = FetchRun.objects.filter(
            source=source, announced_on=expected_on, status=FetchRun.Status.WAITING
        ).first()
    if run is not None:
        run.attempts += 1
        run.status = FetchRun.Status.RUNNING
        run.save(update_fields=["attempts", "status"])
        _track(run)
    else:
        run = _run_begin(source=source, origin=url, announced_on=expected_on)
    progress(f"{source.name}: reading {url}")
    try:
        if not source.categories:
            raise DocumentError(f"source {source.name} has no categories to list")
        document = arxiv_rss.parse(client.get(url))
    except (FetchError, DocumentError) as error:
        return [_run_finish(run, status=FetchRun.Status.FAILED, error=str(error))]
    listed_on = document.listed_on
    if expected_on and (listed_on is None or listed_on < expected_on):
        waiting = _run_finish(
            run,
            status=FetchRun.Status.WAITING,
            error=(
                f"the listing for {expected_on} is not out yet: the feed is still dated "
                f"{listed_on or 'nothing'} ({run.attempts} tries); the next tick tries again"
            ),
        )
        return [waiting]
    if expected_on and listed_on > expected_on and not accept_newer:
        failed = _run_finish(
            run,
            status=FetchRun.Status.FAILED,
            error=(
                f"the RSS only serves its current listing, dated {listed_on}; back-fill "
                f"{expected_on} with: fetch_papers --source <an arxiv-api source> --date "
                f"{expected_on}"
            ),
        )
        return [failed]
    run.announced_on = listed_on
    run, result = _ingest_document(run, document, progress=progress)
    if result is None:
        return [run]
    replaced = {r.arxiv_id for r in document.records if r.announce_type not in ANNOUNCING_TYPES}
    lookup = listing_metadata_lookup(
        day=listed_on,
        also=sorted(replaced.intersection(result.stored_ids)),
        client=client,
        progress=progress,
    )
    return [run, lookup] if lookup else [run]


def listing_metadata_lookup(
    *,
    day: dt.date | None,
    client: PoliteClient,
    also: Sequence[str] = (),
    batch_size: int | None = None,
    progress: Progress = _quiet,
) -> FetchRun | None:
    """Fill comment, venue and primary category of the papers announced on `day` that the
    API has not described yet (and of `also`, the day's replacements), `batch_size` ids per
    request. Papers the API's index does not hold yet wait for the next tick."""
    source = Source.objects.filter(kind=ARXIV_API, enabled=True).order_by("pk").first()
    if source is None or day is None:
        return None
    ids = sorted({*_ids_lacking_metadata(day), *also})
    if not ids:
        return None
    batch_size = batch_size or LOOKUP_BATCH_SIZE
    url = settings.ARXIV_API_URL
    run = _run_begin(
        source=source, origin=f"{url} id_list for the listing of {day}", announced_on=day
    )
    total = IngestResult()
    failure = ""
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        try:
            content = client.get(
                url, params={"id_list": ",".join(batch), "max_results": str(len(batch))}
            )
            document = arxiv_api.parse(content)
        except (FetchError, DocumentError) as error:
            failure = f"lookup stopped at id {start + 1} of {len(ids)}: {error}"
            break
        _add(
            total,
            ingest_records(
                records=document.records, kind=ARXIV_API, rejections=document.rejections
            ),
        )
        done = start + len(batch)
        progress(
            Step(
                done=done,
                total=len(ids),
                unit="ids",
                text=f"  looked up {done} of {len(ids)} ids through the API",
            )
        )
    missing = len(set(ids) - set(_ids_described(ids)))
    problems = [failure] if failure else []
    if total.rejected:
        problems.append(_rejections_text(total))
    if missing and not failure:
        problems.append(
            f"{missing} of {len(ids)} papers are not in the API's index yet; looked up again "
            "on the next tick"
        )
    if failure and not total.entries_read:
        status = FetchRun.Status.FAILED
    else:
        status = FetchRun.Status.PARTIAL if problems else FetchRun.Status.SUCCEEDED
    return _run_finish(run, status=status, error="; ".join(problems), result=total)


def _ids_lacking_metadata(day: dt.date) -> list[str]:
    rows = Paper.objects.filter(announced_on=day).order_by("arxiv_id")
    return [
        arxiv_id
        for arxiv_id, seen in rows.values_list("arxiv_id", "seen_in_sources")
        if ARXIV_API not in (seen or [])
    ]


def _ids_described(ids: Sequence[str]) -> list[str]:
    rows = Paper.objects.filter(arxiv_id__in=ids).values_list("arxiv_id", "seen_in_sources")
    return [arxiv_id for arxiv_id, seen in rows if ARXIV_API in (seen or [])]


def _add(total: IngestResult, result: IngestResult) -> None:
    total.entries_read += result.entries_read
    total.created += result.created
    total.updated += result.updated
    total.unchanged += result.unchanged
    total.skipped += result.skipped
    total.rejected += result.rejected
    total.rejections += result.rejections


def arxiv_search_fetch(
    *,
    source: Source,
    listing_day: dt.date,
    client: PoliteClient,
    page_size: int | None = None,
    progress: Progress = _quiet,
) -> FetchRun:
    """Back-fill the listing of `listing_day` by searching the API for the submissions it
    announced (by category and submission window), page by page; each page is written whole."""
    url = settings.ARXIV_API_URL
    run = _run_begin(source=source, origin=url, announced_on=listing_day)
    reason = schedule.no_listing_reason(listing_day)
    if reason:
        return _run_finish(run, status=FetchRun.Status.NO_ANNOUNCEMENT, error=reason)
    if not source.categories and not source.query:
        return _run_finish(
            run,
            status=FetchRun.Status.FAILED,
            error=f"source {source.name} has neither categories nor a query to search",
        )
    query = search_query(source=source, listing_day=listing_day)
    page_size = page_size or SEARCH_PAGE_SIZE
    run.origin = f"{url}?search_query={query}"[:500]
    progress(f"{source.name}: searching {query}")
    total = IngestResult()
    failure = ""
    start = 0
    expected: int | None = None
    while expected is None or start < expected:
        params = {
            "search_query": query,
            "start": str(start),
            "max_results": str(page_size),
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
        }
        try:
            document = arxiv_api.parse(client.get(url, params=params))
            if not document.entries_read and start:
                # The API now and then answers a page with nothing; one more try, then stop.
                document = arxiv_api.parse(client.get(url, params=params))
        except (FetchError, DocumentError) as error:
            failure = f"stopped at entry {start + 1}: {error}"
            break
        expected = document.total_results if document.total_results is not None else 0
        if not document.entries_read:
            if start:
                failure = f"the API returned an empty page at entry {start + 1} of {expected}"
            break
        _add(
            total,
            ingest_records(
                records=document.records, kind=ARXIV_API, rejections=document.rejections
            ),
        )
        start += document.entries_read
        progress(
            Step(
                done=start, total=expected, unit="entries", text=f"  {start} of {expected} entries"
            )
        )
    if failure and not total.entries_read:
        return _run_finish(run, status=FetchRun.Status.FAILED, error=failure, result=total)
    if not total.entries_read:
        return _run_finish(
            run, status=FetchRun.Status.FAILED, error="empty feed: no entries", result=total
        )
    status, error = _status_of(total)
    if failure:
        status, error = FetchRun.Status.PARTIAL, "; ".join(filter(None, [failure, error]))
    return _run_finish(run, status=status, error=error, result=total)


def search_query(*, source: Source, listing_day: dt.date) -> str:
    """The API query for the submissions announced in the listing of `listing_day`."""
    start, end = schedule.submission_window(listing_day)
    last_minute = end - dt.timedelta(minutes=1)
    parts = []
    if source.categories:
        parts.append("(" + " OR ".join(f"cat:{c}" for c in source.categories) + ")")
    parts.append(
        f"submittedDate:[{start.astimezone(dt.UTC):%Y%m%d%H%M} TO "
        f"{last_minute.astimezone(dt.UTC):%Y%m%d%H%M}]"
    )
    if source.query:
        parts.append(f"({source.query})")
    return " AND ".join(parts)


def hf_daily_fetch(
    *,
    source: Source,
    on: dt.date | None,
    client: PoliteClient,
    progress: Progress = _quiet,
) -> FetchRun:
    """Read Hugging Face's daily list for `on` (its latest list when None)."""
    url = settings.HF_DAILY_PAPERS_URL
    params = {"date": on.isoformat()} if on else None
    origin = f"{url}?date={on}" if on else url
    run = _run_begin(source=source, origin=origin, announced_on=on)
    progress(f"{source.name}: reading {origin}")
    try:
        document = hf_daily.parse(client.get(url, params=params), featured_on=on)
    except (FetchError, DocumentError) as error:
        return _run_finish(run, status=FetchRun.Status.FAILED, error=str(error))
    return _ingest_document(run, document, progress=progress)[0]


# --- what the beat ticks decide ----------------------------------------------------------


@dataclass(frozen=True)
class DueFetch:
    source_id: int
    day: dt.date
    lookup_only: bool = False


def arxiv_listings_due(*, now: dt.datetime) -> list[DueFetch]:
    """What the hourly arXiv tick should fetch now. On a day without a listing it records
    "no announcement" (once); a listing that never came before the next one was due is
    recorded the same way."""
    fetch_runs_abandoned_fail(now=now)
    today = schedule.arxiv_today(now)
    latest = schedule.latest_listing_day(now)
    due = []
    for source in Source.objects.filter(kind=ARXIV_RSS, enabled=True).order_by("pk"):
        FetchRun.objects.filter(
            source=source, status=FetchRun.Status.WAITING, announced_on__lt=latest
        ).update(
            status=FetchRun.Status.NO_ANNOUNCEMENT,
            finished_at=now,
            error="no listing with this date appeared before the next one was due",
        )
        reason = schedule.no_listing_reason(today)
        if reason and not FetchRun.objects.filter(source=source, announced_on=today).exists():
            _run_finish(
                _run_begin(source=source, origin="arXiv calendar", announced_on=today),
                status=FetchRun.Status.NO_ANNOUNCEMENT,
                error=reason,
            )
        if not _listing_done(source, latest):
            due.append(DueFetch(source_id=source.pk, day=latest))
        elif _ids_lacking_metadata(latest):
            due.append(DueFetch(source_id=source.pk, day=latest, lookup_only=True))
    return due


def hf_lists_due(*, now: dt.datetime) -> list[DueFetch]:
    """The Hugging Face lists (UTC dates) to read now: today's and yesterday's on every tick
    (upvotes move fastest), and each older list of the last HF_REFRESH_DAYS days once every
    HF_REFRESH_HOURS, since Hugging Face keeps adding papers and upvotes to them for two
    weeks. One request per list, however many papers it holds."""
    fetch_runs_abandoned_fail(now=now)
    today = now.astimezone(dt.UTC).date()
    older = [today - dt.timedelta(days=back) for back in range(settings.HF_REFRESH_DAYS - 1, 1, -1)]
    due = []
    for source_id in Source.objects.filter(kind=HF_DAILY, enabled=True).values_list(
        "pk", flat=True
    ):
        fresh = set(
            FetchRun.objects.filter(
                source_id=source_id,
                announced_on__in=older,
                status__in=(*FetchRun.SUCCESSFUL_STATUSES, FetchRun.Status.NO_ANNOUNCEMENT),
                started_at__gt=now - dt.timedelta(hours=settings.HF_REFRESH_HOURS),
            ).values_list("announced_on", flat=True)
        )
        days = [day for day in older if day not in fresh]
        days += [today - dt.timedelta(days=1), today]
        due += [DueFetch(source_id=source_id, day=day) for day in days]
    return due


def hf_lists_fetch(
    *,
    source_id: int,
    days: Sequence[dt.date],
    client: PoliteClient | None = None,
    progress: Progress = _quiet,
) -> list[FetchRun]:
    """Read one source's Hugging Face lists of `days` in turn, under one lock (a fetch of
    each list in its own task would find the lock taken by the others). Raises SourceBusy
    when another Hugging Face fetch holds it."""
    source = Source.objects.get(pk=source_id)
    client = client or PoliteClient.for_hugging_face()
    with _fetch_lock(source.kind), _runs_fail_on_error() as runs:
        for day in days:
            hf_daily_fetch(source=source, on=day, client=client, progress=progress)
    return runs


def metadata_lookup(*, day: dt.date, progress: Progress = _quiet) -> FetchRun | None:
    """The API lookups of one listing day alone (the tick's retry for a lagging index)."""
    with _fetch_lock(ARXIV_API), _runs_fail_on_error() as runs:
        return listing_metadata_lookup(day=day, client=PoliteClient.for_arxiv(), progress=progress)
    return runs[0]
