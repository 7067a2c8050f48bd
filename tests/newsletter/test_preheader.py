"""The preheader (the line an inbox lists under the subject) ends at a word, never inside one."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.core import mail

from newsletter.digests.building import digests_build
from newsletter.digests.delivery import digests_send
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = pytest.mark.django_db

TUESDAY = dt.date(2025, 3, 25)
FIRST = "Diffusion " + " ".join(["transformers"] * 8)  # 113 characters
SECOND = "Diffusion models of " + " ".join(["extraordinarily"] * 6)


def preheader_of(html: str) -> str:
    shown = re.search(r'font-size:13px;[^"]*color:#59636e;">(.*?)</div>', html, re.S)
    assert shown, "no preheader line in the HTML"
    return unescape(" ".join(shown.group(1).split()))


def test_a_long_preheader_is_cut_at_a_word_boundary_with_an_ellipsis():
    topic = TopicFactory(query="diffusion")
    PaperFactory(title=FIRST, hf_upvotes=50, announced_on=TUESDAY)
    PaperFactory(title=SECOND, hf_upvotes=10, announced_on=TUESDAY)
    reader = SubscriberFactory(topics=[topic])
    built = digests_build(subscriber_ids=[reader.pk], edition_on=TUESDAY)
    digests_send(digest_ids=built.digest_ids, token="t")

    preheader = preheader_of(mail.outbox[-1].alternatives[0][0])

    assert preheader == f"{FIRST} · Diffusion models of…"  # 150 would cut a word
    assert len(preheader) <= 150
