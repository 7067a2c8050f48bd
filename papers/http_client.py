"""The one way Paperboy reads a source over HTTP: spaced, retried and identified.

Requests to one host are spaced `min_interval` seconds apart across the threads of a process
(arXiv asks for one every 3 seconds; fetches of arXiv never overlap across processes because
each holds the source's fetch lock). Timeouts, connection errors, HTTP 429 and 5xx are retried
with exponential back-off; any other error status fails at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 120.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class FetchError(Exception):
    """A source could not be read; the message says what happened, for the FetchRun."""


class _HostSpacing:
    """Hands out request slots per host, at least `interval` seconds apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}

    def wait(self, host: str, interval: float) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            self._next_slot[host] = slot + interval
        if slot > now:
            time.sleep(slot - now)

    def forget(self) -> None:
        with self._lock:
            self._next_slot.clear()


host_spacing = _HostSpacing()


@dataclass
class PoliteClient:
    """GETs bytes from a source; build it with `for_arxiv()` or `for_hugging_face()`."""

    min_interval: float = 0.0
    timeout: float = field(default_factory=lambda: settings.HTTP_TIMEOUT)
    retries: int = field(default_factory=lambda: settings.HTTP_RETRIES)
    backoff: float = field(default_factory=lambda: settings.HTTP_RETRY_BACKOFF)
    user_agent: str = field(default_factory=lambda: settings.HTTP_USER_AGENT)
    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def for_arxiv(cls) -> PoliteClient:
        return cls(min_interval=settings.ARXIV_REQUEST_INTERVAL)

    @classmethod
    def for_hugging_face(cls) -> PoliteClient:
        # A couple of requests per tick; Hugging Face asks for no spacing at that rate.
        return cls()

    def get(self, url: str, *, params: dict[str, str] | None = None) -> bytes:
        """The response body, or FetchError once the retries are spent."""
        split = urlsplit(url)
        host = f"{split.hostname}:{split.port or split.scheme}"
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip"}
        problem = ""
        for attempt in range(self.retries + 1):
            host_spacing.wait(host, self.min_interval)
            retry_after = 0.0
            try:
                response = self.session.get(
                    url, params=params, headers=headers, timeout=self.timeout, stream=True
                )
                with response:
                    if response.status_code == 200:
                        return _read_capped(response)
                    problem = f"HTTP {response.status_code} {response.reason or ''}".strip()
                    if response.status_code != 429 and response.status_code < 500:
                        raise FetchError(f"{problem} from {response.url}")
                    retry_after = _retry_after(response.headers.get("Retry-After"))
            except requests.Timeout:
                problem = f"no answer within {self.timeout:g} s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
                problem = f"connection failed or broke off ({error.__class__.__name__})"
            except requests.RequestException as error:
                raise FetchError(f"request to {url} failed: {error}") from None
            if attempt < self.retries:
                delay = max(self.backoff * 2**attempt, retry_after)
                logger.warning(
                    "%s from %s; retry %d of %d in %.1f s",
                    problem,
                    split.netloc,
                    attempt + 1,
                    self.retries,
                    delay,
                )
                time.sleep(delay)
        raise FetchError(f"{problem} from {url} after {self.retries + 1} attempts")


def _read_capped(response: requests.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(chunk_size=256 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise FetchError(f"response from {response.url} is over {MAX_RESPONSE_BYTES} bytes")
    return bytes(body)


def _retry_after(value: str | None) -> float:
    """Seconds a Retry-After header asks for (either form), capped; 0 when absent."""
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return 0.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
