"""Stream a Markdown reply to a terminal: a stable prefix printed once, a small live tail.

Design (after aider's mdstream and Textual's Markdown streaming):
- The text is split at the start of the last *settled* top-level block, found in
  markdown-it's own parse of the tail (so lists, blockquotes and fences that contain
  blank lines are never cut); everything before it is rendered once and printed above
  the live area with plain appends, and is never rendered again.
- Only the tail block is re-rendered, at most every ``min_interval`` seconds (longer
  if a render is slow), so the cost per refresh follows the tail, not the answer.
- If the tail renders taller than the live area, the lines above its last N are
  printed as stable too; ``_printed`` counts them so no line is printed twice.
- The live area is drawn by hand with the sequences rich's Live uses (CR, erase line,
  cursor up one line) and never grows taller than the screen, so scrollback stays intact.
- How rich separates two blocks depends on the one before (a rule, a list...), so each
  chunk is rendered behind a one-line stand-in for the previous block ("x" or "---")
  whose lines are then dropped: the joined output equals rendering the whole text at once.
"""

from __future__ import annotations

import time
from typing import Callable

from rich.console import Console
from rich.control import Control, ControlType
from rich.markdown import Markdown
from rich.segment import Segment, Segments

Line = list[Segment]

_MARGIN = 2  # rows of the screen never used by the live area
_MIN_LIVE = 3  # the last lines of a block can still change (a list item, a table row)
_SLOW_FACTOR = 5  # wait at least this many render-times between refreshes
_MAX_INTERVAL = 1.0  # but never longer than this
_AFTER_BLOCK = "x\n\n"  # stands for any block that rich follows with a blank line
_AFTER_RULE = "---\n\n"  # stands for a horizontal rule, which rich follows differently


class MarkdownStream:
    """Render a Markdown reply to a terminal while it streams in."""

    def __init__(
        self,
        console: Console,
        *,
        min_interval: float = 1 / 15,
        live_lines: int | None = None,
        code_theme: str = "monokai",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.min_interval = min_interval
        self.live_lines = live_lines
        self.code_theme = code_theme
        self._clock = clock
        self._live = console.is_terminal and not console.is_dumb_terminal
        self._stable: list[str] = []  # source already rendered and printed for good
        self._tail: list[str] = []  # source of the blocks still live
        self._lead = ""  # stand-in for the last stable block, rendered before the tail
        self._lead_heights: dict[str, int] = {}
        self._printed = 0  # rendered tail lines already printed for good
        self._live_height = 0  # rows the live area occupies on screen now
        self._interval = min_interval
        self._last = float("-inf")
        self._started = False
        self._closed = False

    @property
    def text(self) -> str:
        """The whole reply received so far."""
        return "".join(self._stable) + "".join(self._tail)

    def feed(self, delta: str) -> None:
        """Append text and re-render if the last refresh is old enough."""
        if self._closed or not delta:
            return
        self._tail.append(delta)
        if not self._live:
            return
        now = self._clock()
        if now - self._last < self._interval:
            return
        self._last = now
        self._refresh()
        if self.min_interval > 0:
            cost = self._clock() - now
            self._interval = min(_MAX_INTERVAL, max(self.min_interval, _SLOW_FACTOR * cost))

    def finish(self) -> None:
        """Print everything not yet printed as final output and remove the live area."""
        if self._closed:
            return
        self._closed = True
        if not self._live:
            if self.text:
                self.console.print(self._markdown(self.text))
            return
        try:
            lines = self._lines("".join(self._tail), self._lead)
            self._write(lines[self._printed :], [])
        finally:
            if self._started:
                self.console.show_cursor(True)

    def abort(self, note: str | None = None) -> None:
        """Stop streaming, keep what arrived as final output, then print an optional dim note."""
        self.finish()
        if note:
            self.console.print(note, style="dim", markup=False, highlight=False)

    def _refresh(self) -> None:
        """Commit settled blocks and overflowing lines, then redraw the live tail."""
        tail, lead, printed = "".join(self._tail), self._lead, self._printed
        md = self._markdown(lead + tail)
        cut, next_lead = _settled_end(md.parsed, lead + tail, 2 if lead else 1)
        stable: list[Line] = []
        if cut:
            committed, tail = tail[: cut - len(lead)], tail[cut - len(lead) :]
            done = self._lines(committed, lead)
            stable += done[printed:]
            # Lines already printed past the cut belong to the new tail (the join is exact).
            lead, printed = next_lead, max(0, printed - len(done))
            md = self._markdown(lead + tail)
        lines = self._render(md)[self._lead_height(lead) :]
        overflow = len(lines) - self._max_live()
        if overflow > printed:
            stable += lines[printed:overflow]
            printed = overflow
        self._write(stable, lines[printed:])
        if cut:
            self._stable.append(committed)
            self._tail = [tail]
        self._lead, self._printed = lead, printed

    def _max_live(self) -> int:
        """Return how many rows the live area may use."""
        rows = self.live_lines or self.console.size.height - _MARGIN
        return max(_MIN_LIVE, rows)

    def _markdown(self, source: str) -> Markdown:
        """Parse Markdown source with this stream's settings."""
        return Markdown(source, code_theme=self.code_theme)

    def _render(self, md: Markdown) -> list[Line]:
        """Render parsed Markdown to lines at the console width."""
        return self.console.render_lines(md, self.console.options, pad=False)

    def _lines(self, source: str, lead: str) -> list[Line]:
        """Render source as it appears after the block that lead stands for."""
        return self._render(self._markdown(lead + source))[self._lead_height(lead) :]

    def _lead_height(self, lead: str) -> int:
        """Return how many rendered lines the stand-in block takes (to drop them)."""
        if lead not in self._lead_heights:
            self._lead_heights[lead] = len(self._render(self._markdown(lead))) if lead else 0
        return self._lead_heights[lead]

    def _write(self, stable: list[Line], live: list[Line]) -> None:
        """Replace the live area with stable lines (kept) followed by new live lines."""
        segments: list[Segment] = []
        if self._live_height:
            segments.append(_erase_up(self._live_height))
        for line in stable:
            segments += line
            segments.append(Segment.line())
        for index, line in enumerate(live):
            if index:
                segments.append(Segment.line())
            segments += line
        with self.console:  # one write per refresh: no flicker
            if not self._started:
                self._started = True
                self.console.show_cursor(False)
            self.console.print(Segments(segments), end="", crop=False)
        self._live_height = len(live)


def _erase_up(height: int) -> Segment:
    """Return the control codes that blank the live rows and leave the cursor on the first one."""
    up = ((ControlType.CURSOR_UP, 1), (ControlType.ERASE_IN_LINE, 2)) * (height - 1)
    return Control(ControlType.CARRIAGE_RETURN, (ControlType.ERASE_IN_LINE, 2), *up).segment


def _settled_end(tokens: list, source: str, first: int) -> tuple[int, str]:
    """Return the offset of the last settled top-level block (counting from `first`), or 0, and its lead."""
    complete = source.count("\n")
    starts = [i for i, t in enumerate(tokens) if t.level == 0 and t.nesting >= 0 and t.map]
    # A block start is trusted once the line after it is complete: a table needs its
    # delimiter row, and a half-typed line ("#", "***") may still turn into a paragraph.
    settled = [i for i in starts[first:] if tokens[i].map[0] <= complete - 2]
    if not settled:
        return 0, ""
    index = settled[-1]
    lead = _AFTER_RULE if tokens[index - 1].type == "hr" else _AFTER_BLOCK
    return _line_offset(source, tokens[index].map[0]), lead


def _line_offset(source: str, line: int) -> int:
    """Return the character offset where the given 0-based line starts."""
    offset = 0
    for _ in range(line):
        offset = source.index("\n", offset) + 1
    return offset
