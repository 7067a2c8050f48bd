"""Follow-ups: "Updates on papers you got" at the end of the next digest — code released,
trending, a new version — from recorded Hugging Face and arXiv responses across several days;
each told once per reader, paper and kind, even across reruns and crashes; turned on and off
on the manage page; never an email of updates alone unless the reader asked for it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from newsletter.digests import building
from newsletter.digests.building import digests_build, unsaved_plans
from newsletter.digests.delivery import digests_send
from newsletter.digests.editions import message_id_for
from newsletter.digests.runs import run_digests, unsaved_emails
from newsletter.emails import subscriber_links
from newsletter.followups import is_trending
from newsletter.models import Digest, FollowUp, Rating, Subscriber
from newsletter.signing import Purpose, make_token
from papers import services as paper_services
from papers.models import Paper, Source
from tests.factories import (
    DigestFactory,
    DigestItemFactory,
    PaperFactory,
    SubscriberFactory,
    TopicFactory,
)
from tests.newsletter.subscription_helpers import path_of, signup_data
from tests.papers.conftest import DATA

pytestmark = pytest.mark.django_db

HF_LIST_DAY = dt.date(2025, 2, 14)
FIRST_READ = dt.datetime(2025, 2, 14, 18, 0, tzinfo=dt.UTC)
SENT_AT = dt.datetime(2025, 2, 15, 7, 0, tzinfo=dt.UTC)
REFETCHED = dt.datetime(2025, 2, 17, 18, 0, tzinfo=dt.UTC)
NEW_VERSION_READ = dt.datetime(2025, 2, 20, 9, 0, tzinfo=dt.UTC)
NEXT_EDITION = dt.date(2025, 2, 21)
NEXT_RUN = dt.datetime(2025, 2, 21, 7, 0, tzinfo=dt.UTC)
LATER_EDITION = dt.date(2025, 2, 24)
LATER_RUN = dt.datetime(2025, 2, 24, 19, 0, tzinfo=dt.UTC)

IMAGE_RAG, MANI_TREND, MAGIC, SURVEY = "2502.09411", "2502.10028", "2502.07701", "2405.05538"


def ingest_at(moment: dt.datetime, name: str, *, on: dt.date | None = None) -> None:
    with time_machine.travel(moment, tick=False):
        run = paper_services.file_ingest(
            path=DATA / name, source=Source.objects.get(name="hf-daily") if on else None, on=on
        )
    assert run.status in ("succeeded", "partial"), run.error


def paper(arxiv_id: str) -> Paper:
    return Paper.objects.get(arxiv_id=arxiv_id)


@pytest.fixture
def reader():
    """A reader sent ImageRAG, ManiTrend and Magic 1-For-1 on 15 February, who 👍'd the
    survey that day; then Hugging Face's list of the 14th, read again on the 17th, shows
    ImageRAG's code and ManiTrend at 140 upvotes (from 9), and arXiv's v2 of the survey on
    the 20th has a new abstract and a code link. A new diffusion paper is out on the 21st."""
    ingest_at(FIRST_READ, "hf_daily_papers_2025-02-14.json", on=HF_LIST_DAY)
    subscriber = SubscriberFactory(topics=[TopicFactory(name="Diffusion", query="diffusion")])
    sent = DigestFactory(
        subscriber=subscriber,
        edition_on=SENT_AT.date(),
        status=Digest.Status.SENT,
        sent_at=SENT_AT,
        covers_to=dt.date(2025, 2, 14),
    )
    for rank, arxiv_id in enumerate((IMAGE_RAG, MANI_TREND, MAGIC), start=1):
        DigestItemFactory(digest=sent, paper=paper(arxiv_id), rank=rank)
    Rating.objects.create(
        subscriber=subscriber, paper=paper(SURVEY), vote=Rating.Vote.UP, rated_at=SENT_AT
    )
    ingest_at(REFETCHED, "hf_daily_papers_2025-02-14_refetched_2025-02-17.json", on=HF_LIST_DAY)
    ingest_at(NEW_VERSION_READ, "arxiv_api_lookup_2405.05538v2.atom")
    PaperFactory(title="Diffusion for tomorrow's weather", announced_on=NEXT_EDITION)
    return subscriber


def run_edition(subscriber: Subscriber, *, edition_on=NEXT_EDITION, at=NEXT_RUN) -> Digest:
    with time_machine.travel(at, tick=False):
        built = digests_build(subscriber_ids=[subscriber.pk], edition_on=edition_on)
        digests_send(digest_ids=built.digest_ids, token="t")
    return Digest.objects.get(subscriber=subscriber, edition_on=edition_on)


def told(subscriber: Subscriber) -> list[tuple[str, str]]:
    return list(
        FollowUp.objects.filter(subscriber=subscriber)
        .order_by("digest_id", "position")
        .values_list("paper__arxiv_id", "kind")
    )


# --- What the next digest tells -------------------------------------------------------------


def test_the_next_digest_ends_with_updates_on_papers_the_reader_got(reader):
    digest = run_edition(reader)

    (message,) = mail.outbox
    html, text = message.alternatives[0][0], message.body
    assert digest.status == Digest.Status.SENT
    assert message.subject == "1 new paper on Diffusion — Fri 21 Feb"
    for part in (html, text):
        assert part.index("Diffusion for tomorrow") < part.index("Updates on papers you got")
        assert "Trending on Hugging Face: 9 → 140 upvotes since you got it" in part
        assert "New version (v2): the abstract changed" in part
        assert "Magic 1-For-1" not in part  # its code and upvotes were there when we sent it
    assert 'Code released: <a href="https://github.com/pcs-survey/PCS-Bench">' in html
    assert 'Code released: <a href="https://github.com/rotem-shalev/ImageRAG">' in html
    assert "Code released: https://github.com/rotem-shalev/ImageRAG" in text
    # Code first (the newest first), then trending; a paper's lines stay together.
    assert text.index("A Survey on Personalized") < text.index("ImageRAG") < text.index("ManiTrend")
    assert told(reader) == [
        (SURVEY, FollowUp.Kind.CODE),
        (SURVEY, FollowUp.Kind.NEW_VERSION),
        (IMAGE_RAG, FollowUp.Kind.CODE),
        (MANI_TREND, FollowUp.Kind.TRENDING),
    ]
    assert set(FollowUp.objects.values_list("digest_id", flat=True)) == {digest.pk}


def test_the_web_view_shows_the_same_updates(reader, client):
    digest = run_edition(reader)
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=reader.email)

    page = client.get(f"/digest/{token}/").content.decode()

    assert "Updates on papers you got" in page
    assert "Trending on Hugging Face: 9 → 140 upvotes since you got it" in page
    assert 'href="https://github.com/rotem-shalev/ImageRAG"' in page
    assert page.index("Diffusion for tomorrow") < page.index("Updates on papers you got")


def test_no_update_is_told_twice(reader):
    run_edition(reader)
    ingest_at(
        LATER_RUN.replace(hour=6),
        "hf_daily_papers_2025-02-14_refetched_2025-02-24.json",
        on=HF_LIST_DAY,
    )  # ManiTrend 140 -> 152, ImageRAG's stars: nothing new to tell
    PaperFactory(title="Diffusion for next week", announced_on=LATER_EDITION)
    told_before = told(reader)

    later = run_edition(reader, edition_on=LATER_EDITION, at=LATER_RUN)

    assert later.status == Digest.Status.SENT
    assert "Updates on papers you got" not in mail.outbox[-1].body
    assert told(reader) == told_before


def test_a_rerun_of_the_build_adds_no_update(reader):
    with time_machine.travel(NEXT_RUN, tick=False):
        digests_build(subscriber_ids=[reader.pk], edition_on=NEXT_EDITION)
        again = digests_build(subscriber_ids=[reader.pk], edition_on=NEXT_EDITION)

    assert again.built == 0
    assert FollowUp.objects.filter(subscriber=reader).count() == 4
    assert Digest.objects.filter(subscriber=reader, edition_on=NEXT_EDITION).count() == 1


def test_a_crash_between_build_and_send_sends_the_updates_once_with_that_digest(reader, settings):
    with time_machine.travel(NEXT_RUN, tick=False):
        digests_build(subscriber_ids=[reader.pk], edition_on=NEXT_EDITION, claimed_by="dead")
    # The worker died before sending; once its lease is over the sweeper's run sends it.
    after_lease = NEXT_RUN + dt.timedelta(seconds=settings.DIGEST_LEASE_SECONDS + 1)
    with time_machine.travel(after_lease, tick=False):
        run_digests(now=after_lease)
    PaperFactory(title="Diffusion for next week", announced_on=LATER_EDITION)
    run_edition(reader, edition_on=LATER_EDITION, at=LATER_RUN)

    first, later = mail.outbox
    assert first.extra_headers["Message-ID"] == message_id_for(
        subscriber_id=reader.pk, edition_on=NEXT_EDITION
    )
    assert first.body.count("Trending on Hugging Face") == 1
    assert "Updates on papers you got" not in later.body
    assert FollowUp.objects.filter(subscriber=reader).count() == 4


def test_a_build_that_fails_after_writing_records_no_update(reader, monkeypatch):
    real_record = building.followups_record

    def record_then_crash(**kwargs):
        real_record(**kwargs)
        raise RuntimeError("the worker died mid-build")

    monkeypatch.setattr(building, "followups_record", record_then_crash)
    with time_machine.travel(NEXT_RUN, tick=False), pytest.raises(RuntimeError):
        digests_build(subscriber_ids=[reader.pk], edition_on=NEXT_EDITION)
    assert FollowUp.objects.count() == 0
    assert not Digest.objects.filter(edition_on=NEXT_EDITION).exists()
    monkeypatch.undo()

    run_edition(reader)

    assert FollowUp.objects.filter(subscriber=reader).count() == 4
    assert mail.outbox[0].body.count("Trending on Hugging Face") == 1


def test_at_most_a_few_papers_per_email_the_rest_in_the_next_one(reader, settings):
    settings.FOLLOWUPS_PER_EMAIL = 1
    run_edition(reader)
    PaperFactory(title="Diffusion for next week", announced_on=LATER_EDITION)

    run_edition(reader, edition_on=LATER_EDITION, at=LATER_RUN)

    first, second = mail.outbox
    assert "A Survey on Personalized" in first.body and "ImageRAG" not in first.body
    assert "ImageRAG" in second.body and "A Survey on Personalized" not in second.body
    assert told(reader)[-1] == (IMAGE_RAG, FollowUp.Kind.CODE)


def test_each_kind_can_be_turned_off(reader):
    Subscriber.objects.filter(pk=reader.pk).update(followup_code=False, followup_new_version=False)
    reader.refresh_from_db()

    run_edition(reader)

    body = mail.outbox[0].body
    assert "Trending on Hugging Face: 9 → 140" in body
    assert "Code released" not in body and "New version" not in body
    assert told(reader) == [(MANI_TREND, FollowUp.Kind.TRENDING)]


def test_news_older_than_the_window_is_not_told(reader, settings):
    settings.FOLLOWUP_DAYS = 3  # the digest of the 15th and the 👍 are older than that

    run_edition(reader)

    assert "Updates on papers you got" not in mail.outbox[0].body
    assert not FollowUp.objects.exists()


def test_a_paper_the_reader_said_was_not_for_them_is_not_told(reader):
    Rating.objects.create(
        subscriber=reader, paper=paper(MANI_TREND), vote=Rating.Vote.DOWN, rated_at=SENT_AT
    )

    run_edition(reader)

    assert "ManiTrend" not in mail.outbox[0].body
    assert (MANI_TREND, FollowUp.Kind.TRENDING) not in told(reader)
    assert len(told(reader)) == 3


def test_a_paper_hidden_since_is_not_told(reader):
    Paper.objects.filter(arxiv_id__in=[SURVEY, IMAGE_RAG]).update(is_hidden=True)

    run_edition(reader)

    body = mail.outbox[0].body
    assert "ImageRAG" not in body and "A Survey on Personalized" not in body
    assert told(reader) == [(MANI_TREND, FollowUp.Kind.TRENDING)]


# --- Emails of updates alone ---------------------------------------------------------------


def test_no_email_of_updates_alone_unless_the_reader_asked(reader):
    Paper.objects.filter(announced_on=NEXT_EDITION).delete()

    digest = run_edition(reader)

    assert digest.status == Digest.Status.SKIPPED_EMPTY
    assert mail.outbox == []
    assert not FollowUp.objects.exists()  # they wait for a digest with papers


def test_a_reader_who_asked_gets_the_updates_alone(reader):
    Paper.objects.filter(announced_on=NEXT_EDITION).delete()
    Subscriber.objects.filter(pk=reader.pk).update(followups_alone=True)
    reader.refresh_from_db()

    digest = run_edition(reader)

    (message,) = mail.outbox
    assert digest.status == Digest.Status.SENT
    assert message.subject == "Updates on papers you got — Fri 21 Feb"
    assert "Friday 21 February 2025\n" in message.body and "0 papers" not in message.body
    assert "Trending on Hugging Face: 9 → 140" in message.alternatives[0][0]
    assert len(told(reader)) == 4


def test_updates_of_a_digest_whose_papers_were_all_hidden_wait_for_the_next(reader):
    with time_machine.travel(NEXT_RUN, tick=False):
        built = digests_build(subscriber_ids=[reader.pk], edition_on=NEXT_EDITION)
        Paper.objects.filter(announced_on=NEXT_EDITION).update(is_hidden=True)
        digests_send(digest_ids=built.digest_ids, token="t")
    assert Digest.objects.get(pk=built.digest_ids[0]).status == Digest.Status.SKIPPED_EMPTY
    PaperFactory(title="Diffusion for next week", announced_on=LATER_EDITION)

    run_edition(reader, edition_on=LATER_EDITION, at=LATER_RUN)

    assert mail.outbox[0].body.count("Trending on Hugging Face: 9 → 140") == 1


# --- Dry runs, cost, the rule ---------------------------------------------------------------


def test_a_dry_run_shows_the_updates_and_records_nothing(reader):
    with time_machine.travel(NEXT_RUN, tick=False):
        (plan,) = unsaved_plans(subscriber_ids=[reader.pk], edition_on=NEXT_EDITION)
        ((_plan, email),) = unsaved_emails([plan])

    assert "Trending on Hugging Face: 9 → 140" in email.text
    assert not FollowUp.objects.exists()
    assert not Digest.objects.filter(edition_on=NEXT_EDITION).exists()


def test_choosing_updates_takes_the_same_queries_for_ten_or_fifty_readers(
    reader, django_assert_max_num_queries
):
    sent = Digest.objects.get(subscriber=reader, status=Digest.Status.SENT)
    others = []
    for _ in range(60):
        other = SubscriberFactory(topics=list(reader.topics.all()))
        copy = DigestFactory(
            subscriber=other, edition_on=sent.edition_on, status=Digest.Status.SENT, sent_at=SENT_AT
        )
        for rank, arxiv_id in enumerate((IMAGE_RAG, MANI_TREND), start=1):
            DigestItemFactory(digest=copy, paper=paper(arxiv_id), rank=rank)
        others.append(other.pk)
    with time_machine.travel(NEXT_RUN, tick=False):
        digests_build(subscriber_ids=[reader.pk], edition_on=NEXT_EDITION)  # warm the index
        with django_assert_max_num_queries(21) as few:
            digests_build(subscriber_ids=others[:10], edition_on=NEXT_EDITION)
        with django_assert_max_num_queries(21) as many:
            digests_build(subscriber_ids=others[10:], edition_on=NEXT_EDITION)

    assert len(few.captured_queries) == len(many.captured_queries)
    assert FollowUp.objects.count() == 4 + 60 * 2


@pytest.mark.parametrize(
    ("then", "now", "trending"),
    [
        (9, 140, True),  # crossed the threshold
        (99, 100, True),
        (100, 180, False),  # was above it already, and did not triple
        (40, 120, True),  # tripled, by more than the minimum gain
        (3, 9, False),  # tripled, but by six upvotes
        (0, 24, False),
        (0, 25, True),
        (50, 50, False),
    ],
)
def test_trending_is_crossing_the_threshold_or_tripling_by_a_real_amount(then, now, trending):
    assert is_trending(then=then, now=now) is trending


# --- The manage page ------------------------------------------------------------------------


def test_the_manage_page_turns_each_kind_on_or_off(client):
    subscriber = SubscriberFactory(topics=[TopicFactory()])
    path = path_of(subscriber_links(subscriber)["manage_url"])
    page = client.get(path).content.decode()
    assert "Updates on papers you got" in page
    assert 'name="followup_code" id="id_followup_code" checked' in page
    assert 'aria-describedby="id_followups_alone_helptext" id="id_followups_alone">' in page
    assert 'id="id_followups_alone_helptext">Otherwise an email with only updates' in page

    data = signup_data(action="save", topics=[subscriber.topics.get().pk])
    del data["email"], data["website"]
    data.update(followup_code="on", followups_alone="on")
    response = client.post(path, data)

    subscriber.refresh_from_db()
    assert response.status_code == 200
    assert (
        subscriber.followup_code,
        subscriber.followup_trending,
        subscriber.followup_new_version,
        subscriber.followups_alone,
    ) == (True, False, False, True)


def test_signing_up_leaves_every_kind_on_and_updates_alone_off(
    client, django_capture_on_commit_callbacks
):
    data = signup_data(topics=[TopicFactory().pk])

    with django_capture_on_commit_callbacks(execute=True):  # the sign-up task stores it
        client.post("/", data)

    subscriber = Subscriber.objects.get(email=data["email"])
    assert (subscriber.followup_code, subscriber.followup_trending) == (True, True)
    assert (subscriber.followup_new_version, subscriber.followups_alone) == (True, False)


def test_a_chinese_reader_reads_the_updates_in_chinese(reader):
    Subscriber.objects.filter(pk=reader.pk).update(language="zh-hans")
    reader.refresh_from_db()

    run_edition(reader)

    html, text = mail.outbox[0].alternatives[0][0], mail.outbox[0].body
    for part in (html, text):
        assert "你收到过的论文有新动态" in part
        assert "在 Hugging Face 上走红：自你收到以来，点赞从 9 升至 140" in part
        assert "新版本（v2）：摘要有改动" in part
