"""One-sentence LLM summaries of papers, per reader language: the chat-completions client, the
cache (PaperSummary) and the daily budget of calls (SummaryBudget)."""

from __future__ import annotations

import datetime as dt
import html
import http.client
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import strip_tags

from papers.latex import readable
from papers.models import Paper, PaperSummary, SummaryBudget
from papers.normalise import machine_summary

logger = logging.getLogger(__name__)

LANGUAGE_NAMES = {"en": "English", "zh-hans": "Simplified Chinese"}
# A chat completion holding one sentence is ~1 KB; anything past this is not one.
MAX_BODY_BYTES = 64 * 1024
MAX_ERROR = 300
ABSTRACT_CHARS = 3000
# A dead or misconfigured endpoint stops the run after this many failures in a row, rather
# than costing one timeout per paper.
MAX_FAILURES_IN_A_ROW = 3
_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^\s*(?:tl;?dr|summary|one[- ]sentence summary)\s*[:：-]\s*", re.IGNORECASE)
_EMPHASIS = re.compile(r"[*_`#]{1,3}")
_PROMPT = (
    "You write one plain-text sentence (at most 30 words) saying what a research paper does "
    "and finds, for a reader skimming a list. Answer in {language}. No markdown, no preamble, "
    "no quotes."
)


class SummaryError(Exception):
    """The endpoint gave no usable summary; the message says why, for the log and the row."""


class Unreachable(SummaryError):
    """No answer: refused, cut off or past the timeout."""


class BudgetSpent(SummaryError):
    """The day's calls are used up: the run stops, nothing else is wrong."""


def clean_summary(content: str) -> str:
    """What a model wrote as Paperboy stores it: plain text (no tags, no markdown, no "TL;DR:"
    label, no reasoning block), LaTeX made readable, one line, bounded."""
    text = _THINKING.sub(" ", content)
    text = html.unescape(strip_tags(text))
    text = _EMPHASIS.sub("", text)
    text = _LABEL.sub("", text).strip().strip("\"'“”")
    return machine_summary(readable(text))


@dataclass
class ChatClient:
    """Asks an OpenAI-compatible /chat/completions endpoint for one paper's summary.

    Each attempt has one deadline of `timeout` seconds for connecting, the answer and its
    whole body, so a server that drips bytes or never answers costs one timeout. Refused
    connections, 429 and 5xx are retried `retries` times; a timeout and a bad answer are not.
    """

    base_url: str = field(default_factory=lambda: settings.SUMMARY_API_URL)
    model: str = field(default_factory=lambda: settings.SUMMARY_MODEL)
    api_key: str = field(default_factory=lambda: settings.SUMMARY_API_KEY)
    timeout: float = field(default_factory=lambda: settings.SUMMARY_TIMEOUT)
    retries: int = field(default_factory=lambda: settings.SUMMARY_RETRIES)
    backoff: float = 1.0

    def summarise(
        self, *, title: str, abstract: str, language: str, spend: Callable[[], bool]
    ) -> str:
        """The summary; SummaryError when none came. `spend` is asked before every attempt
        and stops the attempts (BudgetSpent) when it says no."""
        body = json.dumps(
            {
                "model": self.model,
                "messages": [
                    {
                        "role": "system",
                        "content": _PROMPT.format(language=LANGUAGE_NAMES.get(language, "English")),
                    },
                    {
                        "role": "user",
                        "content": f"Title: {title}\n\nAbstract: {abstract[:ABSTRACT_CHARS]}",
                    },
                ],
                "max_tokens": 120,
                "temperature": 0.2,
                "stream": False,
            }
        ).encode()
        for attempt in range(self.retries + 1):
            if not spend():
                raise BudgetSpent("the day's budget of summary calls is spent")
            try:
                status, answer = self._post(body)
            except TimeoutError:
                raise Unreachable(f"no answer within {self.timeout:g} s") from None
            except (OSError, http.client.HTTPException) as error:
                problem: SummaryError = Unreachable(
                    f"connection failed or broke off ({error.__class__.__name__})"
                )
            else:
                if status == 200:
                    return _summary_from(answer)
                problem = SummaryError(f"HTTP {status}")
                if status != 429 and status < 500:
                    raise problem
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        raise problem

    def _post(self, body: bytes) -> tuple[int, bytes]:
        parts = urlsplit(f"{self.base_url}/chat/completions")
        deadline = time.monotonic() + self.timeout
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "",
                parts.port,
                timeout=self.timeout,
                context=ssl.create_default_context(),
            )
        else:
            connection = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=self.timeout
            )
        headers = {"Content-Type": "application/json", "User-Agent": settings.HTTP_USER_AGENT}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        alarm: threading.Timer | None = None
        try:
            connection.connect()
            # The hard stop: whatever the server does, its socket is shut at the deadline.
            alarm = threading.Timer(max(deadline - time.monotonic(), 0), _shut, [connection.sock])
            alarm.daemon = True
            alarm.start()
            connection.request("POST", parts.path or "/", body=body, headers=headers)
            response = connection.getresponse()
            answer = bytearray()
            while chunk := response.read1(16 * 1024):
                answer += chunk
                if len(answer) > MAX_BODY_BYTES:
                    return response.status, b""  # too long to be one sentence: refused below
                if time.monotonic() > deadline:
                    raise TimeoutError
            if time.monotonic() > deadline:
                raise TimeoutError
            return response.status, bytes(answer)
        except (OSError, http.client.HTTPException):
            if time.monotonic() >= deadline:
                raise TimeoutError from None
            raise
        finally:
            if alarm is not None:
                alarm.cancel()
            connection.close()


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _summary_from(answer: bytes) -> str:
    if not answer:
        raise SummaryError(f"an answer over {MAX_BODY_BYTES:,} bytes")
    try:
        content = json.loads(answer)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        start = " ".join(answer[:60].decode("utf-8", "replace").split())
        raise SummaryError(f"not a chat completion: {start!r}") from None
    if not isinstance(content, str):
        raise SummaryError("not a chat completion: the content is not text")
    text = clean_summary(content)
    if not text:
        raise SummaryError("an empty summary")
    return text


# --- The cache and the budget ---------------------------------------------------------------


def _spend_call(*, day: dt.date) -> bool:
    """Take one call from `day`'s budget; False when it is spent (safe across workers)."""
    SummaryBudget.objects.get_or_create(day=day)
    taken = SummaryBudget.objects.filter(day=day, calls__lt=settings.SUMMARY_DAILY_CALLS).update(
        calls=F("calls") + 1
    )
    return taken == 1


def calls_made(*, day: dt.date) -> int:
    budget = SummaryBudget.objects.filter(day=day).first()
    return budget.calls if budget else 0


def _claim(*, paper_id: int, language: str, day: dt.date) -> bool:
    """Make this run the one that tries (paper, language) today; False if another run has,
    or a summary exists."""
    try:
        with transaction.atomic():
            PaperSummary.objects.create(paper_id=paper_id, language=language, attempted_on=day)
        return True
    except IntegrityError:
        return bool(
            PaperSummary.objects.filter(
                paper_id=paper_id, language=language, text="", attempted_on__lt=day
            ).update(attempted_on=day)
        )


@dataclass
class SummaryReport:
    made: int = 0
    failed: int = 0
    skipped: int = 0
    stopped: str = ""

    def summary(self) -> str:
        line = f"{self.made} summaries made, {self.failed} failed, {self.skipped} skipped"
        return f"{line}; stopped: {self.stopped}" if self.stopped else line


def summaries_make(
    *,
    wanted: Iterable[tuple[int, str]],
    client: ChatClient | None = None,
    today: dt.date | None = None,
) -> SummaryReport:
    """Summaries for the (paper id, language) pairs readers are about to get, within the
    day's budget. Twice is safe: a pair with a summary, or tried today, is skipped."""
    report = SummaryReport()
    if not settings.SUMMARY_API_URL:
        return report
    client = client or ChatClient()
    today = today or timezone.now().date()
    pairs = sorted({(pid, lang) for pid, lang in wanted if lang in LANGUAGE_NAMES})
    done = set(
        PaperSummary.objects.filter(paper_id__in={pid for pid, _ in pairs})
        .exclude(text="", attempted_on__lt=today)
        .values_list("paper_id", "language")
    )
    papers = Paper.objects.filter(pk__in={pid for pid, _ in pairs}).only(
        "arxiv_id", "title", "abstract"
    )
    by_id = {paper.pk: paper for paper in papers}
    failures_in_a_row = 0
    for paper_id, language in pairs:
        paper = by_id.get(paper_id)
        if paper is None or (paper_id, language) in done:
            report.skipped += 1
            continue
        if not _claim(paper_id=paper_id, language=language, day=today):
            report.skipped += 1
            continue
        try:
            text = client.summarise(
                title=paper.title,
                abstract=paper.abstract,
                language=language,
                spend=lambda: _spend_call(day=today),
            )
        except BudgetSpent as error:
            # Not tried after all: tomorrow's run may try it.
            PaperSummary.objects.filter(paper_id=paper_id, language=language, text="").delete()
            report.stopped = str(error)
            break
        except SummaryError as error:
            logger.warning("no summary of %s [%s]: %s", paper.arxiv_id, language, error)
            PaperSummary.objects.filter(paper_id=paper_id, language=language).update(
                error=str(error)[:MAX_ERROR], updated_at=timezone.now()
            )
            report.failed += 1
            failures_in_a_row += 1
            if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                report.stopped = f"{failures_in_a_row} failures in a row, last: {error}"
                break
            continue
        failures_in_a_row = 0
        # updated_at by hand (update() skips auto_now): kept cards are read again by it
        PaperSummary.objects.filter(paper_id=paper_id, language=language).update(
            text=text, model=client.model[:200], error="", updated_at=timezone.now()
        )
        report.made += 1
    if report.stopped:
        logger.warning("summaries stopped early: %s", report.stopped)
    return report


def summaries_by_paper(*, paper_ids: Iterable[int]) -> dict[int, tuple[tuple[str, str], ...]]:
    """Each paper's stored summaries as ((language, text), ...): one query."""
    found: dict[int, list[tuple[str, str]]] = {}
    rows = (
        PaperSummary.objects.filter(paper_id__in=list(paper_ids))
        .exclude(text="")
        .order_by("language")
        .values_list("paper_id", "language", "text")
    )
    for paper_id, language, text in rows:
        found.setdefault(paper_id, []).append((language, text))
    return {paper_id: tuple(pairs) for paper_id, pairs in found.items()}


def summary_in(summaries: Sequence[tuple[str, str]], language: str) -> str:
    return next((text for lang, text in summaries if lang == language), "")
