"""Long commands' progress: a bar with rate and time left on a terminal, plain lines off it."""

from __future__ import annotations

import io
import re

from papers.progress import CommandProgress, Step


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def steps(progress: CommandProgress) -> None:
    progress("arxiv-api: searching cat:cs.CV")
    for done in (200, 400, 600):
        progress(Step(done=done, total=600, unit="entries", text=f"  {done} of 600 entries"))
    progress.close()


def test_off_a_terminal_steps_are_plain_lines_and_no_bar_is_drawn():
    messages, errors = io.StringIO(), io.StringIO()

    steps(CommandProgress(messages=messages, bar_stream=errors))

    assert messages.getvalue().splitlines() == [
        "arxiv-api: searching cat:cs.CV",
        "  200 of 600 entries",
        "  400 of 600 entries",
        "  600 of 600 entries",
    ]
    assert errors.getvalue() == ""


def test_on_a_terminal_steps_draw_one_bar_with_rate_and_time_left():
    messages, terminal = io.StringIO(), Terminal()

    steps(CommandProgress(messages=messages, bar_stream=terminal))

    assert messages.getvalue() == "arxiv-api: searching cat:cs.CV\n"
    last = terminal.getvalue().split("\r")[-1]
    assert re.search(r"100%\|[█#]+\| 600/600 \[\d\d:\d\d<00:00, +[\d.]+entries/s\]", last), last


def test_a_bare_count_shows_nothing_off_a_terminal():
    errors = io.StringIO()
    progress = CommandProgress(messages=io.StringIO(), bar_stream=errors)

    progress.count(3, 10, unit="readers")
    progress.close()

    assert errors.getvalue() == ""
