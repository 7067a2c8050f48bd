"""A requested day's run finishes without an operator: the sweeper builds and sends the
digests of readers whose fan-out task was lost, once the run has been quiet for a lease."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from newsletter import tasks
from newsletter.digests.building import digests_build
from newsletter.digests.editions import WINDOW_DAYS
from newsletter.edition_runs import unbuilt_reader_ids, unfinished_edition_runs
from newsletter.models import Digest, EditionRunRequest, Subscriber, Topic
from tests.clock import TODAY
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

EDITION = TODAY - dt.timedelta(days=1)
LEASE = 60


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.DIGEST_LEASE_SECONDS = LEASE


def readers(*emails: str) -> list[Subscriber]:
    topic = TopicFactory(query="diffusion")
    PaperFactory(title="Diffusion for everyone", announced_on=EDITION)
    return [SubscriberFactory(email=email, topics=[topic]) for email in emails]


def run_whose_fan_out_is_lost(django_capture_on_commit_callbacks) -> None:
    """send_digests_for_date runs, but the tasks it publishes vanish (their worker died)."""
    with django_capture_on_commit_callbacks(execute=False) as lost:
        tasks.send_digests_for_date.delay(EDITION.isoformat())
    assert lost  # it did fan out


def sweep(django_capture_on_commit_callbacks, *, after: float) -> int:
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=after)):
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.sweep_digests.delay().get()


def test_the_sweeper_sends_a_requested_days_digests_whose_fan_out_task_was_lost(
    django_capture_on_commit_callbacks,
):
    ada, bob = readers("ada@example.com", "bob@example.com")
    run_whose_fan_out_is_lost(django_capture_on_commit_callbacks)
    assert not Digest.objects.exists()

    swept = sweep(django_capture_on_commit_callbacks, after=LEASE + 1)

    assert swept == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "bob@example.com"]
    assert set(Digest.objects.values_list("subscriber", "edition_on", "status")) == {
        (ada.pk, EDITION, Digest.Status.SENT),
        (bob.pk, EDITION, Digest.Status.SENT),
    }


def test_a_finished_day_is_marked_complete_and_sends_nothing_more(
    django_capture_on_commit_callbacks,
):
    readers("ada@example.com")
    run_whose_fan_out_is_lost(django_capture_on_commit_callbacks)
    sweep(django_capture_on_commit_callbacks, after=LEASE + 1)
    mail.outbox.clear()

    swept = sweep(django_capture_on_commit_callbacks, after=3 * LEASE)

    assert swept == 0
    assert mail.outbox == []
    assert EditionRunRequest.objects.get().completed_at is not None


def test_within_the_lease_the_sweeper_leaves_a_run_to_its_own_tasks(
    django_capture_on_commit_callbacks,
):
    readers("ada@example.com")
    run_whose_fan_out_is_lost(django_capture_on_commit_callbacks)

    swept = sweep(django_capture_on_commit_callbacks, after=LEASE - 5)

    assert swept == 0
    assert not Digest.objects.exists()
    assert mail.outbox == []


def test_while_a_run_is_still_building_digests_the_sweeper_waits():
    ada, bob = readers("ada@example.com", "bob@example.com")
    EditionRunRequest.objects.create(edition_on=EDITION, requested_at=timezone.now())
    later = timezone.now() + dt.timedelta(seconds=LEASE + 1)

    with time_machine.travel(later):
        digests_build(subscriber_ids=[ada.pk], edition_on=EDITION)  # its tasks go on
        assert unfinished_edition_runs() == []
    with time_machine.travel(later + dt.timedelta(seconds=LEASE + 1)):
        assert unfinished_edition_runs() == [(EDITION, [bob.pk])]  # his task never came


def test_readers_confirmed_after_the_request_do_not_get_that_day(
    django_capture_on_commit_callbacks,
):
    readers("ada@example.com")
    run_whose_fan_out_is_lost(django_capture_on_commit_callbacks)
    SubscriberFactory(
        email="late@example.com",
        topics=list(Topic.objects.all()),
        confirmed_at=timezone.now() + dt.timedelta(seconds=5),
    )

    sweep(django_capture_on_commit_callbacks, after=LEASE + 1)

    assert [m.to[0] for m in mail.outbox] == ["ada@example.com"]


def test_a_day_older_than_the_window_is_not_walked(django_capture_on_commit_callbacks):
    (ada,) = readers("ada@example.com")
    long_ago = TODAY - dt.timedelta(days=WINDOW_DAYS + 1)
    EditionRunRequest.objects.create(
        edition_on=long_ago, requested_at=timezone.now() - dt.timedelta(days=1)
    )

    assert unfinished_edition_runs() == []
    assert not Digest.objects.filter(subscriber=ada).exists()


def test_a_weekly_reader_is_swept_only_into_a_run_of_their_weekday():
    topic = TopicFactory(query="diffusion")
    SubscriberFactory(email="daily@example.com", topics=[topic])
    SubscriberFactory(
        email="weekly@example.com", topics=[topic], frequency=Subscriber.Frequency.WEEKLY
    )
    monday = TODAY - dt.timedelta(days=TODAY.weekday() + 7)
    wednesday = monday + dt.timedelta(days=2)
    asked = timezone.now() + dt.timedelta(seconds=1)

    def unbuilt(day: dt.date) -> list[str]:
        request = EditionRunRequest(edition_on=day, requested_at=asked)
        ids = unbuilt_reader_ids(request=request)
        return sorted(Subscriber.objects.filter(pk__in=ids).values_list("email", flat=True))

    assert unbuilt(wednesday) == ["daily@example.com"]
    assert unbuilt(monday) == ["daily@example.com", "weekly@example.com"]
