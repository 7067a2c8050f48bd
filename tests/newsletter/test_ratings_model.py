"""The database keeps the rating invariants: one vote per reader and paper, up or down only."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from newsletter.models import ImportedPaper, Rating
from tests.clock import NOW
from tests.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def test_a_reader_has_one_vote_per_paper() -> None:
    reader, paper = SubscriberFactory(), PaperFactory()
    Rating.objects.create(subscriber=reader, paper=paper, vote=Rating.Vote.UP, rated_at=NOW)

    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(subscriber=reader, paper=paper, vote=Rating.Vote.DOWN, rated_at=NOW)

    assert list(Rating.objects.values_list("vote", flat=True)) == [1]


def test_a_vote_is_up_or_down_and_nothing_else() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(
            subscriber=SubscriberFactory(), paper=PaperFactory(), vote=0, rated_at=NOW
        )

    assert not Rating.objects.exists()


def test_an_imported_arxiv_id_is_kept_once_per_reader_but_untitled_ids_may_repeat() -> None:
    reader = SubscriberFactory()
    fields = {"subscriber": reader, "imported_at": NOW, "origin": ImportedPaper.Origin.BIBTEX}
    ImportedPaper.objects.create(arxiv_id="2502.00001", title="A", **fields)
    ImportedPaper.objects.create(arxiv_id="", title="No id one", **fields)
    ImportedPaper.objects.create(arxiv_id="", title="No id two", **fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        ImportedPaper.objects.create(arxiv_id="2502.00001", title="A again", **fields)

    assert ImportedPaper.objects.filter(subscriber=reader).count() == 3
