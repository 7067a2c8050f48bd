"""Only http and https links are stored, and every place a paper's link becomes an href
checks again: a `javascript:`, `data:` or `vbscript:` link (any letter case) from a feed, or
already in the table, never reaches a page, a feed or an email."""

from __future__ import annotations

import datetime as dt
import json
import re

import feedparser
import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from newsletter.digests.building import digests_build
from newsletter.digests.delivery import digests_send
from newsletter.models import Digest
from newsletter.signing import Purpose, make_token
from papers.ingest import ingest_records
from papers.models import Paper
from papers.sources import hf_daily
from tests.clock import TODAY
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

DANGEROUS = [
    "javascript:alert(document.cookie)//github.com/x/y",
    "javascript://github.com/%0Aalert(document.cookie)",  # a host, and still a script
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "VBScript:MsgBox(1)",
    "file:///etc/passwd",
    "//evil.example.org/x",
    "https://",
    "https://exa mple.org/",
    "http://[oops/",
]
SAFE = ["https://github.com/x/y", "http://example.org/project", "HTTPS://Example.org/A"]


@pytest.mark.parametrize("url", DANGEROUS)
def test_only_absolute_http_links_pass(url):
    from papers.normalise import http_link

    assert http_link(url) == ""


@pytest.mark.parametrize("url", SAFE)
def test_http_and_https_links_pass_unchanged(url):
    from papers.normalise import http_link

    assert http_link(url) == url


def hf_list(code: str, project: str) -> bytes:
    paper = {
        "id": "2502.07701",
        "title": "Magic 1-For-1",
        "summary": "We generate video.",
        "githubRepo": code,
        "projectPage": project,
        "publishedAt": "2025-02-11T17:55:33.000Z",
    }
    return json.dumps([{"paper": paper, "title": paper["title"]}]).encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "project"),
    [
        ("javascript:alert(document.cookie)//github.com/x/y", "data:text/html,<b>x</b>"),
        ("JAVASCRIPT:alert(1)", "VbScript:MsgBox(1)"),
    ],
)
def test_a_dangerous_link_from_a_feed_is_not_stored(code, project):
    document = hf_daily.parse(hf_list(code, project), featured_on=dt.date(2025, 2, 14))

    ingest_records(records=document.records, kind=document.kind)

    paper = Paper.objects.get(arxiv_id="2502.07701")
    assert (paper.code_url, paper.project_url) == ("", "")


@pytest.mark.django_db
def test_a_dangerous_link_never_replaces_a_good_one():
    PaperFactory(arxiv_id="2502.07701", code_url="https://github.com/magic/141")
    document = hf_daily.parse(hf_list("javascript:alert(1)", ""))

    ingest_records(records=document.records, kind=document.kind)

    assert Paper.objects.get(arxiv_id="2502.07701").code_url == "https://github.com/magic/141"


def stored_with_dangerous_links(**fields) -> Paper:
    """A paper whose links got into the table before they were checked (or by hand)."""
    paper = PaperFactory(title="Diffusion with poisoned links", **fields)
    Paper.objects.filter(pk=paper.pk).update(
        code_url="JavaScript://github.com/%0Aalert(document.cookie)",
        project_url="data:text/html,<script>alert(1)</script>",
    )
    return paper


def hrefs(html: str) -> list[str]:
    return re.findall(r"""href\s*=\s*["']?([^"'\s>]*)""", html, flags=re.I)


def assert_no_dangerous_href(html: str) -> None:
    found = hrefs(html)
    assert found, "the page has no links at all"
    for href in found:
        assert re.match(r"(https?:|/|\?|#|mailto:)", href, flags=re.I), href
    assert "javascript:" not in html.lower()
    assert "data:text" not in html.lower()


@pytest.mark.django_db
def test_no_public_page_or_feed_links_a_dangerous_url(client):
    TopicFactory(slug="diffusion", query="diffusion")
    stored_with_dangerous_links(arxiv_id="2503.00500")

    for path in ["/papers/", f"/papers/{TODAY}/", "/topics/diffusion/"]:
        page = client.get(path).content.decode()
        assert "2503.00500" in page, path
        assert_no_dangerous_href(page)
    for kind in ["rss", "atom"]:
        feed = feedparser.parse(client.get(f"/topics/diffusion/{kind}/").content)
        [entry] = feed.entries
        assert_no_dangerous_href(entry.summary + '<a href="https://arxiv.org/">')


@pytest.mark.django_db
def test_no_digest_email_or_digest_page_links_a_dangerous_url(client):
    day = dt.date(2025, 3, 25)
    stored_with_dangerous_links(arxiv_id="2503.00501", announced_on=day)
    PaperFactory(title="Diffusion more", announced_on=day)
    reader = SubscriberFactory(topics=[TopicFactory(query="diffusion")], max_papers=1)
    built = digests_build(subscriber_ids=[reader.pk], edition_on=day)

    digests_send(digest_ids=built.digest_ids, token="t")

    [message] = mail.outbox
    assert_no_dangerous_href(message.alternatives[0][0])
    assert "javascript:" not in message.body.lower()
    digest = Digest.objects.get(subscriber=reader)
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=reader.email)
    for path in [f"/digest/{token}/", f"/digest/{token}/more/"]:
        page = client.get(path).content.decode()
        assert 'class="digest-entry"' in page, path
        assert_no_dangerous_href(page)


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_clears_dangerous_links_already_stored(back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate([("papers", "0003_fetch_run_completeness")])
    old = executor.loader.project_state([("papers", "0003_fetch_run_completeness")]).apps
    paper_model = old.get_model("papers", "Paper")
    paper_model.objects.create(
        arxiv_id="2503.00001",
        title="Bad",
        code_url="javascript:alert(1)",
        project_url="DATA:text/html,x",
    )
    paper_model.objects.create(
        arxiv_id="2503.00002",
        title="Good",
        code_url="https://github.com/x/y",
        project_url="http://example.org/",
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    links = dict(
        (arxiv_id, (code, project))
        for arxiv_id, code, project in Paper.objects.values_list(
            "arxiv_id", "code_url", "project_url"
        )
    )
    assert links == {
        "2503.00001": ("", ""),
        "2503.00002": ("https://github.com/x/y", "http://example.org/"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.org/x", "DATA:text/html,x"])
def test_an_editor_cannot_save_a_link_that_is_not_http(url):
    paper = PaperFactory()
    paper.code_url = url

    with pytest.raises(ValidationError) as refused:
        paper.full_clean()

    assert set(refused.value.message_dict) == {"code_url"}
