"""The polite client against a real HTTP server: retries, timeouts, spacing, identification."""

from __future__ import annotations

import itertools

import pytest

from papers.http_client import FetchError, PoliteClient
from tests.papers.conftest import Reply


def test_a_503_is_retried_and_the_next_answer_is_returned(server):
    server.reply("/feed", Reply(503, b"busy"), Reply(200, b"<feed/>"))

    body = PoliteClient(backoff=0.05).get(f"{server.url}/feed")

    assert body == b"<feed/>"
    first, second = server.seen("/feed")
    assert second.at - first.at >= 0.05


def test_a_timeout_is_retried(server):
    server.reply("/slow", Reply(200, b"never", hang=True), Reply(200, b"on time"))

    # A second for a local answer: ample on a loaded machine, and the hang never answers.
    body = PoliteClient(timeout=1.0, backoff=0.01).get(f"{server.url}/slow")

    assert body == b"on time"
    assert len(server.seen("/slow")) == 2


def test_retries_back_off_exponentially_and_then_give_up_with_a_clear_error(server):
    server.reply("/down", Reply(503, b"busy"))

    with pytest.raises(FetchError) as failure:
        PoliteClient(retries=2, backoff=0.05).get(f"{server.url}/down")

    assert str(failure.value) == (
        f"HTTP 503 Service Unavailable from {server.url}/down after 3 attempts"
    )
    first, second, third = server.seen("/down")
    assert second.at - first.at >= 0.05
    assert third.at - second.at >= 0.10


def test_retry_after_is_honoured_when_longer_than_the_back_off(server):
    server.reply("/limited", Reply(429, b"", headers={"Retry-After": "1"}), Reply(200, b"ok"))

    assert PoliteClient(backoff=0.01).get(f"{server.url}/limited") == b"ok"

    first, second = server.seen("/limited")
    assert second.at - first.at >= 1.0


def test_a_client_error_is_not_retried(server):
    server.reply("/missing", Reply(404, b"no such page"))

    with pytest.raises(
        FetchError, match=r"^HTTP 404 Not Found from http://127\.0\.0\.1:\d+/missing$"
    ):
        PoliteClient().get(f"{server.url}/missing")

    assert len(server.seen("/missing")) == 1


def test_a_refused_connection_is_a_fetch_error_after_the_retries():
    with pytest.raises(FetchError, match=r"connection failed .* after 2 attempts$"):
        PoliteClient(retries=1, backoff=0.01).get("http://127.0.0.1:1/nothing")


def test_requests_say_who_we_are(server, settings):
    settings.HTTP_USER_AGENT = "Paperboy/test (+https://papers.example.org)"
    server.reply("/feed", Reply(200, b"ok"))

    PoliteClient().get(f"{server.url}/feed", params={"id_list": "2502.09411"})

    (request,) = server.seen("/feed")
    assert request.headers["User-Agent"] == "Paperboy/test (+https://papers.example.org)"
    assert request.query == {"id_list": "2502.09411"}


def test_requests_to_arxiv_are_spaced_by_the_configured_interval(server, settings):
    settings.ARXIV_REQUEST_INTERVAL = 0.5
    server.reply("/api", Reply(200, b"ok"))

    # Two clients, as two fetches in one process would have: the spacing is per host.
    for client in (PoliteClient.for_arxiv(), PoliteClient.for_arxiv()):
        client.get(f"{server.url}/api")
        client.get(f"{server.url}/api")

    times = [request.at for request in server.seen("/api")]
    assert len(times) == 4
    # Spaced at the client; an arrival can lag its slot on a loaded machine (0.2 s allowed
    # for), and unspaced they would be ~1 ms apart.
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(times))


def test_arxiv_clients_take_their_spacing_from_the_settings(settings):
    settings.ARXIV_REQUEST_INTERVAL = 3.0

    assert PoliteClient.for_arxiv().min_interval == 3.0
