"""A filter finds the same papers whether they were stored in PostgreSQL or in the embedded
SQLite: generated papers (accents composed and not, ligatures, case, CJK, punctuation) go
through each database and the digest's index, and every generated filter is compared."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.newsletter.matching_across_databases import store_and_match
from tests.newsletter.sending_helpers import ROOT

WORDS = [
    "diffusion", "Diffusion", "DIFFUSION", "zoë", "zoe\u0308", "Zoë", "straße", "STRASSE",
    "ﬁne", "fine", "İstanbul", "istanbul", "naïve", "naive", "3d", "3D", "text-to-image",
    "Text-to-Image", "l'image", "深度学习", "学习", "αβγ", "Ω", "foo_bar", "über", "C++",
    "co-operate", "e.g.", "résumé", "resume", "video", "survey",
]  # fmt: skip
AUTHORS = ["Zoë Müller", "Zoe Mueller", "José Álvarez", "Jose Alvarez", "李明", "Seán O'Brien"]
CATEGORIES = ["cs.CV", "cs.LG", "cs.CL", "stat.ML"]

word = st.sampled_from(WORDS)
separator = st.sampled_from([" ", "  ", "\t", "\n", "-", ", ", ". ", "/"])
text = st.lists(st.tuples(word, separator), max_size=14).map(
    lambda pairs: "".join(w + s for w, s in pairs).strip()
)
paper = st.fixed_dictionaries(
    {
        "title": text.filter(bool),
        "abstract": text,
        "authors": st.lists(st.sampled_from(AUTHORS), max_size=3, unique=True),
        "categories": st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2, unique=True),
    }
)
term = st.one_of(
    word,
    word.map(lambda w: f"-{w}"),
    st.lists(word, min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    word.map(lambda w: f"title:{w}"),
    word.map(lambda w: f"-title:{w}"),
    st.just("OR"),
)
chosen_filter = st.fixed_dictionaries(
    {
        "query": st.lists(term, max_size=6).map(" ".join),
        "categories": st.lists(
            st.sampled_from([*CATEGORIES, "CS.cv", "stat.ml"]), max_size=2, unique=True
        ),
        "authors": st.lists(
            st.sampled_from([*AUTHORS, "zoe müller", "O'Brien"]), max_size=2, unique=True
        ),
    }
)


@pytest.fixture(scope="session")
def sqlite_matcher(tmp_path_factory):
    """This module's twin on a SQLite file, in its own process (Django has one database)."""
    folder = tmp_path_factory.mktemp("sqlite")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.newsletter.matching_across_databases"],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "DATABASE_URL": f"sqlite:///{folder / 'papers.sqlite3'}",
            "SECRET_KEY": "test-only-secret-key",
            "CACHE_URL": "locmemcache://",
            "EMAIL_URL": "memorymail://",
            "LOG_LEVEL": "WARNING",
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    assert process.stdout.readline().strip() == "READY"

    def match(papers: list[dict], filters: list[dict]) -> list[list[str]]:
        process.stdin.write(json.dumps({"papers": papers, "filters": filters}) + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    yield match
    process.stdin.close()
    process.wait(10)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    papers=st.lists(paper, min_size=1, max_size=30),
    filters=st.lists(chosen_filter, min_size=1, max_size=20),
)
def test_a_filter_finds_the_same_papers_on_postgresql_and_sqlite(sqlite_matcher, papers, filters):
    on_postgresql = store_and_match(papers, filters)
    on_sqlite = sqlite_matcher(papers, filters)

    assert on_postgresql == on_sqlite
