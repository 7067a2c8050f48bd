"""Real processes: a Celery prefork worker (`celery -A newsletter worker`) and the sink process
(`bench.smtp_sink`) on 127.0.0.1, both started here: each digest reaches the sink once. The
slow fault tests with the same processes are in test_digest_faults.py (`make test-faults`)."""

from __future__ import annotations

import datetime as dt

import pytest

from newsletter import tasks
from newsletter.models import Digest
from tests.newsletter.sending_helpers import count_digests, enqueue, readers, wait_for

EDITION = dt.date(2025, 3, 25)


@pytest.mark.real_clock
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_each_digest_once_to_a_real_smtp_server(processes):
    ids = readers(60, edition=EDITION)
    processes.start_sink()
    processes.start_worker()

    enqueue(tasks.send_digests_for_date, EDITION.isoformat())
    wait_for(lambda: count_digests() == 60, timeout=60, what="60 digests sent")
    enqueue(tasks.send_digests_for_date, EDITION.isoformat())  # a second run sends nothing more
    processes.wait_until_settled()

    expected = set(Digest.objects.values_list("message_id", flat=True))
    accepted = processes.accepted()
    assert len(expected) == len(ids) == 60
    assert set(accepted) == expected
    assert set(accepted.values()) == {1}
