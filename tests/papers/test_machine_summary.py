"""Hugging Face's `ai_summary`: read from the daily list, stored as one bounded line of plain
text, kept when a later fetch leaves it out."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from papers.ingest import ingest_records
from papers.models import Paper
from papers.normalise import MAX_MACHINE_SUMMARY
from papers.sources import hf_daily
from papers.sources.records import HF_DAILY, PaperRecord

pytestmark = pytest.mark.django_db

CAPTURE = Path(__file__).resolve().parents[2] / "papers/sample_data/captures"


def test_a_recorded_list_gives_the_papers_machine_summary():
    content = (CAPTURE / "hf_daily_papers_2026-09-21.json").read_bytes()
    document = hf_daily.parse(content, featured_on=dt.date(2026, 9, 21))

    ingest_records(records=document.records, kind=HF_DAILY)

    assert Paper.objects.get(arxiv_id="2609.05571").ai_summary == (
        "Code2Skill automatically extracts verifiable procedural skills from source code to "
        "improve agent performance before interaction experience accumulates."
    )
    # The list's other papers came with an empty one: they have none.
    assert Paper.objects.exclude(ai_summary="").count() == 1


def hf(**fields) -> PaperRecord:
    return PaperRecord(arxiv_id="2503.00001", title="A paper", **fields)


def test_a_later_list_without_a_summary_keeps_the_stored_one():
    ingest_records(records=[hf(ai_summary="It does one thing.")], kind=HF_DAILY)

    result = ingest_records(records=[hf(ai_summary="")], kind=HF_DAILY)

    assert result.unchanged == 1
    assert Paper.objects.get().ai_summary == "It does one thing."


def test_a_summary_is_one_bounded_line_without_control_characters():
    written = "It\x00 does\nthings\x07 " + "and more " * 200

    ingest_records(records=[hf(ai_summary=written)], kind=HF_DAILY)

    stored = Paper.objects.get().ai_summary
    assert stored.startswith("It does things and more and more")
    assert "\x00" not in stored and "\x07" not in stored and "\n" not in stored
    assert len(stored) <= MAX_MACHINE_SUMMARY
    assert stored.endswith("…")


def test_markup_in_a_summary_is_kept_as_text_for_the_templates_to_escape():
    ingest_records(records=[hf(ai_summary="<b>Bold</b> & <script>x</script>")], kind=HF_DAILY)

    assert Paper.objects.get().ai_summary == "<b>Bold</b> & <script>x</script>"


def test_only_hugging_face_writes_the_summary():
    ingest_records(records=[hf(ai_summary="From HF.")], kind=HF_DAILY)
    arxiv = dataclasses.replace(hf(), version=2, abstract="New text.")

    ingest_records(records=[arxiv], kind="arxiv_api")

    assert Paper.objects.get().ai_summary == "From HF."
