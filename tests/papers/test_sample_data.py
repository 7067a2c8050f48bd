"""The demo's sample papers: real captures of the three sources, loaded through the product's own
parsers and ingest, re-dated onto today's calendar, and loaded twice without a change."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter

import pytest
import time_machine
from django.core.management import CommandError, call_command

from papers import schedule
from papers.models import Paper
from papers.sample_data import (
    CAPTURES_DIR,
    load_sample_papers,
    merged_states,
    parse_saved_response,
    sample_captures,
    sample_documents,
    sample_papers,
)
from papers.sample_data.redating import ListingShift
from papers.sample_data.trimming import add_capture, trimmed_hf_daily
from papers.sources.records import ARXIV_API, ARXIV_RSS, HF_DAILY
from tests.papers.conftest import DATA

NEW_YORK = dt.timezone(dt.timedelta(hours=-5))
TUESDAY = dt.datetime(2027, 3, 9, 10, 0, tzinfo=NEW_YORK)
SATURDAY = dt.datetime(2027, 3, 13, 10, 0, tzinfo=NEW_YORK)


def announcement_days(states) -> Counter:
    return Counter(state["announced_on"] for state in states)


# --- what the captures hold -------------------------------------------------------------


def test_every_capture_is_read_by_the_products_parsers_without_a_rejection():
    captures = sample_captures()

    assert {capture.document.kind for capture in captures} == {ARXIV_API, ARXIV_RSS, HF_DAILY}
    assert all(capture.document.records for capture in captures)
    assert [c.path.name for c in captures if c.document.rejections] == []


def test_the_captures_are_read_in_the_order_production_receives_them():
    arrivals = [(c.arrived_on, c.document.kind) for c in sample_captures()]

    assert arrivals == sorted(arrivals, key=lambda a: (a[0], a[1] != ARXIV_RSS))
    assert (dt.date(2026, 9, 24), ARXIV_RSS) in arrivals


def test_every_sample_paper_has_real_authors_and_many_have_upvotes_code_and_project_pages():
    papers = sample_papers()

    assert len(papers) >= 70
    assert all(paper["authors"] and paper["authors_text"] for paper in papers)
    assert sum(1 for p in papers if p["hf_upvotes"]) >= 60
    assert sum(1 for p in papers if p["code_url"].startswith("https://github.com/")) >= 30
    assert sum(1 for p in papers if p["project_url"]) >= 30
    assert max(p["hf_upvotes"] for p in papers) > 100


def test_the_sample_comes_from_all_three_sources_and_fills_a_week_of_listings():
    papers = sample_papers()

    sources = Counter(source for paper in papers for source in paper["seen_in_sources"])
    assert set(sources) == {ARXIV_API, ARXIV_RSS, HF_DAILY}
    busy_days = [day for day, count in announcement_days(papers).items() if count >= 3]
    assert len(busy_days) >= 5
    assert all(schedule.is_listing_day(day) for day in announcement_days(papers))


def test_papers_from_the_listing_keep_the_listings_date_and_categories():
    papers = {paper["arxiv_id"]: paper for paper in sample_papers()}

    listed = papers["2609.26820"]
    assert listed["announced_on"] == dt.date(2026, 9, 24)
    assert listed["categories"] == ["cs.LG", "cs.AI"]
    assert listed["authors"] == ["Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan"]
    # A replacement of a paper the sample never saw is not stored (as in production).
    assert "2009.13987" not in papers


def test_papers_from_the_api_keep_its_metadata_and_an_estimated_announcement():
    papers = {paper["arxiv_id"]: paper for paper in sample_papers()}

    looked_up = papers["2609.28471"]
    # Submitted on Wednesday 23 September 13:59 New York time: in Thursday's listing.
    assert looked_up["announced_on"] == dt.date(2026, 9, 24)
    assert looked_up["primary_category"] == "cs.CL"
    assert looked_up["doi"] == "10.1007/978-3-032-39150-6_7"
    assert looked_up["code_url"] == "https://github.com/petekirby/contrastive-av"


def test_hugging_face_papers_keep_their_upvotes_links_and_keywords():
    papers = {paper["arxiv_id"]: paper for paper in sample_papers()}

    trending = papers["2609.28654"]
    assert trending["title"] == "Training Object Permanence in World Models"
    assert trending["hf_upvotes"] == 137
    assert trending["code_url"] == "https://github.com/hokindeng/object-permanence"
    assert trending["project_url"] == "https://www.object-permanence.world/"
    assert trending["hf_featured_on"] == dt.date(2026, 9, 25)
    assert papers["2609.05571"]["hf_keywords"][:2] == ["Code2Skill", "CodeSkillBank"]


# --- loading ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_loading_twice_changes_nothing_the_second_time():
    first = load_sample_papers(shift_to_today=True)
    rows = {p.arxiv_id: (p.updated_at, p.announced_on) for p in Paper.objects.all()}

    second = load_sample_papers(shift_to_today=True)

    assert first == (len(sample_papers()), 0)
    assert second == (0, 0)
    assert {p.arxiv_id: (p.updated_at, p.announced_on) for p in Paper.objects.all()} == rows


@pytest.mark.django_db
def test_the_stored_sample_is_what_the_products_ingest_makes_of_the_captures():
    load_sample_papers()

    expected = {paper["arxiv_id"]: paper for paper in sample_papers()}
    stored = {row["arxiv_id"]: row for row in Paper.objects.values(*next(iter(expected.values())))}
    assert stored == expected


@pytest.mark.django_db
def test_shifted_to_today_the_newest_announcement_is_today_on_the_same_weekdays():
    with time_machine.travel(TUESDAY, tick=False):
        load_sample_papers(shift_to_today=True)

    days = announcement_days(Paper.objects.values("announced_on"))
    sample_days = announcement_days(sample_papers())
    assert max(days) == TUESDAY.date()
    assert all(day.weekday() < 5 for day in days)
    # The same listings carry the same papers, in the same order.
    assert [days[d] for d in sorted(days)] == [sample_days[d] for d in sorted(sample_days)]


@pytest.mark.django_db
def test_on_a_weekend_the_newest_announcement_is_fridays_listing():
    with time_machine.travel(SATURDAY, tick=False):
        load_sample_papers(shift_to_today=True)

    assert Paper.objects.latest("announced_on").announced_on == dt.date(2027, 3, 12)
    assert not Paper.objects.filter(announced_on__week_day__in=(1, 7)).exists()


@pytest.mark.django_db
def test_a_load_on_a_later_day_moves_the_sample_to_that_day_then_changes_nothing():
    with time_machine.travel(TUESDAY, tick=False):
        load_sample_papers(shift_to_today=True)
    upvotes = dict(Paper.objects.values_list("arxiv_id", "hf_upvotes"))

    with time_machine.travel(TUESDAY + dt.timedelta(days=1), tick=False):
        moved = load_sample_papers(shift_to_today=True)
        again = load_sample_papers(shift_to_today=True)

    assert moved == (0, Paper.objects.count())
    assert again == (0, 0)
    assert Paper.objects.latest("announced_on").announced_on == dt.date(2027, 3, 10)
    assert dict(Paper.objects.values_list("arxiv_id", "hf_upvotes")) == upvotes


@pytest.mark.django_db
def test_reloading_restores_what_the_sources_said_and_keeps_what_editors_set():
    load_sample_papers()
    Paper.objects.filter(arxiv_id="2609.28654").update(hf_upvotes=1, is_featured=True)

    result = load_sample_papers()

    paper = Paper.objects.get(arxiv_id="2609.28654")
    assert result == (0, 1)
    assert (paper.hf_upvotes, paper.is_featured) == (137, True)
    assert Paper.objects.filter(arxiv_id="2609.28654").count() == 1


# --- the calendar ---------------------------------------------------------------------------


@pytest.mark.parametrize("days_later", range(14))
def test_every_estimated_announcement_moves_with_the_listing_it_belongs_to(days_later, settings):
    settings.ARXIV_HOLIDAYS = ["2027-03-10"]  # a Wednesday-evening closure inside the range
    today = dt.date(2027, 3, 1) + dt.timedelta(days=days_later)
    original = merged_states([capture.document for capture in sample_captures()])
    shift = ListingShift(
        source_newest=max(s["announced_on"] for s in original.values()),
        target_newest=_listing_day_up_to(today),
    )

    with time_machine.travel(dt.datetime.combine(today, dt.time(12), tzinfo=NEW_YORK)):
        moved = merged_states(sample_documents(shift_to_today=True))

    assert {i: s["announced_on"] for i, s in moved.items()} == {
        i: shift.day(s["announced_on"]) for i, s in original.items()
    }
    assert all(schedule.is_listing_day(s["announced_on"]) for s in moved.values())


def test_the_shift_keeps_listing_days_apart_by_listings_not_calendar_days():
    shift = ListingShift(source_newest=dt.date(2026, 9, 28), target_newest=dt.date(2027, 3, 10))

    # Monday, then the previous Friday and Thursday, land on Wednesday, Tuesday and Monday.
    assert shift.day(dt.date(2026, 9, 28)) == dt.date(2027, 3, 10)
    assert shift.day(dt.date(2026, 9, 25)) == dt.date(2027, 3, 9)
    assert shift.day(dt.date(2026, 9, 24)) == dt.date(2027, 3, 8)
    assert shift.day(dt.date(2026, 9, 23)) == dt.date(2027, 3, 5)
    # A Saturday stays a day after the listing before it.
    assert shift.day(dt.date(2026, 9, 26)) == dt.date(2027, 3, 10)


def test_without_a_shift_nothing_moves():
    original = merged_states([capture.document for capture in sample_captures()])

    assert merged_states(sample_documents(shift_to_today=False)) == original


def test_a_paper_in_several_captures_is_one_row_with_every_source(tmp_path):
    # The shipped captures share no paper; the recorded responses of the fetch tests do.
    shutil.copy(DATA / "arxiv_rss_2025-02-13.xml", tmp_path / "arxiv_rss_2025-02-13.xml")
    shutil.copy(DATA / "arxiv_api_lookup_2025-02-13.atom", tmp_path / "arxiv_api_2025-02-13.xml")
    shutil.copy(
        DATA / "hf_daily_papers_2025-02-14.json", tmp_path / "hf_daily_papers_2025-02-14.json"
    )

    documents = sample_documents(directory=tmp_path)
    states = merged_states(documents)

    for arxiv_id, state in states.items():
        kinds = {d.kind for d in documents if any(r.arxiv_id == arxiv_id for r in d.records)}
        assert set(state["seen_in_sources"]) == kinds
    everywhere = [s for s in states.values() if len(s["seen_in_sources"]) == 3]
    assert everywhere
    assert all(s["announced_on"] == dt.date(2025, 2, 13) and s["hf_upvotes"] for s in everywhere)


def _listing_day_up_to(day: dt.date) -> dt.date:
    while not schedule.is_listing_day(day):
        day -= dt.timedelta(days=1)
    return day


# --- making captures ------------------------------------------------------------------------


def test_a_trimmed_hugging_face_list_reads_as_the_full_one():
    full = (DATA / "hf_daily_papers_2025-02-14.json").read_bytes()
    day = dt.date(2025, 2, 14)

    trimmed = trimmed_hf_daily(full)

    assert len(trimmed) < len(full)
    assert parse_saved_response(trimmed, featured_on=day).records == (
        parse_saved_response(full, featured_on=day).records
    )


def test_the_shipped_hugging_face_lists_are_already_trimmed():
    for path in CAPTURES_DIR.glob("hf_daily_papers_*.json"):
        assert trimmed_hf_daily(path.read_bytes()) == path.read_bytes(), path.name


def test_a_trimmed_list_keeps_the_most_upvoted_papers_first():
    full = (DATA / "hf_daily_papers_2025-02-14.json").read_bytes()

    trimmed = json.loads(trimmed_hf_daily(full, limit=2))

    assert [item["paper"]["id"] for item in trimmed] == [
        item["paper"]["id"] for item in json.loads(full)[:2]
    ]


def test_adding_a_capture_names_it_after_its_source_and_day(tmp_path):
    hf = add_capture(
        DATA / "hf_daily_papers_2025-02-14.json", directory=tmp_path, on=dt.date(2025, 2, 14)
    )
    rss = add_capture(DATA / "arxiv_rss_2025-02-13.xml", directory=tmp_path)

    assert hf.name == "hf_daily_papers_2025-02-14.json"
    assert rss.name == "arxiv_rss_2025-02-13.xml"
    assert rss.read_bytes() == (DATA / "arxiv_rss_2025-02-13.xml").read_bytes()
    assert {c.path.name for c in sample_captures(tmp_path)} == {hf.name, rss.name}


def test_adding_a_capture_refuses_a_duplicate_an_undated_list_and_a_cut_feed(tmp_path):
    add_capture(DATA / "arxiv_rss_2025-02-13.xml", directory=tmp_path)

    with pytest.raises(FileExistsError):
        add_capture(DATA / "arxiv_rss_2025-02-13.xml", directory=tmp_path)
    with pytest.raises(ValueError, match="--date"):
        add_capture(DATA / "hf_daily_papers_2025-02-14.json", directory=tmp_path)
    with pytest.raises(ValueError, match="--limit"):
        add_capture(DATA / "arxiv_rss_2025-02-12.xml", directory=tmp_path, limit=3)
    assert [p.name for p in tmp_path.iterdir()] == ["arxiv_rss_2025-02-13.xml"]


def test_the_build_command_prints_the_sample_set(capsys):
    call_command("build_sample_papers")

    out = capsys.readouterr().out
    assert "arxiv_rss_2026-09-24.xml: arxiv_rss, 2026-09-24, 4 entries, 0 rejected" in out
    assert f"{len(sample_papers())} papers over" in out
    assert "seen in arxiv_api" in out and "seen in arxiv_rss" in out and "seen in hf_daily" in out


def test_the_build_command_fails_on_a_capture_with_a_rejected_entry(tmp_path):
    shutil.copy(CAPTURES_DIR / "arxiv_rss_2026-09-24.xml", tmp_path)
    # This recording holds an item without an id and one without a title.
    shutil.copy(DATA / "hf_daily_papers_2025-02-14.json", tmp_path)

    with pytest.raises(CommandError, match="rejected entries: hf_daily_papers_2025-02-14.json"):
        call_command("build_sample_papers", captures=tmp_path)


def test_the_build_command_adds_a_trimmed_list(tmp_path, capsys):
    call_command(
        "build_sample_papers",
        add=DATA / "hf_daily_papers_2025-02-27.json",
        date=dt.date(2025, 2, 27),
        limit=1,
        captures=tmp_path,
    )

    added = json.loads((tmp_path / "hf_daily_papers_2025-02-27.json").read_text())
    assert len(added) == 1
    assert "added hf_daily_papers_2025-02-27.json" in capsys.readouterr().out
