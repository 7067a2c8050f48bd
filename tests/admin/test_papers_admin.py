"""Curating papers in admin: find them, feature and hide them, note them; fast on big tables."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone

from papers.models import Paper, PaperSummary
from papers.word_search import papers_with_words
from tests.clock import TODAY
from tests.factories import PaperFactory, SourceFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/papers/paper/"


def listed_arxiv_ids(response) -> set[str]:
    return set(re.findall(r'href="https://arxiv.org/abs/([^"]+)"', response.content.decode()))


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("sampler", {"2503.00001"}),  # title
        ("consistency", {"2503.00002"}),  # abstract
        ("Hopper", {"2503.00002"}),  # authors
        ("2503.00001", {"2503.00001"}),  # arXiv id
        ("arXiv:2503.00002v3", {"2503.00002"}),  # arXiv id as cited, with its version
    ],
)
def test_editors_find_papers_by_title_abstract_authors_and_arxiv_id(editor_client, term, expected):
    PaperFactory(arxiv_id="2503.00001", title="A fast sampler")
    PaperFactory(
        arxiv_id="2503.00002",
        abstract="Consistency models.",
        authors=["Grace Hopper"],
        authors_text="Grace Hopper",
    )
    PaperFactory(arxiv_id="2503.00003")

    response = editor_client.get(CHANGELIST, {"q": term})

    assert listed_arxiv_ids(response) == expected


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("sampl", {"2503.00001", "2503.00003"}),  # the beginning of a word
        ("fast sampl", {"2503.00001"}),  # every word, in any field
        ("Sampler HOPPER", {"2503.00003"}),  # title and authors together, any case
        ("text-to-image", {"2503.00002"}),  # a hyphenated term, as its words
        ("ampler", set()),  # words match from their start, not from the middle
    ],
)
def test_a_search_matches_the_beginnings_of_words(editor_client, term, expected):
    PaperFactory(arxiv_id="2503.00001", title="A fast sampler")
    PaperFactory(arxiv_id="2503.00002", abstract="Text-to-image diffusion.")
    PaperFactory(arxiv_id="2503.00003", title="Samplers", authors_text="Grace Hopper")

    response = editor_client.get(CHANGELIST, {"q": term})

    assert listed_arxiv_ids(response) == expected


def test_a_word_search_is_answered_by_the_full_text_index():
    PaperFactory.create_batch(3)
    found = papers_with_words(Paper.objects.all(), "diffusion models")

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = found.explain()

    assert "paper_words" in plan


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"has_code": "yes"}, {"2503.00011"}),
        ({"has_code": "no"}, {"2503.00012", "2503.00013", "2503.00014"}),
        ({"is_featured__exact": "1"}, {"2503.00012"}),
        ({"is_hidden__exact": "1"}, {"2503.00013"}),
        ({"category": "cs.CL"}, {"2503.00014"}),
        ({"source": "hf-daily"}, {"2503.00011"}),
    ],
)
def test_editors_filter_papers(editor_client, params, expected):
    SourceFactory(name="hf-daily", kind="hf_daily")
    PaperFactory(
        arxiv_id="2503.00011",
        code_url="https://github.com/x/y",
        seen_in_sources=["arxiv-rss", "hf-daily"],
    )
    PaperFactory(arxiv_id="2503.00012", is_featured=True, seen_in_sources=["arxiv-rss"])
    PaperFactory(arxiv_id="2503.00013", is_hidden=True)
    PaperFactory(arxiv_id="2503.00014", primary_category="cs.CL", categories=["cs.CL"])

    response = editor_client.get(CHANGELIST, params)

    assert response.status_code == 200
    assert listed_arxiv_ids(response) == expected


def test_editors_filter_papers_by_announcement_day(editor_client):
    today = timezone.localdate()
    PaperFactory(arxiv_id="2503.00021", announced_on=today)
    PaperFactory(arxiv_id="2503.00022", announced_on=today - dt.timedelta(days=40))

    response = editor_client.get(
        CHANGELIST,
        {
            "announced_on__year": today.year,
            "announced_on__month": today.month,
            "announced_on__day": today.day,
        },
    )

    assert listed_arxiv_ids(response) == {"2503.00021"}


def test_the_list_shows_what_an_editor_scans_a_day_by(editor_client):
    PaperFactory(
        arxiv_id="2503.00031",
        title="Scaling rectified flows",
        primary_category="cs.LG",
        hf_upvotes=42,
        code_url="https://github.com/x/y",
        is_featured=True,
    )

    page = editor_client.get(CHANGELIST).content.decode()

    assert "Scaling rectified flows" in page
    assert "cs.LG" in page
    assert '<td class="field-hf_upvotes">42</td>' in page
    assert re.search(r'class="field-has_code"><img src="[^"]*icon-yes', page)
    assert re.search(r'class="field-is_featured"><img src="[^"]*icon-yes', page)


@pytest.mark.parametrize(
    ("action", "before", "field", "after"),
    [
        ("feature", False, "is_featured", True),
        ("unfeature", True, "is_featured", False),
        ("hide", False, "is_hidden", True),
        ("unhide", True, "is_hidden", False),
    ],
)
def test_curation_actions_change_only_the_selected_papers(
    editor_client, django_capture_on_commit_callbacks, action, before, field, after
):
    selected = PaperFactory.create_batch(2, **{field: before})
    untouched = PaperFactory(**{field: before})

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            CHANGELIST,
            {"action": action, "_selected_action": [paper.pk for paper in selected]},
            follow=True,
        )

    assert response.status_code == 200
    assert [getattr(Paper.objects.get(pk=p.pk), field) for p in selected] == [after, after]
    assert getattr(Paper.objects.get(pk=untouched.pk), field) is before
    assert "2 papers" in response.content.decode()


def test_hiding_from_admin_takes_the_paper_off_the_public_page_at_once(
    editor_client, client, django_capture_on_commit_callbacks
):
    paper = PaperFactory(arxiv_id="2503.00041")
    assert "2503.00041" in client.get("/papers/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(CHANGELIST, {"action": "hide", "_selected_action": [paper.pk]})

    assert "2503.00041" not in client.get("/papers/").content.decode()


def test_an_editors_note_is_saved_and_shown_on_the_public_page(
    editor_client, client, django_capture_on_commit_callbacks
):
    paper = PaperFactory(title="Original title")
    client.get("/papers/")  # cached before the edit

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            f"/admin/papers/paper/{paper.pk}/change/",
            {
                "is_featured": "on",
                "editor_note": "Read section 4 first.",
                "code_url": "",
                "project_url": "",
            },
        )

    assert response.status_code == 302
    paper.refresh_from_db()
    assert (paper.editor_note, paper.is_featured, paper.title) == (
        "Read section 4 first.",
        True,
        "Original title",
    )
    assert "Read section 4 first." in client.get("/papers/").content.decode()


def test_papers_are_not_added_by_hand(editor_client, admin_client):
    assert editor_client.get("/admin/papers/paper/add/").status_code == 403
    assert admin_client.get("/admin/papers/paper/add/").status_code == 403


def test_the_paper_list_makes_the_same_few_queries_however_many_papers(
    admin_client, django_assert_max_num_queries
):
    SourceFactory()
    PaperFactory.create_batch(120, code_url="https://github.com/x/y")

    # session, user, filtered count, the page, category and source filter choices,
    # date hierarchy: a constant, not one per paper
    with django_assert_max_num_queries(8):
        response = admin_client.get(CHANGELIST, {"q": "study"})

    assert len(listed_arxiv_ids(response)) == 50


def test_the_paper_change_page_is_a_few_queries(admin_client, django_assert_max_num_queries):
    paper = PaperFactory(authors=[f"Author {n}" for n in range(40)])

    with django_assert_max_num_queries(6):
        response = admin_client.get(f"/admin/papers/paper/{paper.pk}/change/")

    assert response.status_code == 200
    assert "Author 39" in response.content.decode()


def test_admins_see_each_llm_summary_and_each_failed_attempt_in_few_queries(
    admin_client, django_assert_max_num_queries
):
    made = PaperFactory(arxiv_id="2503.07001")
    failed = PaperFactory(arxiv_id="2503.07002")
    PaperSummary.objects.create(paper=made, language="zh-hans", text="一句。", attempted_on=TODAY)
    PaperSummary.objects.create(
        paper=failed, language="en", error="no answer within 20 s", attempted_on=TODAY
    )

    with django_assert_max_num_queries(8):
        page = admin_client.get("/admin/papers/papersummary/").content.decode()

    assert "2503.07001" in page and "一句。" in page
    assert "2503.07002" in page and "no answer within 20 s" in page
    assert admin_client.get("/admin/papers/papersummary/add/").status_code == 403
