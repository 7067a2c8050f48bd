"""The digest email and its web pages: subject, header, cards, escaping, a text part with the
same words, Gmail's clipping limit, view in browser, the "more" page, and send_digests."""

from __future__ import annotations

import datetime as dt
import io
import re
from email import message_from_bytes, policy
from html.parser import HTMLParser

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from newsletter.digests.building import digests_build
from newsletter.digests.delivery import digests_send
from newsletter.models import Digest, DigestItem, Subscriber
from newsletter.recommend import neighbours
from newsletter.signing import Purpose, make_token
from papers.models import Paper
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

TUESDAY = dt.date(2025, 3, 25)


class _Text(HTMLParser):
    """The words a reader sees in the HTML part (not the hidden preheader, style or head)."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        hidden = tag == "div" and "display:none" in (dict(attrs).get("style") or "")
        if tag in ("style", "head", "title") or hidden:
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "head", "title") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.words += re.findall(r"\w+", data)


def words_of_html(html: str) -> set[str]:
    parser = _Text()
    parser.feed(re.sub(r'<div style="display:none[^>]*>.*?</div>', "", html, flags=re.S))
    return set(parser.words)


def words_of_text(text: str) -> set[str]:
    return set(re.findall(r"\w+", re.sub(r"https?://\S+", "", text)))


def sent_digest(**reader_fields):
    diffusion = TopicFactory(name="Generative diffusion", query="diffusion")
    video = TopicFactory(name="Video", query="video")
    robots = TopicFactory(name="Robots", query="robot")
    PaperFactory(
        title="Diffusion one",
        hf_upvotes=12,
        code_url="https://github.com/x/y",
        announced_on=TUESDAY,
    )
    PaperFactory(
        title="Diffusion video two", comment="CVPR 2025", is_featured=True, announced_on=TUESDAY
    )
    PaperFactory(title="Robot diffusion three", editor_note="Worth a read.", announced_on=TUESDAY)
    PaperFactory(title="Video four", authors=["A B", "C D", "E F", "G H"], announced_on=TUESDAY)
    reader = SubscriberFactory(topics=[diffusion, video, robots], **reader_fields)
    built = digests_build(subscriber_ids=[reader.pk], edition_on=TUESDAY)
    digests_send(digest_ids=built.digest_ids, token="t")
    return Digest.objects.get(subscriber=reader), mail.outbox[-1]


def test_the_subject_says_what_is_inside():
    digest, message = sent_digest()

    assert message.subject == "4 new papers on Generative diffusion and 2 more topics — Tue 25 Mar"
    assert digest.subject == message.subject


def test_the_html_title_is_the_subject_and_the_header_has_date_and_counts():
    _digest, message = sent_digest(max_papers=3)
    html = message.alternatives[0][0]

    assert f"<title>{message.subject}</title>" in html
    assert "Tuesday 25 March 2025 · 3 papers · 1 more on the web" in html
    assert "Tuesday 25 March 2025 · 3 papers · 1 more on the web" in message.body
    assert "And 1 more matching paper" in html


def test_the_subject_names_authors_and_filters_as_what_they_are():
    PaperFactory(title="Diffusion by Wang", authors=["Wang Hao"], announced_on=TUESDAY)
    PaperFactory(title="Video by Wang", authors=["Wang Hao"], announced_on=TUESDAY)
    PaperFactory(title="Video by someone else", announced_on=TUESDAY)
    reader = SubscriberFactory(authors=["Wang Hao"], own_query="video")
    built = digests_build(subscriber_ids=[reader.pk], edition_on=TUESDAY)

    digests_send(digest_ids=built.digest_ids, token="t")

    assert mail.outbox[-1].subject == (
        "3 new papers matching your filter and 1 more author — Tue 25 Mar"
    )


def test_the_subject_counts_other_topics_filters_and_authors_each_by_name():
    from newsletter.digests.titles import subject_about

    items = [
        (1, [{"kind": "author", "label": "Wang Hao"}]),
        (2, [{"kind": "author", "label": "Wang Hao"}, {"kind": "query", "label": ""}]),
        (3, [{"kind": "topic", "label": "Robots"}]),
    ]

    assert subject_about(items) == ("by Wang Hao", "and 1 more topic, 1 more filter")
    assert subject_about(items[:2]) == ("by Wang Hao", "and 1 more filter")


def test_a_chinese_digest_writes_its_dates_the_chinese_way():
    _digest, message = sent_digest(language="zh-hans")
    html, text = message.alternatives[0][0], message.body

    assert message.subject.endswith(" — 3月25日 星期二")
    assert "2025年3月25日 星期二 · 4 篇论文" in html
    assert "2025年3月25日 星期二 · 4 篇论文" in text
    assert "Ada Lovelace, Alan Turing · 3月25日" in text
    assert "三月" not in html and "三月" not in text


def test_a_card_shows_title_link_authors_badges_note_and_why():
    _digest, message = sent_digest()
    html, text = message.alternatives[0][0], message.body

    assert 'href="https://arxiv.org/abs/' in html
    assert "A B, C D, E F et al." in html and "A B, C D, E F et al." in text
    assert "&#9650; 12 upvotes" in html and "▲ 12 upvotes" in text
    assert 'href="https://github.com/x/y"' in html
    assert "CVPR 2025" in html and "Editor's pick" in html
    assert "Editor's note:</strong> Worth a read." in html
    assert "Why: Generative diffusion: diffusion, strong · Video: video, strong" in text
    assert "Why: Generative diffusion: diffusion, strong · Video: video, strong" in html


def test_the_featured_paper_comes_first():
    digest, message = sent_digest()

    first = DigestItem.objects.get(digest=digest, rank=1)
    assert first.paper.title == "Diffusion video two"
    assert message.body.index("Diffusion video two") < message.body.index("Diffusion one")


def test_text_from_feeds_is_escaped_in_html_and_plain_in_text():
    PaperFactory(
        title="Diffusion <script>alert(1)</script> & $\\alpha$-nets",
        abstract="a < b & c",
        announced_on=TUESDAY,
    )
    reader = SubscriberFactory(topics=[TopicFactory(query="diffusion")])
    built = digests_build(subscriber_ids=[reader.pk], edition_on=TUESDAY)

    digests_send(digest_ids=built.digest_ids, token="t")

    html, text = mail.outbox[0].alternatives[0][0], mail.outbox[0].body
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; $\\alpha$-nets" in html
    assert "a &lt; b &amp; c" in html
    assert "Diffusion <script>alert(1)</script> & $\\alpha$-nets" in text
    assert "&amp;" not in text


def test_the_text_part_has_the_same_words_as_the_html_part():
    _digest, message = sent_digest(max_papers=2)
    html, text = message.alternatives[0][0], message.body

    assert words_of_html(html) == words_of_text(text)


@pytest.mark.usefixtures("frozen_clock")  # the expected link is signed with the same second
def test_footer_links_view_in_browser_manage_and_unsubscribe_and_the_sender_line(settings):
    digest, message = sent_digest()
    html = message.alternatives[0][0]
    token = make_token(
        purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=digest.subscriber.email
    )

    assert f"{settings.SITE_URL}/digest/{token}/" in html
    assert "/manage/" in html and "/unsubscribe/" in html
    assert settings.SENDER_ADDRESS_LINE in html and settings.SENDER_ADDRESS_LINE in message.body


def test_a_digest_with_fifty_long_cards_is_cut_to_98_kb_of_html_as_sent(sink):
    topic = TopicFactory(query="diffusion")
    for n in range(50):
        PaperFactory(
            title=f"Diffusion {n} " + "very long title words " * 12,
            abstract="diffusion " * 200,
            authors=["Author Name With Many Parts"] * 12,
            editor_note="A long editorial note. " * 40,
            comment="Accepted at a venue with a long name " * 5,
            code_url="https://github.com/" + "x" * 200,
            hf_upvotes=n,
            announced_on=TUESDAY,
        )
    reader = SubscriberFactory(topics=[topic], max_papers=50)
    built = digests_build(subscriber_ids=[reader.pk], edition_on=TUESDAY)

    digests_send(digest_ids=built.digest_ids, token="t")

    # The HTML part as the mail server got it: Gmail clips past ~102 KB and hides the
    # rest, unsubscribe link included; Paperboy keeps a margin and stops at 98 KB.
    html_part = sink.parsed().get_body(("html",))
    html = html_part.get_payload(decode=True)
    assert html_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert 94 * 1024 < len(html) <= 98 * 1024  # filled up to the margin, not past it
    digest = Digest.objects.get(subscriber=reader)
    shown = DigestItem.objects.filter(digest=digest).count()
    assert 0 < shown < 50
    assert html.count(b"https://arxiv.org/abs/") == shown
    assert (digest.paper_count, digest.more_count) == (shown, 50 - shown)
    assert len(digest.more_paper_ids) == len(digest.more_reasons) == 50 - shown
    assert f"And {50 - shown} more matching papers".encode() in html
    assert b"Unsubscribe" in html[-3000:]


def test_a_typical_ten_paper_digest_is_far_below_the_limit():
    _digest, message = sent_digest()

    assert len(message.alternatives[0][0].encode()) < 40_000


# --- Web pages -----------------------------------------------------------------------------


def view_token(digest: Digest) -> str:
    return make_token(
        purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=digest.subscriber.email
    )


def test_view_in_browser_shows_the_emails_papers(client, django_assert_num_queries):
    digest, _message = sent_digest(max_papers=3)
    token = view_token(digest)

    neighbours.similar_papers_compute()  # stored lists: the page adds two reads, no vectors
    # The digest, its papers, their LLM summaries in the reader's language, its follow-ups,
    # the stored neighbour lists, the neighbours' cards.
    with django_assert_num_queries(6):
        response = client.get(f"/digest/{token}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex"
    assert body.count('class="digest-entry"') == 3
    assert "Why: Generative diffusion: diffusion" in body
    assert f"/digest/{token}/more/" in body


def test_the_more_page_lists_the_papers_that_did_not_fit(client):
    digest, _message = sent_digest(max_papers=3)

    response = client.get(f"/digest/{view_token(digest)}/more/")

    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('class="digest-entry"') == 1
    assert "Video four" in body
    assert "Why: " in body


def test_the_more_page_leaves_out_a_paper_hidden_since(client):
    digest, _message = sent_digest(max_papers=3)
    Paper.objects.filter(pk__in=digest.more_paper_ids).update(is_hidden=True)

    body = client.get(f"/digest/{view_token(digest)}/more/").content.decode()

    assert "Video four" not in body


@pytest.mark.parametrize("purpose", [Purpose.MANAGE, Purpose.UNSUBSCRIBE])
def test_a_token_made_for_another_purpose_or_tampered_with_shows_nothing(client, purpose):
    digest, _message = sent_digest()
    other = make_token(purpose=purpose, subject_id=digest.pk, email=digest.subscriber.email)

    assert client.get(f"/digest/{other}/").status_code == 400
    assert client.get(f"/digest/{view_token(digest)}x/").status_code == 400


def test_a_view_token_of_another_reader_shows_nothing(client):
    digest, _message = sent_digest()
    forged = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email="x@example.com")

    assert client.get(f"/digest/{forged}/").status_code == 400


# --- The command ------------------------------------------------------------------------------


def readers_with_papers(count: int = 3):
    topic = TopicFactory(query="diffusion")
    PaperFactory(title="Diffusion today", announced_on=TUESDAY)
    readers = [SubscriberFactory(topics=[topic]) for _ in range(count)]
    SubscriberFactory(own_query="nothing-matches-this")
    return readers


def test_send_digests_for_a_date_sends_everyone_once_and_a_rerun_sends_nothing(capsys):
    readers_with_papers(3)

    call_command("send_digests", "--date", "2025-03-25")
    first = capsys.readouterr()
    call_command("send_digests", "--date", "2025-03-25")
    second = capsys.readouterr()

    assert len(mail.outbox) == 3
    assert first.out.strip().startswith("built 3, sent 3, skipped 1, failed 0")
    assert second.out.strip().startswith("built 0, sent 0, skipped 0, failed 0")
    assert first.err == ""  # not a terminal: no progress bar in logs or pipes


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_send_digests_on_a_terminal_shows_a_bar_with_rate_and_time_left():
    readers_with_papers(3)
    terminal = Terminal()

    call_command("send_digests", "--date", "2025-03-25", stderr=terminal, stdout=io.StringIO())

    bar = terminal.getvalue().split("\r")[-1]
    assert re.search(r"^digests: 100%\|[█#]+\| 4/4 \[\d\d:\d\d<00:00, +[\d.]+readers/s\]", bar), bar


def test_send_digests_subscriber_limits_the_run_to_one_address():
    readers = readers_with_papers(3)

    call_command("send_digests", "--date", "2025-03-25", "--subscriber", readers[1].email.upper())

    assert [message.to for message in mail.outbox] == [[readers[1].email]]
    assert Digest.objects.count() == 1


def test_dry_run_writes_eml_files_and_records_nothing(tmp_path, capsys):
    readers = readers_with_papers(2)

    call_command("send_digests", "--date", "2025-03-25", "--dry-run", "--out", str(tmp_path))

    files = sorted(tmp_path.glob("*.eml"))
    assert [f.name for f in files] == [f"20250325-{r.pk}.eml" for r in readers]
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Subject"].startswith("1 new paper on ")
    assert parsed["Message-ID"].startswith(f"<digest.20250325.{readers[0].pk}@")
    assert mail.outbox == []
    assert not Digest.objects.exists()
    assert "dry run: 2 digests written" in capsys.readouterr().out


def test_to_sends_the_operator_a_copy_without_the_readers_unsubscribe_headers_and_records_nothing():
    readers = readers_with_papers(1)

    call_command(
        "send_digests", "--date", "2025-03-25", "--subscriber", readers[0].email,
        "--to", "editor@example.org",
    )  # fmt: skip

    [copy] = mail.outbox
    assert copy.to == ["editor@example.org"]
    # One press of the mail client's unsubscribe button must not unsubscribe the reader.
    assert [name for name in copy.extra_headers if name.startswith("List-Unsubscribe")] == []
    assert not copy.extra_headers["Message-ID"].startswith(f"<digest.20250325.{readers[0].pk}@")
    assert Subscriber.objects.get(pk=readers[0].pk).status == Subscriber.Status.ACTIVE
    assert not Digest.objects.exists()


def test_to_without_a_subscriber_is_refused():
    with pytest.raises(CommandError, match="--subscriber"):
        call_command("send_digests", "--to", "editor@example.org")
