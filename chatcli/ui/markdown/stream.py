"""Stream a Markdown reply to a terminal: each finished line printed once, the last one live.

Design:
- Text is only looked at on a refresh, at most every ``min_interval`` seconds (15 a
  second by default; less often if a refresh is slow). ``feed`` just appends, so a server
  sending thousands of tokens a second costs a list append per token.
- A refresh hands each newly completed source line to ``blocks.Blocks`` exactly once;
  the rows it returns are printed for good and never rendered again. Only the unfinished
  last line (and a table still arriving) is drawn in a live area, which the next refresh
  erases and redraws. So the cost of the whole answer is one pass over it, and the
  result on screen is exactly what rendering the whole text at once gives.
- The live area is drawn by hand with CR, erase line and cursor up one line, is never
  taller than the screen (a long unfinished line shows its last rows), and everything
  is written with one write per refresh: no flicker, and scrollback stays intact.
"""

from __future__ import annotations

import time
from typing import Callable

from rich.console import Console

from chatcli.text import show
from chatcli.ui.live import Throttle
from chatcli.ui.markdown.blocks import Blocks
from chatcli.ui.markdown.style import Palette

_MARGIN = 2  # rows of the screen never used by the live area
_MIN_LIVE = 3
_HIDE_CURSOR, _SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


def render_markdown(text: str, console: Console) -> str:
    """The whole text rendered at once, as terminal rows joined by newlines (with a final one)."""
    blocks = Blocks(Palette(console), console.width)
    rows = [row for line in text.split("\n") for row in blocks.line(line)] + blocks.close()
    return "".join(f"{row}\n" for row in rows)


class MarkdownStream:
    """Render a Markdown reply to a terminal while it streams in."""

    def __init__(
        self,
        console: Console,
        *,
        min_interval: float = 1 / 15,
        live_lines: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.live_lines = live_lines
        self._live = console.is_terminal and not console.is_dumb_terminal
        self._parts: list[str] = []  # everything received
        self._seen = 0  # parts already handed to the renderer
        self._partial = ""  # the unfinished last line
        self._blocks = Blocks(Palette(console), console.width)
        self._live_height = 0  # rows the live area occupies on screen now
        self._started = self._closed = False
        self._throttle = Throttle(lambda: self._refresh(final=False), min_interval, adapt=True, clock=clock)

    @property
    def text(self) -> str:
        """The whole reply received so far."""
        return "".join(self._parts)

    def feed(self, delta: str) -> None:
        """Append text and redraw if the last refresh is old enough."""
        if self._closed or not delta:
            return
        self._parts.append(delta)
        if self._live:
            self._throttle.poke()

    def finish(self) -> None:
        """Print everything not yet printed as final output and remove the live area."""
        if self._closed:
            return
        self._closed = True
        self._throttle.stop()
        if not self._live:
            if self._parts:
                show(self.console.file, render_markdown(self.text, self.console))
            return
        if self._parts or self._started:
            self._refresh(final=True)

    def _refresh(self, final: bool) -> None:
        """Print the lines completed since the last refresh, then redraw the live area."""
        blocks = self._blocks
        blocks.width = self.console.width
        new = "".join(self._parts[self._seen :])
        self._seen = len(self._parts)
        lines = (self._partial + new).split("\n")
        self._partial = "" if final else lines.pop()
        rows = [row for line in lines for row in blocks.line(line)]
        if final:
            rows += blocks.close()
            live: list[str] = []
        else:
            room = self.live_lines or self.console.size.height - _MARGIN  # the rows the live area may use
            live = blocks.live(self._partial)[-max(_MIN_LIVE, room) :]
        self._write(rows, live, final)

    def _write(self, rows: list[str], live: list[str], final: bool) -> None:
        """Replace the live area with finished rows (kept) followed by the new live rows."""
        out = []
        if not self._started:
            self._started = True
            out.append(_HIDE_CURSOR)
        if self._live_height:
            out.append("\r\x1b[2K" + "\x1b[1A\x1b[2K" * (self._live_height - 1))
        out += [f"{row}\n" for row in rows]
        out.append("\n".join(live))
        if final:
            out.append(_SHOW_CURSOR)
        self._live_height = len(live)
        show(self.console.file, "".join(out))
