"""What long commands show while they work: a tqdm bar with rate and time left on a terminal,
only their own message lines when piped or logged."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm


class Step(str):
    """A progress message that also carries its count ("  400 of 1200 entries"): a terminal
    draws a bar from it, a log keeps the plain words."""

    done: int
    total: int
    unit: str

    def __new__(cls, *, done: int, total: int, unit: str, text: str) -> Step:
        step = super().__new__(cls, text)
        step.done, step.total, step.unit = done, total, unit
        return step


def _raw(stream: TextIO) -> TextIO:
    # A command's OutputWrapper adds a newline to every write; a bar needs the stream itself.
    return getattr(stream, "_out", stream)


class CommandProgress:
    """A command's progress: message lines on `messages`, counted steps as one tqdm bar on
    `bar_stream` when that is a terminal (off a terminal a Step stays a line, a bare count
    shows nothing)."""

    def __init__(
        self, *, messages: TextIO | None = None, bar_stream: TextIO | None = None, desc: str = ""
    ) -> None:
        self.messages = _raw(messages or sys.stdout)
        self.bar_stream = _raw(bar_stream or sys.stderr)
        self.desc = desc
        self.on_terminal = bool(getattr(self.bar_stream, "isatty", lambda: False)())
        self.bar: tqdm | None = None

    def __call__(self, message: str) -> None:
        """One message of papers.services' Progress."""
        if isinstance(message, Step) and self.on_terminal:
            self.count(message.done, message.total, unit=message.unit)
        elif self.bar is not None:
            self.bar.write(message, file=self.messages)
        else:
            self.messages.write(message + "\n")

    def count(self, done: int, total: int, *, unit: str = "it") -> None:
        """`done` of `total` so far (the digest runs' callback)."""
        if not self.on_terminal:
            return
        if self.bar is None or self.bar.total != total or self.bar.unit != unit:
            self.close()
            self.bar = tqdm(total=total, unit=unit, desc=self.desc or None, file=self.bar_stream)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
