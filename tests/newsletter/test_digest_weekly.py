"""A weekly reader's digest: the whole week ranked, the week in its header and subject, and
one email a week whatever command or tick runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from newsletter.digests.building import digests_build
from newsletter.digests.delivery import digests_send
from newsletter.models import Digest, Subscriber
from newsletter.tasks import send_digests_for_date
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2025, 3, 24)
WEDNESDAY = dt.date(2025, 3, 26)
WEEK = [MONDAY - dt.timedelta(days=back) for back in range(6, -1, -1)]  # Tue 18 … Mon 24


def a_week_of_papers(topic_query: str = "diffusion") -> dict[str, dt.date]:
    """Three papers a day for the week; the best-liked ones are early in the week."""
    made = {}
    for day_number, day in enumerate(WEEK):
        for n in range(3):
            title = f"Diffusion day {day_number} paper {n}"
            upvotes = {0: 80, 2: 40}.get(day_number, 0) if n == 0 else 0
            PaperFactory(title=title, announced_on=day, hf_upvotes=upvotes)
            made[title] = day
    return made


def weekly_reader(**fields) -> Subscriber:
    topic = TopicFactory(name="Diffusion", query="diffusion")
    return SubscriberFactory(
        topics=[topic], frequency=Subscriber.Frequency.WEEKLY, max_papers=5, **fields
    )


def send(reader: Subscriber, edition_on: dt.date):
    built = digests_build(subscriber_ids=[reader.pk], edition_on=edition_on)
    digests_send(digest_ids=built.digest_ids, token="t")
    return mail.outbox[-1]


def test_a_weekly_digest_ranks_the_whole_week_not_only_its_newest_day():
    days = a_week_of_papers()
    reader = weekly_reader()

    send(reader, MONDAY)

    digest = Digest.objects.get(subscriber=reader)
    in_email = [item.paper.title for item in digest.items.order_by("rank")]
    assert in_email[:2] == ["Diffusion day 0 paper 0", "Diffusion day 2 paper 0"]
    assert {days[title] for title in in_email} != {MONDAY}
    assert (digest.covers_from, digest.covers_to) == (WEEK[0], MONDAY)


def test_a_daily_digest_still_puts_the_newest_day_first():
    a_week_of_papers()
    reader = weekly_reader()
    reader.frequency = Subscriber.Frequency.DAILY
    reader.save()
    Digest.objects.create(
        subscriber=reader,
        edition_on=MONDAY - dt.timedelta(days=7),
        covers_from=WEEK[0] - dt.timedelta(days=7),
        covers_to=WEEK[0],
    )

    send(reader, MONDAY)

    digest = Digest.objects.get(subscriber=reader, edition_on=MONDAY)
    assert [item.paper.announced_on for item in digest.items.order_by("rank")][:3] == [MONDAY] * 3


def test_the_weekly_header_and_subject_name_the_week():
    a_week_of_papers()
    message = send(weekly_reader(), MONDAY)

    html, text = message.alternatives[0][0], message.body
    assert message.subject == "21 new papers this week on Diffusion — 18–24 Mar"
    assert "Week of 18–24 Mar · 5 papers · 16 more on the web" in html
    assert "Week of 18–24 Mar · 5 papers · 16 more on the web" in text


def test_a_chinese_weekly_digest_names_the_week_in_chinese():
    a_week_of_papers()
    message = send(weekly_reader(language="zh-hans"), MONDAY)

    assert message.subject.endswith(" — 3月18日至24日")
    assert "3月18日至24日这一周" in message.body


def test_a_week_across_two_months_names_both():
    from papers.dates import week_span

    assert week_span(dt.date(2026, 11, 30), dt.date(2026, 12, 6), language="en") == (
        "30 Nov – 6 Dec"
    )
    assert week_span(dt.date(2026, 11, 23), dt.date(2026, 11, 29), language="zh-hans") == (
        "11月23日至29日"
    )
    assert week_span(dt.date(2026, 11, 30), dt.date(2026, 12, 6), language="zh-hans") == (
        "11月30日至12月6日"
    )


def test_send_digests_on_a_wednesday_sends_no_mid_week_email_to_a_weekly_reader(capsys):
    a_week_of_papers()
    weekly = weekly_reader()
    daily = SubscriberFactory(topics=list(weekly.topics.all()))

    call_command("send_digests", "--date", WEDNESDAY.isoformat())

    assert [message.to for message in mail.outbox] == [[daily.email]]
    assert not Digest.objects.filter(subscriber=weekly).exists()


def test_the_weekly_reader_gets_the_mondays_email_from_send_digests_once(capsys):
    a_week_of_papers()
    weekly = weekly_reader()

    call_command("send_digests", "--date", MONDAY.isoformat())
    call_command("send_digests", "--date", MONDAY.isoformat())
    call_command("send_digests", "--date", WEDNESDAY.isoformat())

    assert [message.to for message in mail.outbox] == [[weekly.email]]


@pytest.mark.parametrize("mode", [[], ["--dry-run"], ["--to", "editor@example.org"]])
def test_asking_for_a_weekly_readers_digest_mid_week_says_which_day_to_ask_for(mode, tmp_path):
    a_week_of_papers()
    weekly = weekly_reader(email="weekly@example.com")

    with pytest.raises(CommandError) as refused:
        call_command(
            "send_digests",
            "--date",
            WEDNESDAY.isoformat(),
            "--subscriber",
            weekly.email,
            "--out",
            str(tmp_path),
            *mode,
        )

    assert str(refused.value) == (
        "weekly@example.com reads the weekly digest, made on Mondays; 2025-03-26 is a "
        "Wednesday: use --date 2025-03-24"
    )
    assert not mail.outbox and not Digest.objects.exists() and not list(tmp_path.iterdir())


def test_the_date_task_skips_weekly_readers_mid_week():
    a_week_of_papers()
    weekly = weekly_reader()

    send_digests_for_date.delay(WEDNESDAY.isoformat())

    assert mail.outbox == []
    assert not Digest.objects.filter(subscriber=weekly).exists()


def test_the_weekly_digest_on_the_web_is_titled_by_its_week(client):
    from newsletter.signing import Purpose, make_token

    a_week_of_papers()
    reader = weekly_reader()
    send(reader, MONDAY)
    digest = Digest.objects.get(subscriber=reader)
    token = make_token(purpose=Purpose.VIEW_DIGEST, subject_id=digest.pk, email=reader.email)

    page = client.get(f"/digest/{token}/").content.decode()
    more = client.get(f"/digest/{token}/more/").content.decode()

    assert "<h1>Your digest of 18–24 Mar</h1>" in page
    assert "<h1>More papers for 18–24 Mar</h1>" in more
