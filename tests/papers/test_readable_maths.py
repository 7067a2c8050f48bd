"""Readable maths: LaTeX in titles and abstracts becomes the text it reads as, at ingest, so
pages, feeds, emails and the matcher all see the same words; nothing else is touched, and
hostile LaTeX costs bounded work."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from newsletter.matching import filter_paper_ids
from newsletter.paper_index import forget_paper_indexes, recent_papers
from papers.ingest import ingest_records
from papers.latex import MAX_LATEX_CHARS, MAX_SPAN, readable
from papers.models import Paper
from papers.sources.records import ARXIV_RSS, NEW, PaperRecord
from tests.clock import TODAY


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (r"Learning $\textit{passively}$ from data", "Learning passively from data"),
        (r"$\alpha$-divergence bounds", "α-divergence bounds"),
        (r"An \emph{efficient} method", "An efficient method"),
        (r"{\em Fast} solvers", "Fast solvers"),
        (r"$O(n \log n)$ time", "O(n log n) time"),
        (r"Points in $\mathbb{R}^d$", "Points in ℝ^d"),
        (r"A $\sim$10x speed-up", "A ∼10x speed-up"),
        (r"Schr\"odinger bridges", "Schrödinger bridges"),
        (r"Code: \url{https://github.com/a/b}", "Code: https://github.com/a/b"),
        (r"R\&D at scale", "R&D at scale"),
        # From the sample captures: a thin space, an escaped percent, an author's own macro.
        (r"latency to 0.93\,s, a 36.7\% reduction", "latency to 0.93 s, a 36.7% reduction"),
        (r"We introduce \method, a new memory", r"We introduce \method, a new memory"),
        (r"a \quad b", "a b"),
    ],
)
def test_latex_reads_as_text(written, shown):
    assert readable(written) == shown


@pytest.mark.parametrize(
    "prose",
    [
        "It costs $5 and $10 per run",
        "a lone $5 here",
        "$5-$10 a day",
        "50% of R&D ~ done -- ok",
        "C:\\\\Users and a \\\\ break",
        "No LaTeX at all: <b>bold</b> & co.",
    ],
)
def test_text_that_is_not_latex_is_left_as_written(prose):
    assert readable(prose) == prose


def test_a_macro_missing_its_argument_or_unknown_stays_as_written():
    assert readable(r"broken \frac{a and more") == r"broken \frac{a and more"


@pytest.mark.parametrize(
    "hostile",
    [
        "$" + "{" * 5000 + "x" + "}" * 5000 + "$",
        r"\frac{" * 3000,
        ("$" + "{" * 8 + r"\alpha" + "}" * 8 + "$ ") * 1000,
        ("$" + r"\alpha " * (MAX_SPAN // 7) + "$ ") * 300,
        r"\emph{" * 2000 + "x" + "}" * 2000,
        "$" * 10_000,
        "\\" * 10_000,
    ],
)
def test_hostile_latex_costs_bounded_work_and_loses_no_text(hostile):
    started = time.monotonic()
    shown = readable(hostile)
    assert time.monotonic() - started < 2.0
    assert len(shown) <= len(hostile)
    assert shown.strip()


def test_distinct_dense_spans_cost_bounded_work_and_past_the_budget_stay_as_written():
    spans = [
        "$" + " ".join(rf"\frac{{a_{{{n}}}}}{{b^{{{k}}}}}" for k in range(12)) + "$"
        for n in range(60)
    ]
    text = " ".join(spans)[:10_000]  # as long as an abstract may be

    started = time.monotonic()
    shown = readable(text)

    assert time.monotonic() - started < 2.0
    assert shown.startswith("a_0/b^0")
    assert shown.endswith(text[-200:])  # the tail, past MAX_LATEX_CHARS, as written
    assert len(text) > MAX_LATEX_CHARS


def test_nesting_deeper_than_the_bound_is_kept_as_written():
    deep = "$" + "{" * 50 + "x" + "}" * 50 + "$"
    assert readable(deep) == deep


def _listed(title: str, abstract: str) -> PaperRecord:
    return PaperRecord(
        arxiv_id="2503.01234",
        version=1,
        title=title,
        abstract=abstract,
        announce_type=NEW,
        announced_on=TODAY,
        categories=("cs.LG",),
    )


@pytest.mark.django_db
def test_titles_and_abstracts_are_stored_readable_and_reingesting_changes_nothing():
    record = _listed(
        r"Learning $\textit{passively}$ with $\alpha$-divergences",
        r"We show \emph{why}. It costs $5.",
    )
    ingest_records(records=[record], kind=ARXIV_RSS)

    paper = Paper.objects.get()
    assert paper.title == "Learning passively with α-divergences"
    assert paper.abstract == "We show why. It costs $5."
    again = ingest_records(records=[record], kind=ARXIV_RSS)
    assert (again.updated, again.unchanged) == (0, 1)


@pytest.mark.django_db
def test_the_matcher_sees_the_readable_text_not_the_latex():
    ingest_records(
        records=[_listed(r"Learning $\textit{passively}$ from $\alpha$-divergences", "")],
        kind=ARXIV_RSS,
    )
    forget_paper_indexes()
    index = recent_papers().index
    paper_id = Paper.objects.get().pk

    def matches(query: str) -> frozenset[int]:
        return filter_paper_ids(query=query, categories=[], index=index)

    assert matches("passively") == {paper_id}
    assert matches('"α-divergences"') == {paper_id}
    assert matches("textit") == frozenset()
    assert matches("alpha") == frozenset()


BEFORE = [("papers", "0004_only_web_links")]
AFTER = [("papers", "0005_readable_latex_in_stored_papers")]


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_papers_stored_before_the_change_are_made_readable_by_the_migration(back_to_latest):
    apps = _migrate(BEFORE)
    OldPaper = apps.get_model("papers", "Paper")
    OldPaper.objects.create(arxiv_id="2503.00001", title=r"$\alpha$-nets", abstract=r"\emph{x}")
    OldPaper.objects.create(arxiv_id="2503.00002", title="Costs $5", abstract="plain")

    apps = _migrate(AFTER)
    rows = dict(apps.get_model("papers", "Paper").objects.values_list("arxiv_id", "title"))

    assert rows == {"2503.00001": "α-nets", "2503.00002": "Costs $5"}
    abstract = apps.get_model("papers", "Paper").objects.get(arxiv_id="2503.00001").abstract
    assert abstract == "x"
