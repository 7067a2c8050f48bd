"""A real headless Chromium rates papers: the live preview's examples and a file at sign-up,
then a vote from an email's link, changed and undone."""

from __future__ import annotations

import re

import pytest

from newsletter.models import ImportedPaper, Rating, Subscriber
from newsletter.paper_index import forget_paper_indexes
from newsletter.ratings import rating_links
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium")]

BIBTEX = b"@article{ddpm, title={Denoising Diffusion Probabilistic Models}, eprint={2006.11239}}\n"


@pytest.fixture
def papers(transactional_db):
    forget_paper_indexes()
    TopicFactory(name="Robot sheep", query="robot", categories=[])
    liked = PaperFactory(title="Robot grasping")
    disliked = PaperFactory(title="Diffusion for robot policies")
    yield liked, disliked
    forget_paper_indexes()


def test_a_visitor_rates_preview_examples_and_uploads_a_library_at_sign_up(
    live_server, papers, browser_page
):
    from playwright.sync_api import expect

    liked, disliked = papers
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label(re.compile("Robot sheep")).check()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Diffusion for robot policies")  # swapped in by the script

    # The boxes sit in the preview panel, outside the form: form="signup-form" sends them.
    page.locator(f'input[name="preview_up"][value="{liked.pk}"]').check()
    page.locator(f'input[name="preview_down"][value="{disliked.pk}"]').check()
    page.get_by_label("arXiv ids or links of papers you like").fill("arXiv:2401.00001")
    page.locator('input[name="liked_export"]').set_input_files(
        {"name": "library.bib", "mimeType": "text/x-bibtex", "buffer": BIBTEX}
    )
    page.get_by_label("Your email address").fill("browser.reader@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    reader = Subscriber.objects.get(email="browser.reader@example.com")
    assert sorted(Rating.objects.filter(subscriber=reader).values_list("paper_id", "vote")) == [
        (liked.pk, 1),
        (disliked.pk, -1),
    ]
    assert sorted(
        ImportedPaper.objects.filter(subscriber=reader).values_list("origin", "arxiv_id")
    ) == [("arxiv_id", "2401.00001"), ("bibtex", "2006.11239")]
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_reader_votes_from_an_emails_link_changes_their_mind_and_undoes_it(
    live_server, papers, browser_page
):
    from playwright.sync_api import expect

    liked, _disliked = papers
    reader = SubscriberFactory()
    links = rating_links(
        subscriber_id=reader.pk, email=reader.email, paper_id=liked.pk, absolute=False
    )
    page = browser_page

    page.goto(live_server.url + links.up_url)
    expect(page.get_by_role("heading", name="Rate this paper")).to_be_visible()
    expect(page.get_by_text("Robot grasping").first).to_be_visible()
    assert not Rating.objects.exists()  # opening the link records nothing

    page.get_by_role("button", name="More like this").click()
    expect(page.get_by_text("Recorded 👍 more like this for “Robot grasping”.")).to_be_visible()
    assert list(Rating.objects.values_list("subscriber_id", "vote")) == [(reader.pk, 1)]

    page.goto(live_server.url + links.down_url)
    expect(page.get_by_text("You rated it 👍 more like this.")).to_be_visible()
    page.get_by_role("button", name="Not for me").click()
    expect(page.get_by_text("It replaces your earlier vote.")).to_be_visible()
    assert list(Rating.objects.values_list("vote", flat=True)) == [-1]

    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("heading", name="Vote removed")).to_be_visible()
    assert not Rating.objects.exists()
    assert page.problems == []  # type: ignore[attr-defined]
