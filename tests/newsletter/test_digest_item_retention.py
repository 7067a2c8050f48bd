"""Digest items are kept as long as follow-ups and "never twice" need them, then removed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from newsletter.digests.retention import digest_item_cutoff, digest_items_purge
from newsletter.models import Digest, DigestItem
from newsletter.signing import MAX_AGE, Purpose
from newsletter.tasks import purge_old_digest_items
from tests.factories import DigestFactory, DigestItemFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 24)


def items_of(edition_on: dt.date, *, count: int, subscriber=None) -> Digest:
    digest = DigestFactory(edition_on=edition_on, subscriber=subscriber or SubscriberFactory())
    DigestItemFactory.create_batch(count, digest=digest)
    return digest


def test_items_older_than_the_retention_are_removed_and_the_digests_stay(settings):
    settings.DIGEST_ITEM_RETENTION_DAYS = 35
    reader = SubscriberFactory()
    old = items_of(TODAY - dt.timedelta(days=36), count=3, subscriber=reader)
    kept = items_of(TODAY - dt.timedelta(days=35), count=2, subscriber=reader)

    deleted = digest_items_purge(today=TODAY)

    assert deleted == 3
    assert DigestItem.objects.filter(digest=old).count() == 0
    assert DigestItem.objects.filter(digest=kept).count() == 2
    assert Digest.objects.filter(pk__in=[old.pk, kept.pk]).count() == 2


def test_by_default_items_live_as_long_as_the_digests_web_view_link():
    recent = items_of(TODAY - dt.timedelta(days=90), count=2)

    assert MAX_AGE[Purpose.VIEW_DIGEST] == dt.timedelta(days=90)
    assert digest_item_cutoff(today=TODAY) == TODAY - dt.timedelta(days=90)
    assert settings.DIGEST_ITEM_RETENTION_DAYS == 90
    assert digest_items_purge(today=TODAY) == 0
    assert DigestItem.objects.filter(digest=recent).count() == 2


def test_the_purge_goes_in_batches_until_nothing_old_is_left():
    items_of(TODAY - dt.timedelta(days=100), count=7)

    assert digest_items_purge(today=TODAY, batch_size=2, max_batches=2) == 4
    assert DigestItem.objects.count() == 3
    assert digest_items_purge(today=TODAY, batch_size=2) == 3
    assert DigestItem.objects.count() == 0


def test_a_batch_size_below_one_is_refused_and_nothing_is_deleted():
    items_of(TODAY - dt.timedelta(days=100), count=2)

    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        digest_items_purge(today=TODAY, batch_size=0)
    assert DigestItem.objects.count() == 2


def test_the_scheduled_task_purges_and_a_second_run_finds_nothing():
    today = timezone.localdate()  # the pinned clock's
    items_of(today - dt.timedelta(days=91), count=2)
    items_of(today - dt.timedelta(days=1), count=1)

    assert purge_old_digest_items() == 2
    assert purge_old_digest_items() == 0
    assert DigestItem.objects.count() == 1
    assert "purge-old-digest-items" in settings.CELERY_BEAT_SCHEDULE
