"""A reasoning model's thinking in a terminal (and a subgraph's words, as a subagent's): live, dim, in a few rows,
folded to one line when the answer starts.

The live area holds the last rows of the thinking, redrawn in place (at most ten times a
second) with the same carriage-return, erase-line and cursor-up moves as the Markdown stream,
so the scrollback keeps nothing of it. ``full`` (the ``show_thinking`` setting, ``/think on``)
prints all of it, dim, as it comes, instead.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from chatcli.content.markdown import Span
from chatcli.text import neutralise, show
from chatcli.ui.live import Throttle
from chatcli.ui.markdown.style import wrap

ROWS = 5  # rows of the live area
_INTERVAL = 0.1
_DIM, _UNDIM = "\x1b[2m", "\x1b[22m"
_TAIL = 4000  # characters of the thinking looked at for the live rows


def took(seconds: float) -> str:
    """ "thought for 12 s" / "thought for 2 min 5 s"."""
    whole = max(1, round(seconds))
    return f"thought for {whole} s" if whole < 60 else f"thought for {whole // 60} min {whole % 60} s"


class ThinkingView:
    """The thinking of one reply, shown as it streams (see the module docstring)."""

    def __init__(
        self,
        console: Any,
        *,
        full: bool = False,
        clock: Callable[[], float] = time.monotonic,
        hint: str = "/think shows it",
        says: str | None = None,
    ):
        # ``says``: whose words these are when they are not the model's thinking (a subgraph's); ``hint``: how to see
        # it all where it was folded (at the prompt, or after a one-shot).
        self.console, self.says, self.full, self.hint = console, says, full, hint
        self._clock, self.started = clock, clock()
        self._parts: list[str] = []
        self._height = 0  # rows the live area takes on screen now
        self._ended_line = True  # full mode: the last thing written ended a line
        self._throttle = Throttle(lambda: self._draw(self._live_rows()), _INTERVAL, clock=clock)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, text: str) -> None:
        self._parts.append(text)
        if self.full:
            shown = neutralise(text)
            self._write(f"{_DIM}{shown}{_UNDIM}")
            self._ended_line = shown.endswith("\n")
            return
        self._throttle.poke()

    def fold(self) -> None:
        """Replace the live rows with one line saying how long the model thought (or how much a subgraph said)."""
        self._throttle.stop()
        said = f"{self.says}: {len(self.text.split()):,} words" if self.says is not None else None
        line = said or took(self._clock() - self.started)
        if self.full:
            self._write(("" if self._ended_line else "\n") + f"{_DIM}({line}){_UNDIM}\n")
            return
        self._draw([])
        self._write(f"{_DIM}{line} · {self.hint}{_UNDIM}\n")

    def _live_rows(self) -> list[str]:
        """The last rows of the thinking, each narrower than the screen in cells (CJK and emoji take two)."""
        width = max(20, self.console.width - 2)
        tail = neutralise(" ".join(self.text[-_TAIL:].split()))
        return ["".join(span.text for span in row) for row in wrap([Span(tail)], width, [], [])][-ROWS:]

    def _draw(self, rows: list[str]) -> None:
        out = []
        if self._height:
            out.append("\r\x1b[2K" + "\x1b[1A\x1b[2K" * (self._height - 1))
        out.append("\n".join(f"{_DIM}{row}{_UNDIM}" for row in rows))
        self._height = len(rows)
        self._write("".join(out))

    def _write(self, text: str) -> None:
        show(self.console.file, text)
