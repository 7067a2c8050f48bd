"""The scale benchmark still runs end to end (its quick setting), so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.real_clock
def test_quick_benchmark_sends_every_digest_once_and_reports_the_floor(tmp_path):
    out = tmp_path / "bench.json"
    # This run's own Redis db (the bench flushes it): a fixed one would be shared by every
    # checkout running its tests on this machine at the same time.
    broker_db = urlsplit(settings.CELERY_BROKER_URL).path.strip("/") or "0"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--json-out",
            str(out),
            "--broker-db",
            broker_db,
        ],  # fmt: skip
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "newsletter.settings"},
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    deliveries = report["deliveries"]
    assert report["correct"] is True
    assert deliveries["duplicates"] == 0
    assert deliveries["sent_digests"] == deliveries["non_empty_digests"] > 1000
    assert deliveries["messages_at_sink"] == deliveries["sent_digests"]
    assert report["floor"]["messages"] == deliveries["sent_digests"]
    assert 0 < report["ratio_to_floor"]
    assert [point["subscribers"] for point in report["matching"]] == [15, 150, 1500]
    assert "ratio ours / floor" in result.stdout


def test_the_relevance_benchmark_runs_and_reports_each_topic():
    result = subprocess.run(
        [sys.executable, "-m", "bench.relevance", "--quick"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "newsletter.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Diffusion models" in result.stdout
    assert "macro (the issue 5 topics)" in result.stdout


def test_the_matching_benchmark_runs_and_refuses_the_crafted_queries(tmp_path):
    out = tmp_path / "matching.json"

    result = subprocess.run(
        [sys.executable, "-m", "bench.matching", "--quick", "--json-out", str(out)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "newsletter.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [point["subscribers"] for point in report["curve"]] == [15, 150, 1500]
    assert report["index"]["papers"] == 1400


def test_the_personalisation_benchmark_runs_and_reports_every_checkpoint(tmp_path):
    out = tmp_path / "personalisation.json"

    result = subprocess.run(
        [sys.executable, "-m", "bench.personalisation", "--quick", "--json-out", str(out)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "newsletter.settings"},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert (report["learn"], report["judged"]) == ("tuning", "held-out")
    assert list(report["kinds"]) == ["one interest", "two interests", "unbalanced interests"]
    one = report["kinds"]["one interest"]["precision_at_10"]
    two = report["kinds"]["two interests"]["precision_at_10"]
    unbalanced = report["kinds"]["unbalanced interests"]["precision_at_10"]
    kept = "small interest in top 10: blend"
    assert kept in unbalanced and f"{kept} (one model)" in unbalanced and kept not in one
    assert list(one["keyword"]) == ["0", "5", "10", "20"]
    assert one["model"]["0"] is None  # no ratings, no model
    assert one["blend"]["0"] == one["keyword"]["0"]  # without a model the blend is the rules
    assert "blend (one model)" in two and "blend (one model)" not in one
    assert "precision@10 on the held-out papers" in result.stdout
