"""The TL;DR line: a machine summary opens the card (marked as one) in the email's two parts,
the web pages and the feeds, escaped everywhere; in the reader's language when the LLM made
one; asked for only for papers in the day's digests, after their send."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest
from django.core import mail

from newsletter import tasks, tldrs
from newsletter.celery import app as celery_app
from newsletter.digests.building import digests_build
from newsletter.digests.delivery import digests_send
from newsletter.models import Digest
from newsletter.signing import Purpose, make_token
from papers.models import PaperSummary
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory
from tests.papers.conftest import RecordedServer, completion

pytestmark = pytest.mark.django_db

TUESDAY = dt.date(2025, 3, 25)
MARK = "TL;DR (machine summary):"
MARK_ZH = "TL;DR（机器摘要）："


def send_to(reader) -> tuple[str, str]:
    built = digests_build(subscriber_ids=[reader.pk], edition_on=TUESDAY)
    digests_send(digest_ids=built.digest_ids, token="t")
    message = mail.outbox[-1]
    return message.alternatives[0][0], message.body


def diffusion_reader(**fields):
    return SubscriberFactory(topics=[TopicFactory(query="diffusion")], **fields)


def test_the_card_opens_with_hugging_faces_summary_marked_as_a_machine_summary():
    PaperFactory(
        title="Diffusion one",
        abstract="We study diffusion at length.",
        ai_summary="It makes diffusion faster.",
        announced_on=TUESDAY,
    )

    html, text = send_to(diffusion_reader())

    assert f"{MARK}</span> It makes diffusion faster." in html
    assert html.index("It makes diffusion faster.") < html.index(">Diffusion one</a>")
    assert f"{MARK} It makes diffusion faster.\nDiffusion one\n" in text
    assert "We study diffusion at length." in text


def test_markup_in_a_summary_is_escaped_in_the_html_and_plain_in_the_text():
    PaperFactory(
        title="Diffusion two",
        ai_summary="<script>alert(1)</script> & <b>bold</b>",
        announced_on=TUESDAY,
    )

    html, text = send_to(diffusion_reader())

    assert "<script>alert(1)" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert f"{MARK} <script>alert(1)</script> & <b>bold</b>\n" in text


def test_a_card_without_any_summary_has_no_tldr_line_and_keeps_its_snippet():
    PaperFactory(title="Diffusion three", abstract="Plain abstract.", announced_on=TUESDAY)

    html, text = send_to(diffusion_reader())

    assert "TL;DR" not in html and "TL;DR" not in text
    assert "Plain abstract." in html and "Plain abstract." in text


def test_each_reader_gets_the_summary_in_their_language():
    paper = PaperFactory(
        title="Diffusion four", ai_summary="Hugging Face's line.", announced_on=TUESDAY
    )
    PaperSummary.objects.create(
        paper=paper, language="zh-hans", text="扩散模型的一句话。", attempted_on=TUESDAY
    )
    topic = TopicFactory(query="diffusion")

    zh_html, zh_text = send_to(SubscriberFactory(topics=[topic], language="zh-hans"))
    en_html, en_text = send_to(SubscriberFactory(topics=[topic], language="en"))

    assert f"{MARK_ZH} 扩散模型的一句话。\n" in zh_text
    assert "Hugging Face" not in zh_text
    assert f"{MARK} Hugging Face's line.\n" in en_text
    assert "扩散模型" not in en_text and "扩散模型" not in en_html


def test_a_failed_attempt_leaves_the_card_as_it_was():
    paper = PaperFactory(title="Diffusion five", abstract="Snippet stays.", announced_on=TUESDAY)
    PaperSummary.objects.create(
        paper=paper, language="en", text="", error="HTTP 500", attempted_on=TUESDAY
    )

    html, text = send_to(diffusion_reader())

    assert "TL;DR" not in text
    assert "Snippet stays." in text


def test_the_view_in_browser_page_shows_the_readers_summary_escaped(client):
    paper = PaperFactory(title="Diffusion six", ai_summary="English <i>line</i>.")
    PaperSummary.objects.create(
        paper=paper, language="zh-hans", text="中文 <b>一句</b>。", attempted_on=TUESDAY
    )
    reader = diffusion_reader(language="zh-hans")
    built = digests_build(subscriber_ids=[reader.pk], edition_on=paper.announced_on)
    digest = Digest.objects.get(pk=built.digest_ids[0])
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=reader.email)

    page = client.get(f"/digest/{token}/").content.decode()

    assert "中文 &lt;b&gt;一句&lt;/b&gt;。" in page
    # The English summary, in neither form ("English" alone is the language switch's label).
    assert "English &lt;i&gt;line" not in page and "English <i>line" not in page


def test_the_public_pages_and_feeds_show_hugging_faces_summary_escaped(client):
    TopicFactory(name="Score models", slug="score-models", query="diffusion")
    paper = PaperFactory(title="Diffusion seven", ai_summary="Scores <b>fast</b> & well.")

    day_page = client.get(f"/papers/{paper.announced_on}/").content.decode()
    topic_page = client.get("/topics/score-models/").content.decode()
    feeds = [
        feedparser.parse(client.get(f"/topics/score-models/{kind}/").content).entries[0]
        for kind in ("rss", "atom")
    ]

    for page in (day_page, topic_page):
        assert f"{MARK}</span> Scores &lt;b&gt;fast&lt;/b&gt; &amp; well." in page
    for entry in feeds:
        assert f"<strong>{MARK}</strong> Scores &lt;b&gt;fast&lt;/b&gt; &amp; well." in (
            entry.summary
        )


# --- Which summaries are asked for, and when ----------------------------------------------


def test_summaries_are_wanted_for_the_digests_papers_in_their_readers_languages():
    topic = TopicFactory(query="diffusion")
    plain = PaperFactory(title="Diffusion plain", announced_on=TUESDAY)
    with_hf = PaperFactory(title="Diffusion hf", ai_summary="HF's.", announced_on=TUESDAY)
    PaperFactory(title="Unrelated robots", announced_on=TUESDAY)
    hidden = PaperFactory(title="Diffusion hidden", announced_on=TUESDAY)
    readers = [
        SubscriberFactory(topics=[topic], language="en"),
        SubscriberFactory(topics=[topic], language="zh-hans"),
    ]
    built = digests_build(subscriber_ids=[r.pk for r in readers], edition_on=TUESDAY)
    hidden.is_hidden = True
    hidden.save()

    wanted = tldrs.wanted_summaries(digest_ids=built.digest_ids)

    assert wanted == sorted([(plain.pk, "en"), (plain.pk, "zh-hans"), (with_hf.pk, "zh-hans")])


def test_summaries_are_asked_for_after_the_send_and_only_with_an_endpoint(
    settings, django_capture_on_commit_callbacks
):
    settings.SUMMARY_API_URL = "http://127.0.0.1:9/v1"
    PaperFactory(title="Diffusion eight", announced_on=TUESDAY)
    reader = diffusion_reader()

    with django_capture_on_commit_callbacks() as callbacks:
        tasks.build_and_send_digests(subscriber_ids=[reader.pk], edition_on=TUESDAY.isoformat())

    assert len(mail.outbox) == 1
    assert "TL;DR" not in mail.outbox[0].body
    asked = [c for c in callbacks if getattr(c, "func", None).__name__ == "delay"]
    assert [c.func.__self__.name for c in asked] == ["newsletter.tasks.make_digest_summaries"]
    assert asked[0].keywords == {"digest_ids": [Digest.objects.get().pk]}
    # Its own queue: a worker that sends never takes it.
    route = celery_app.amqp.router.route({}, "newsletter.tasks.make_digest_summaries")
    assert route["queue"].name == "summaries"


def test_no_summaries_are_asked_for_without_an_endpoint(
    settings, django_capture_on_commit_callbacks
):
    settings.SUMMARY_API_URL = ""
    PaperFactory(title="Diffusion nine", announced_on=TUESDAY)
    reader = diffusion_reader()

    with django_capture_on_commit_callbacks() as callbacks:
        tasks.build_and_send_digests(subscriber_ids=[reader.pk], edition_on=TUESDAY.isoformat())

    assert len(mail.outbox) == 1
    assert not [c for c in callbacks if "make_digest_summaries" in repr(c)]


def test_the_task_makes_the_summary_that_later_emails_show(settings):
    paper = PaperFactory(title="Diffusion ten", abstract="Long text.", announced_on=TUESDAY)
    topic = TopicFactory(query="diffusion")
    early = SubscriberFactory(topics=[topic], language="zh-hans")
    with RecordedServer() as server:
        server.reply("/v1/chat/completions", completion("用扩散模型生成视频。"))
        settings.SUMMARY_API_URL = f"{server.url}/v1"
        settings.SUMMARY_TIMEOUT = 2.0
        _html, early_text = send_to(early)

        outcome = tasks.make_digest_summaries(digest_ids=[Digest.objects.get().pk])
        late_html, late_text = send_to(SubscriberFactory(topics=[topic], language="zh-hans"))

    assert "TL;DR" not in early_text
    assert outcome == "1 summaries made, 0 failed, 0 skipped"
    assert len(server.seen("/v1/chat/completions")) == 1
    assert f"{MARK_ZH} 用扩散模型生成视频。\n" in late_text
    assert PaperSummary.objects.get(paper=paper).language == "zh-hans"
