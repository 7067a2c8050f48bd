"""Cold start at sign-up: papers a visitor likes (pasted or an export) and the preview's
examples they rated, kept with the pending reader and used from the day they confirm."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from newsletter.models import ImportedPaper, Rating, Subscriber
from newsletter.rating_forms import MAX_REQUEST_BYTES, PREVIEW_VOTES_MAX
from newsletter.signing import Purpose, make_token
from tests.clock import TODAY
from tests.factories import PaperFactory, SubscriberFactory
from tests.newsletter.subscription_helpers import signup_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]

BIBTEX = b"""@article{ddpm, title={Denoising Diffusion Probabilistic Models},
  eprint={2006.11239}, archivePrefix={arXiv}}
@book{b, title={A book we do not have}}
"""


@pytest.fixture
def post_signup(client, django_capture_on_commit_callbacks):
    def post(**overrides):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/", signup_data(**overrides), REMOTE_ADDR="203.0.113.7")

    return post


def imported() -> list[tuple[str, str, str, int | None]]:
    return list(
        ImportedPaper.objects.order_by("pk").values_list("origin", "arxiv_id", "title", "paper_id")
    )


def test_the_sign_up_page_offers_pasted_ids_and_an_upload(client):
    page = client.get("/").content.decode()

    assert 'enctype="multipart/form-data"' in page
    assert 'name="liked_arxiv_ids"' in page and 'name="liked_export"' in page


def test_papers_given_at_sign_up_are_kept_with_the_pending_reader(post_signup, mailoutbox):
    in_catalogue = PaperFactory(arxiv_id="2006.11239", title="Denoising Diffusion")

    response = post_signup(
        liked_arxiv_ids="https://arxiv.org/abs/2401.00001v2\n2006.11239",
        liked_export=SimpleUploadedFile("library.bib", BIBTEX),
    )

    assert response.status_code == 200
    reader = Subscriber.objects.get()
    assert reader.status == Subscriber.Status.PENDING
    assert len(mailoutbox) == 1
    assert imported() == [
        ("arxiv_id", "2401.00001", "2401.00001", None),
        ("arxiv_id", "2006.11239", "Denoising Diffusion", in_catalogue.pk),
        ("bibtex", "", "A book we do not have", None),
    ]
    assert set(ImportedPaper.objects.values_list("subscriber_id", flat=True)) == {reader.pk}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"liked_arxiv_ids": "my favourite paper"}, "These are not arXiv ids or arXiv links"),
        (
            {"liked_export": SimpleUploadedFile("x.bib", b"@article{a, title={Unclosed")},
            "The BibTeX file is malformed near line 1",
        ),
        (
            {"liked_export": SimpleUploadedFile("x.bib", b"no entries here")},
            "No papers found in the file",
        ),
    ],
)
def test_a_bad_list_or_file_refuses_the_sign_up_and_stores_nothing(
    post_signup, mailoutbox, fields, message
):
    response = post_signup(**fields)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Subscriber.objects.exists()
    assert not ImportedPaper.objects.exists()
    assert mailoutbox == []


def test_a_huge_upload_is_refused_before_it_is_read(client, mailoutbox):
    huge = SimpleUploadedFile("x.bib", b"%" * (MAX_REQUEST_BYTES + 1))

    response = client.post("/", signup_data(liked_export=huge), REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 400
    assert not Subscriber.objects.exists() and not ImportedPaper.objects.exists()
    assert mailoutbox == []


def test_someone_signing_up_an_active_readers_address_adds_nothing_to_their_papers(post_signup):
    reader = SubscriberFactory(email="reader@example.com")
    paper = PaperFactory()

    post_signup(liked_arxiv_ids="2401.00001", preview_up=[str(paper.pk)])

    assert not ImportedPaper.objects.filter(subscriber=reader).exists()
    assert not Rating.objects.filter(subscriber=reader).exists()


# --- Rating the preview's examples ------------------------------------------------------------


def test_the_sign_up_preview_offers_a_vote_on_each_example(client):
    PaperFactory(title="Diffusion for ducks", abstract="diffusion", announced_on=TODAY)

    page = client.get("/preview/", {"own_query": "diffusion", "rate": "1"}).content.decode()
    no_votes = client.get("/preview/", {"own_query": "diffusion"}).content.decode()

    assert "Diffusion for ducks" in page and "Diffusion for ducks" in no_votes
    assert page.count('form="signup-form"') == 2
    assert 'name="preview_up"' in page and 'name="preview_down"' in page
    assert "preview_up" not in no_votes  # the manage page's preview: no votes


def test_the_no_javascript_preview_keeps_the_ticked_votes(client):
    paper = PaperFactory(title="Diffusion for ducks", abstract="diffusion", announced_on=TODAY)

    page = client.post(
        "/", signup_data(action="preview", preview_down=[str(paper.pk)]), REMOTE_ADDR="203.0.113.7"
    ).content.decode()

    assert f'name="preview_down" value="{paper.pk}" form="signup-form" checked' in page
    assert f'name="preview_up" value="{paper.pk}" form="signup-form">' in page


def test_rated_examples_become_the_readers_ratings(post_signup):
    liked, disliked, both = PaperFactory(), PaperFactory(), PaperFactory()
    hidden = PaperFactory(is_hidden=True)

    post_signup(
        preview_up=[str(liked.pk), str(both.pk), str(hidden.pk), "99999", "x", "١"],
        preview_down=[str(disliked.pk), str(both.pk)],
    )

    reader = Subscriber.objects.get()
    assert sorted(Rating.objects.values_list("subscriber_id", "paper_id", "vote")) == sorted(
        [(reader.pk, liked.pk, 1), (reader.pk, disliked.pk, -1)]
    )


def test_more_rated_examples_than_a_preview_shows_are_refused(post_signup):
    papers = [PaperFactory() for _ in range(PREVIEW_VOTES_MAX + 1)]

    response = post_signup(preview_up=[str(paper.pk) for paper in papers])

    assert response.status_code == 400
    assert f"Rate at most {PREVIEW_VOTES_MAX} example papers." in response.content.decode()
    assert not Subscriber.objects.exists() and not Rating.objects.exists()


# --- Confirming -------------------------------------------------------------------------------


def confirm(client, reader, capture) -> None:
    token = make_token(purpose=Purpose.CONFIRM, subject_id=reader.pk, email=reader.email)
    with capture(execute=True):
        assert client.post(f"/confirm/{token}/").status_code == 200


def test_confirming_a_reader_who_gave_papers_starts_their_model(
    client, post_signup, django_capture_on_commit_callbacks, retrains
):
    post_signup(liked_arxiv_ids="2401.00001")
    reader = Subscriber.objects.get()
    assert retrains == [reader.pk]  # the pending reader's papers are kept…

    confirm(client, reader, django_capture_on_commit_callbacks)

    assert retrains == [reader.pk, reader.pk]  # …and their model is trained on confirming


def test_confirming_a_reader_who_gave_nothing_starts_no_retrain(
    client, post_signup, django_capture_on_commit_callbacks, retrains
):
    post_signup()

    confirm(client, Subscriber.objects.get(), django_capture_on_commit_callbacks)

    assert retrains == []
