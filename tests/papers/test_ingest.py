"""Ingestion: one row per paper, each source owning its fields, bulk and idempotent writes."""

from __future__ import annotations

import datetime as dt

import pytest

from papers.ingest import ingest_records
from papers.models import Paper
from papers.sources import arxiv_api, arxiv_rss, hf_daily
from papers.sources.records import ARXIV_API, ARXIV_RSS, HF_DAILY, PaperRecord
from tests.factories import PaperFactory
from tests.papers.conftest import recorded

pytestmark = pytest.mark.django_db

LISTING_DAY = dt.date(2025, 2, 13)


def ingest(name: str, **parse_options):
    content = recorded(name)
    if name.startswith("arxiv_api"):
        document = arxiv_api.parse(content)
    elif name.startswith("arxiv_rss"):
        document = arxiv_rss.parse(content)
    else:
        document = hf_daily.parse(content, **parse_options)
    return ingest_records(
        records=document.records, kind=document.kind, rejections=document.rejections
    )


def table() -> list[dict]:
    return list(Paper.objects.order_by("arxiv_id").values())


def test_an_api_feed_becomes_one_clean_row_per_paper():
    result = ingest("arxiv_api_search.atom")

    assert (result.created, result.updated, result.unchanged, result.rejected) == (4, 0, 0, 0)
    magic = Paper.objects.get(arxiv_id="2502.07701")
    assert magic.latest_version == 2
    assert magic.authors == ["Hana Nováková", "François Dubois", "Chen Wei"]
    assert magic.authors_text == "Hana Nováková, François Dubois, Chen Wei"
    assert magic.primary_category == "cs.CV"
    assert magic.categories == ["cs.CV", "cs.LG"]
    assert magic.published_at == dt.datetime(2025, 2, 11, 17, 55, 33, tzinfo=dt.UTC)
    assert magic.updated_at_source == dt.datetime(2025, 2, 13, 9, 12, 1, tzinfo=dt.UTC)
    assert magic.comment == "Serious modification needed."
    assert magic.code_url == "https://github.com/DA-Group-PKU/Magic-1-For-1"
    assert magic.abstract.startswith("In this technical report, we present Magic 1-For-1")
    assert "\n" not in magic.abstract and "  " not in magic.abstract
    assert magic.seen_in_sources == ["arxiv_api"]


def test_titles_lose_arxiv_line_breaks_and_runs_of_spaces():
    ingest("arxiv_api_search.atom")

    hummingbird = Paper.objects.get(arxiv_id="2502.05153")
    assert hummingbird.title == (
        "Hummingbird: High Fidelity Image Generation via Multimodal Context Alignment"
    )


def test_tex_accents_in_author_names_are_decoded():
    ingest("arxiv_api_search.atom")

    assert Paper.objects.get(arxiv_id="2502.05153").authors == ["Minh Quân Lê", "Björn Lindqvist"]


def test_venue_doi_and_project_page_come_from_the_api():
    ingest("arxiv_api_search.atom")

    degf = Paper.objects.get(arxiv_id="2502.06130")
    assert degf.comment == "Accepted by ICLR 2025. Project page:https://zhangce01.github.io/DeGF/"
    assert degf.journal_ref == "ICLR 2025"
    assert degf.doi == "10.48550/arXiv.2502.06130"
    assert degf.project_url == "https://zhangce01.github.io/DeGF/"
    assert degf.code_url == "https://github.com/zhangce01/DeGF"


def test_old_style_ids_are_stored_without_version():
    ingest("arxiv_api_search.atom")

    old = Paper.objects.get(arxiv_id="hep-ex/0307015")
    assert old.journal_ref == "Eur.Phys.J. C31 (2003) 17-29"
    assert old.primary_category == "hep-ex"
    assert old.title == (
        "Multi-Electron Production at High Transverse Momenta in ep Collisions at HERA"
    )


def test_reingesting_the_same_response_changes_nothing_and_says_so():
    ingest("arxiv_api_search.atom")
    before = table()

    again = ingest("arxiv_api_search.atom")

    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert table() == before


def test_writes_are_bulk_not_one_query_per_entry(django_assert_max_num_queries):
    # Read the stored rows, write the changed ones (plus savepoint bookkeeping, one savepoint
    # per chunk so a refused paper can be retried alone): a handful of queries whatever the
    # number of entries.
    with django_assert_max_num_queries(6):
        ingest("arxiv_rss_2025-02-13.xml")
    with django_assert_max_num_queries(6):
        ingest("arxiv_api_lookup_2025-02-13.atom")


def test_the_listing_dates_new_and_cross_papers_and_skips_replacements_of_unknown_ones():
    result = ingest("arxiv_rss_2025-02-13.xml")

    assert result.entries_read == 11
    assert (result.created, result.skipped, result.rejected) == (6, 3, 2)
    assert set(Paper.objects.values_list("announced_on", flat=True)) == {LISTING_DAY}
    cross = Paper.objects.get(arxiv_id="2502.09307")
    assert cross.announce_type == "cross"
    # The listing names no primary category; its first one stands in until the API says.
    assert Paper.objects.get(arxiv_id="2502.09775").primary_category == "q-bio.QM"
    assert not Paper.objects.filter(arxiv_id__in=["2404.14755", "2412.05000"]).exists()


def test_rejected_entries_are_counted_with_a_reason_and_the_good_ones_kept():
    result = ingest("arxiv_rss_2025-02-13.xml")

    assert [str(rejection) for rejection in result.rejections] == [
        "entry 10 (2502.09612): no title",
        "entry 11 (ManiTrend: Bridging Future Generation and Action Prediction with 3D Flow "
        "for Rob): no arXiv id",
    ]
    assert Paper.objects.count() == 6
    assert not Paper.objects.filter(arxiv_id__in=["2502.09612", "2502.10028"]).exists()


def test_replaced_paper_is_not_new_again():
    PaperFactory(
        arxiv_id="2412.05000",
        latest_version=1,
        title="Noise Matters (v1 title)",
        announced_on=dt.date(2024, 12, 9),
        announce_type="new",
        seen_in_sources=["arxiv_rss", "arxiv_api"],
    )

    result = ingest("arxiv_rss_2025-02-13.xml")

    assert result.updated == 1
    replaced = Paper.objects.get(arxiv_id="2412.05000")
    assert replaced.latest_version == 2
    assert replaced.title.startswith("Noise Matters: Diffusion Model-based Urban Mobility")
    assert replaced.announced_on == dt.date(2024, 12, 9)
    assert replaced.announce_type == "new"
    assert not Paper.objects.filter(announced_on=LISTING_DAY, arxiv_id="2412.05000").exists()


def test_the_api_fills_metadata_of_listed_papers_without_moving_their_day():
    ingest("arxiv_rss_2025-02-13.xml")

    result = ingest("arxiv_api_lookup_2025-02-13.atom")

    # The two replacements the listing skipped are looked up too, and so stored now.
    assert (result.created, result.updated) == (2, 6)
    image_rag = Paper.objects.get(arxiv_id="2502.09411")
    assert image_rag.announced_on == LISTING_DAY
    assert image_rag.journal_ref == "ICLR 2025"
    assert image_rag.primary_category == "cs.CV"
    assert image_rag.project_url == "https://rotem-shalev.github.io/ImageRAG"
    assert image_rag.seen_in_sources == ["arxiv_api", "arxiv_rss"]
    assert Paper.objects.get(arxiv_id="2502.09775").primary_category == "q-bio.QM"
    assert Paper.objects.get(arxiv_id="2502.09434").comment.startswith("12 pages,9 figures.")


def test_an_older_version_from_a_lagging_api_never_replaces_newer_text():
    PaperFactory(
        arxiv_id="2502.08011",
        latest_version=3,
        title="Training-Free Safe Denoisers (v3)",
        comment="v3 comment",
    )

    ingest("arxiv_api_lookup_2025-02-13.atom")

    paper = Paper.objects.get(arxiv_id="2502.08011")
    assert (paper.latest_version, paper.title, paper.comment) == (
        3,
        "Training-Free Safe Denoisers (v3)",
        "v3 comment",
    )


def test_hugging_face_stores_upvotes_comments_keywords_and_links():
    result = ingest("hf_daily_papers_2025-02-14.json", featured_on=dt.date(2025, 2, 14))

    assert (result.created, result.rejected) == (4, 2)
    magic = Paper.objects.get(arxiv_id="2502.07701")
    assert (magic.hf_upvotes, magic.hf_comments) == (57, 3)
    assert magic.hf_keywords == [
        "video generation",
        "diffusion step distillation",
        "sliding window",
    ]
    assert magic.hf_featured_on == dt.date(2025, 2, 14)
    assert magic.code_url == "https://github.com/DA-Group-PKU/Magic-1-For-1"
    # Not from a listing: estimated from the first version's submission (Tue 12:55 EST).
    assert magic.announced_on == dt.date(2025, 2, 12)
    survey = Paper.objects.get(arxiv_id="2405.05538")
    assert survey.announced_on == dt.date(2024, 5, 10)


def test_hugging_face_two_weeks_later_is_the_same_row_and_not_new_again():
    ingest("arxiv_rss_2025-02-13.xml")
    ingest("hf_daily_papers_2025-02-14.json", featured_on=dt.date(2025, 2, 14))
    rows = Paper.objects.count()

    result = ingest("hf_daily_papers_2025-02-27.json", featured_on=dt.date(2025, 2, 27))

    assert (result.created, result.updated) == (0, 1)
    assert Paper.objects.count() == rows
    image_rag = Paper.objects.get(arxiv_id="2502.09411")
    assert image_rag.announced_on == LISTING_DAY
    assert image_rag.hf_featured_on == dt.date(2025, 2, 14)
    assert (image_rag.hf_upvotes, image_rag.hf_comments) == (48, 4)
    assert image_rag.hf_keywords == [
        "retrieval-augmented generation",
        "text-to-image",
        "rare concepts",
    ]
    assert image_rag.seen_in_sources == ["arxiv_rss", "hf_daily"]


def test_hugging_face_never_overwrites_arxiv_text():
    ingest("arxiv_api_lookup_2025-02-13.atom")
    arxiv_title = Paper.objects.get(arxiv_id="2502.09411").title

    ingest("hf_daily_papers_2025-02-14.json")

    assert Paper.objects.get(arxiv_id="2502.09411").title == arxiv_title


def test_the_listing_corrects_an_estimated_day_but_never_a_listed_one():
    record = PaperRecord(
        arxiv_id="2502.09411",
        title="ImageRAG",
        version=1,
        published_at=dt.datetime(2025, 2, 10, 12, tzinfo=dt.UTC),
        announce_type="new",
        announced_on=LISTING_DAY,
    )
    ingest_records(records=[record], kind=HF_DAILY)
    assert Paper.objects.get().announced_on == dt.date(2025, 2, 11)

    ingest_records(records=[record], kind=ARXIV_RSS)
    assert Paper.objects.get().announced_on == LISTING_DAY

    later = PaperRecord(
        arxiv_id="2502.09411",
        title="ImageRAG",
        version=1,
        announce_type="cross",
        announced_on=dt.date(2025, 3, 3),
    )
    ingest_records(records=[later], kind=ARXIV_RSS)
    assert Paper.objects.get().announced_on == LISTING_DAY


def test_editorial_flags_survive_ingestion():
    PaperFactory(
        arxiv_id="2502.07701",
        is_featured=True,
        is_hidden=True,
        editor_note="Editors' pick",
    )

    ingest("arxiv_api_search.atom")

    paper = Paper.objects.get(arxiv_id="2502.07701")
    assert (paper.is_featured, paper.is_hidden, paper.editor_note) == (True, True, "Editors' pick")
    assert paper.latest_version == 2


def test_the_same_paper_twice_in_one_response_is_one_row():
    v1 = PaperRecord(arxiv_id="2502.07701", title="Magic v1", version=1)
    v2 = PaperRecord(arxiv_id="2502.07701", title="Magic v2", version=2)

    result = ingest_records(records=[v2, v1], kind=ARXIV_API)

    assert result.created == 1
    assert Paper.objects.get().title == "Magic v2"
