"""The manage page's "Your papers": what the reader rated (newest first, capped) with undo,
the papers they gave us, adding more, "Recommended for you" on or off, and deleting it all."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from newsletter import ratelimits
from newsletter.emails import subscriber_links
from newsletter.models import ImportedPaper, Rating, Subscriber
from newsletter.selectors import RATINGS_SHOWN
from tests.clock import NOW
from tests.factories import PaperFactory, SubscriberFactory
from tests.newsletter.subscription_helpers import path_of

pytestmark = pytest.mark.django_db


def manage_path(subscriber) -> str:
    return path_of(subscriber_links(subscriber)["manage_url"])


def rate(reader, paper, vote: int, *, minutes_ago: int = 0) -> Rating:
    return Rating.objects.create(
        subscriber=reader,
        paper=paper,
        vote=vote,
        rated_at=NOW - dt.timedelta(minutes=minutes_ago),
    )


def give(reader, title: str, arxiv_id: str = "") -> ImportedPaper:
    return ImportedPaper.objects.create(
        subscriber=reader,
        title=title,
        arxiv_id=arxiv_id,
        origin=ImportedPaper.Origin.BIBTEX,
        imported_at=NOW,
    )


def test_the_page_lists_what_the_reader_rated_newest_first_with_undo(client):
    reader = SubscriberFactory()
    rate(reader, PaperFactory(title="Older liked paper"), 1, minutes_ago=10)
    rate(reader, PaperFactory(title="Newer disliked paper"), -1, minutes_ago=1)
    rate(SubscriberFactory(), PaperFactory(title="Someone else's paper"), 1)

    page = client.get(manage_path(reader)).content.decode()

    assert "2 ratings." in page
    assert page.index("Newer disliked paper") < page.index("Older liked paper")
    assert "Someone else's paper" not in page
    assert page.count('value="undo_rating"') == 2


def test_a_long_history_is_capped_and_the_page_says_so(client, django_assert_max_num_queries):
    reader = SubscriberFactory()
    for n in range(RATINGS_SHOWN + 5):
        rate(reader, PaperFactory(), 1, minutes_ago=n)

    with django_assert_max_num_queries(14):
        page = client.get(manage_path(reader)).content.decode()

    assert f"{RATINGS_SHOWN + 5} ratings, the latest {RATINGS_SHOWN} shown." in page
    assert page.count('value="undo_rating"') == RATINGS_SHOWN


def test_the_page_costs_the_same_queries_with_one_rating_or_fifty(
    client, django_assert_num_queries
):
    few, many = SubscriberFactory(), SubscriberFactory()
    rate(few, PaperFactory(), 1)
    give(few, "One paper")
    for n in range(RATINGS_SHOWN):
        rate(many, PaperFactory(), -1, minutes_ago=n)
        give(many, f"Paper {n}")
    client.get(manage_path(few))  # per-process caches (synonyms, recent papers) filled
    with CaptureQueriesContext(connection) as baseline:
        client.get(manage_path(few))

    with django_assert_num_queries(len(baseline.captured_queries)):
        client.get(manage_path(many))


def test_undo_on_the_manage_page_removes_that_rating_only(client):
    reader = SubscriberFactory()
    kept, undone = PaperFactory(), PaperFactory()
    rate(reader, kept, 1)
    rate(reader, undone, -1)

    response = client.post(manage_path(reader), {"action": "undo_rating", "id": undone.pk})

    assert "Your rating is removed." in response.content.decode()
    assert list(Rating.objects.values_list("paper_id", flat=True)) == [kept.pk]


def test_undo_of_another_readers_rating_changes_nothing(client):
    reader, other, paper = SubscriberFactory(), SubscriberFactory(), PaperFactory()
    rate(other, paper, 1)

    response = client.post(manage_path(reader), {"action": "undo_rating", "id": paper.pk})

    assert "That rating was already gone." in response.content.decode()
    assert Rating.objects.filter(subscriber=other, paper=paper).exists()


@pytest.mark.parametrize("target", ["", "x", "-1", "1" * 20])
def test_undo_without_a_sensible_id_answers_400_and_changes_nothing(client, target):
    reader, paper = SubscriberFactory(), PaperFactory()
    rate(reader, paper, 1)

    response = client.post(manage_path(reader), {"action": "undo_rating", "id": target})

    assert response.status_code == 400
    assert Rating.objects.count() == 1


def test_the_page_lists_the_papers_the_reader_gave_and_removes_one(client):
    reader = SubscriberFactory()
    kept = give(reader, "Denoising Diffusion Probabilistic Models", "2006.11239")
    removed = give(reader, "A book")

    page = client.get(manage_path(reader)).content.decode()
    assert 'href="https://arxiv.org/abs/2006.11239">Denoising Diffusion' in page
    assert "A book" in page and page.count('value="remove_imported"') == 2

    response = client.post(manage_path(reader), {"action": "remove_imported", "id": removed.pk})

    assert "The paper is removed." in response.content.decode()
    assert list(ImportedPaper.objects.all()) == [kept]


def test_the_reader_adds_papers_from_the_manage_page(client):
    reader = SubscriberFactory()
    in_catalogue = PaperFactory(arxiv_id="2006.11239", title="Denoising Diffusion")
    give(reader, "2401.00001", "2401.00001")
    export = SimpleUploadedFile("x.ris", b"TY  - JOUR\nTI  - A RIS paper\nER  -\n")

    response = client.post(
        manage_path(reader),
        {
            "action": "import_papers",
            "liked_arxiv_ids": "2006.11239 2401.00001",
            "liked_export": export,
        },
    )

    assert response.status_code == 200
    assert "Added 2 papers you like." in response.content.decode()  # 2401.00001 was there
    assert sorted(
        ImportedPaper.objects.values_list("origin", "arxiv_id", "title", "paper_id")
    ) == sorted(
        [
            ("bibtex", "2401.00001", "2401.00001", None),
            ("arxiv_id", "2006.11239", "Denoising Diffusion", in_catalogue.pk),
            ("ris", "", "A RIS paper", None),
        ]
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"liked_arxiv_ids": "not an id"}, "These are not arXiv ids or arXiv links"),
        (
            {"liked_export": SimpleUploadedFile("x.json", b"[{broken")},
            "The CSL-JSON file is malformed",
        ),
        ({}, "Paste arXiv ids or choose a file first."),
    ],
)
def test_a_bad_import_on_the_manage_page_answers_400_and_stores_nothing(client, fields, message):
    reader = SubscriberFactory()

    response = client.post(manage_path(reader), {"action": "import_papers", **fields})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportedPaper.objects.exists()


def test_recommended_for_you_is_turned_off_and_on(client):
    reader = SubscriberFactory()
    page = client.get(manage_path(reader)).content.decode()
    assert 'name="recommendations_enabled" id="id_recommendations_enabled" checked' in page

    client.post(manage_path(reader), {"action": "recommendations"})
    reader.refresh_from_db()
    assert reader.recommendations_enabled is False

    response = client.post(
        manage_path(reader), {"action": "recommendations", "recommendations_enabled": "on"}
    )
    reader.refresh_from_db()
    assert reader.recommendations_enabled is True
    assert "“Recommended for you” is on." in response.content.decode()


def test_delete_all_my_data_removes_ratings_and_given_papers_and_no_one_elses(client):
    reader, other, paper = SubscriberFactory(), SubscriberFactory(), PaperFactory()
    rate(reader, paper, 1)
    give(reader, "Mine")
    rate(other, paper, -1)
    theirs = give(other, "Theirs")
    assert (
        "your ratings and the papers you gave us"
        in client.get(manage_path(reader) + "delete/").content.decode()
    )

    client.post(manage_path(reader) + "delete/")

    assert not Subscriber.objects.filter(pk=reader.pk).exists()
    assert list(Rating.objects.values_list("subscriber_id", "vote")) == [(other.pk, -1)]
    assert list(ImportedPaper.objects.all()) == [theirs]


def test_imports_count_as_saves_of_the_page_and_are_limited(client, monkeypatch, frozen_clock):
    monkeypatch.setattr(ratelimits, "MANAGE_SAVES_PER_SUBSCRIBER", "1/h")
    reader = SubscriberFactory()
    client.post(manage_path(reader), {"action": "import_papers", "liked_arxiv_ids": "2401.00001"})

    response = client.post(
        manage_path(reader), {"action": "import_papers", "liked_arxiv_ids": "2401.00002"}
    )

    assert response.status_code == 429
    assert list(ImportedPaper.objects.values_list("arxiv_id", flat=True)) == ["2401.00001"]
