"""Fixtures for ingestion tests: recorded responses and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from papers.http_client import host_spacing

DATA = Path(__file__).resolve().parent.parent / "data"


def recorded(name: str) -> bytes:
    """A recorded response from tests/data/."""
    return (DATA / name).read_bytes()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Send only this many bytes of the body (Content-Length still announces all of it).
    cut_after: int | None = None
    # Never answer while the client waits (until the server stops): a timeout for sure,
    # however slow a loaded machine makes everything else.
    hang: bool = False
    # Send the body one byte every this many seconds: a server that answers, very slowly.
    drip: float = 0.0


def completion(text: str) -> Reply:
    """What an OpenAI-compatible chat-completions endpoint answers with `text`."""
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


@dataclass
class SeenRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    body: bytes = b""


class RecordedServer:
    """Answers each path with queued replies (the last one repeats) or a function of the
    query string, and remembers every request it saw and when."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Reply] | Callable[[dict[str, str]], Reply]] = {}
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                split = urlsplit(self.path)
                query = {key: values[-1] for key, values in parse_qs(split.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = server._next_reply(split.path, query, dict(self.headers), body)
                if reply.hang:
                    server._stopping.wait(60)
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.drip:
                        for byte in reply.body[: reply.cut_after]:
                            if server._stopping.wait(reply.drip):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                    else:
                        self.wfile.write(reply.body[: reply.cut_after])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as the timeout tests intend

            do_POST = do_GET  # noqa: N815 - the summary endpoint is POSTed to

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, path: str, *replies: Reply) -> None:
        self._routes[path] = list(replies)

    def route(self, path: str, answer: Callable[[dict[str, str]], Reply]) -> None:
        self._routes[path] = answer

    def seen(self, path: str) -> list[SeenRequest]:
        return [request for request in self.requests if request.path == path]

    def _next_reply(
        self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes = b""
    ) -> Reply:
        with self._lock:
            self.requests.append(SeenRequest(path, query, headers, time.monotonic(), body))
            route = self._routes.get(path)
            if route is None:
                return Reply(404, b"not found")
            if callable(route):
                return route(query)
            return route.pop(0) if len(route) > 1 else route[0]

    def __enter__(self) -> RecordedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server() -> Iterator[RecordedServer]:
    with RecordedServer() as running:
        yield running


@pytest.fixture(autouse=True)
def fast_http(settings):
    """Retries and spacing shrunk to milliseconds; tests that measure them set their own."""
    settings.ARXIV_REQUEST_INTERVAL = 0.0
    settings.HTTP_RETRIES = 2
    settings.HTTP_RETRY_BACKOFF = 0.01
    settings.HTTP_TIMEOUT = 2.0
    settings.ARXIV_HOLIDAYS = []
    host_spacing.forget()
    yield settings
    host_spacing.forget()


@pytest.fixture
def sources_at(settings, server: RecordedServer) -> RecordedServer:
    """The three sources' URLs pointed at the local server."""
    settings.ARXIV_API_URL = f"{server.url}/api/query"
    settings.ARXIV_RSS_URL = f"{server.url}/rss/"
    settings.HF_DAILY_PAPERS_URL = f"{server.url}/api/daily_papers"
    return server
