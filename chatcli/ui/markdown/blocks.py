"""Markdown's reading (reading.py) drawn as terminal rows, one source line at a time.

``Blocks.line`` takes each complete line of the answer once and returns the rows to print
for good: headings, paragraphs, bullet and numbered items, quotes, rules, fenced code
(coloured by Pygments, line by line, on the theme's background) and tables (held until
their last row, then laid out by rich). ``Blocks.live`` shows the unfinished last line
the way it will look, without changing any state, so a streamed answer never needs a
second pass. Each source line becomes its own rows: a paragraph keeps the model's line
breaks, and spacing between blocks follows blank lines, with one blank row around
headings, rules, code and tables.
"""

from __future__ import annotations

import io
import re
from typing import Any, Callable, Iterable, cast

from chatcli.content.markdown import Line, Reader, Span, Spans
from chatcli.ui.markdown.code import highlighter
from chatcli.ui.markdown.style import RESET, Palette, fit_cells, width_of, wrap

_ESCAPES = re.compile(r"\x1b\[[\d;]*m|\x1b\]8;[^\x1b]*\x1b\\")


class Blocks:
    """Turn Markdown source into terminal rows of at most ``width`` cells, line by line."""

    def __init__(self, palette: Palette, width: int) -> None:
        self.palette, self.width = palette, width
        self._reader = Reader()
        self._colour: Callable[[str, bool], Iterable[tuple[Any, str]]] | None = None  # the code block's colourer
        self._gap = self._started = False  # a blank row is owed before the next block; any row printed yet

    def line(self, source: str) -> list[str]:
        """Rows to print for good for one complete source line (maybe none yet)."""
        lines = self._reader.line(source)
        rows = self._emit(self._table(lines[:-1]), before=True, after=True) if len(lines) > 1 else []
        return rows + self._draw(lines[-1]) if lines else rows

    def live(self, partial: str) -> list[str]:
        """Rows showing an unfinished last line (and a table still arriving); no state changes."""
        line = self._reader.peek(partial)
        if self._reader.fence:
            return self._code_rows(line.text, commit=False) if line else []
        rows = [self._pending_row(held) for held in self._reader.held]
        block, before, _ = self._block(line) if line else ([], False, False)
        return self._spaced(rows + block, before or bool(rows))

    def close(self) -> list[str]:
        """Rows that finish the answer: a table still held, the end of an unclosed code block."""
        fenced, lines = self._reader.fence is not None, self._reader.close()
        rows = self._emit(self._table(lines), before=True) if lines else []
        if fenced:
            rows += self._emit(self._pad_rows())
        self._gap = False
        return rows

    def _draw(self, line: Line) -> list[str]:
        """Rows for a line's reading, outside tables."""
        plain = self.palette.system is None
        if line.kind == "blank":
            self._gap = self._started
            return []
        if line.kind == "open":
            self._colour = highlighter(line.lang.lower())
            self._gap = self._gap or plain and self._started
            return self._emit(self._pad_rows(), before=True)
        if line.kind == "close":
            self._gap = self._gap or plain
            return self._emit(self._pad_rows(), after=True)
        if line.kind == "code":
            return self._emit(self._code_rows(line.text, commit=True))
        block, before, after = self._block(line)
        return self._emit(block, before=before, after=after)

    def _emit(self, rows: list[str], before: bool = False, after: bool = False) -> list[str]:
        if rows:
            rows, self._started, self._gap = self._spaced(rows, before), True, after
        return rows

    def _spaced(self, rows: list[str], before: bool) -> list[str]:
        """The rows behind a blank row, when one is owed or they want one (and anything was printed)."""
        return [""] + rows if rows and self._started and (self._gap or before) else rows

    def _block(self, line: Line) -> tuple[list[str], bool, bool]:
        """Rows for a line outside code and tables, and whether it wants a blank row before/after."""
        if line.kind == "heading":
            return self._wrap(_styled(line.spans, (f"h{line.level}",)), [], []), True, True
        if line.kind == "rule":
            return [self.palette.paint([Span("─" * self.width, ("hr",))])], True, True
        if line.kind == "pending":
            return [self._pending_row(line.text)], True, False
        bar = [Span("▌ " * line.quote, ("quote",))] if line.quote else []
        spans, indent = _styled(line.spans, ("quote",) if line.quote else ()), " " * min(line.indent, self.width // 2)
        if line.kind == "item":
            mark = Span("• ", ("bullet",)) if line.marker in "-*+" else Span(line.marker + " ", ("number",))
            rest = bar + [Span(" " * (len(indent) + width_of(mark.text)))]
            return self._wrap(spans, bar + [Span(indent), mark], rest), False, False
        lead = bar + [Span(indent)] if indent else bar
        return self._wrap(spans, lead, lead), False, False

    def _wrap(self, spans: list[Span], first: list[Span], rest: list[Span]) -> list[str]:
        spans = spans if self.palette.links else plain_links(spans)
        return [self.palette.paint(row) for row in wrap(spans, self.width, first, rest)]

    def _code_rows(self, text: str, commit: bool) -> list[str]:
        """One line of code on the theme's background, padded to the width, split if too long."""
        palette, background = self.palette, self.palette.code_background
        colour = self._colour if palette.system is not None else None
        pieces = (
            [(palette.token(kind), value) for kind, value in colour(text, commit)] if colour else [(background, text)]
        )
        room = max(1, self.width - 2)
        rows, row, used = [], [background, " "], 0
        for codes, value in pieces:
            value = value.replace("\n", "")
            while value:
                size = width_of(value)
                if used + size <= room:
                    row += (codes, value)
                    used += size
                    break
                head = fit_cells(value, room - used) if room > used else ""
                if head and width_of(head) <= room - used:
                    row += (codes, head)
                    value = value[len(head) :]
                rows.append(self._end_code_row(row, room))
                row, used = [background, " "], 0
        rows.append(self._end_code_row(row, room))
        return rows

    def _end_code_row(self, row: list[str], room: int) -> str:
        used = sum(width_of(part) for part in row[1::2])
        if self.palette.system is None:
            return "".join(row).rstrip()
        return "".join(row) + f"{self.palette.code_background}{' ' * (room + 2 - used)}{RESET}"

    def _pad_rows(self) -> list[str]:
        """The blank row above and below a code block, on the code background (none without colour)."""
        return [] if self.palette.system is None else [f"{self.palette.code_background}{' ' * self.width}{RESET}"]

    def _pending_row(self, source: str) -> str:
        return self.palette.paint([Span(fit_cells(source.rstrip(), self.width), ("pending",))])

    def _table(self, lines: list[Line]) -> list[str]:
        """A table's lines laid out by rich (or, read as no table, each line's rows)."""
        if lines[0].kind != "table":
            return [row for line in lines for row in self._block(line)[0]]
        from rich import box
        from rich.console import Console
        from rich.style import Style
        from rich.table import Table
        from rich.text import Text

        palette = self.palette

        def text(cell: Spans) -> Text:
            spans = list(cell) if palette.links else plain_links(list(cell))
            return Text.assemble(*((s.text, palette.style(s.style) + Style(link=s.link or None)) for s in spans))

        style = palette.style
        table = Table(
            box=box.SIMPLE_HEAVY, border_style=style(("table.border",)), header_style=style(("table.header",))
        )
        for cell, justify in zip(lines[0].cells, lines[0].align):
            table.add_column(text(cell), justify=justify)
        for line in lines[2:]:
            table.add_row(*(text(cell) for cell in line.cells))
        colour = palette.system_name
        console = Console(
            file=io.StringIO(), width=self.width, color_system=colour, force_terminal=bool(colour), legacy_windows=False
        )
        console.print(table)
        rows = cast(io.StringIO, console.file).getvalue().split("\n")[:-1]
        shown = [index for index, row in enumerate(rows) if _ESCAPES.sub("", row).strip()]  # blank rows around: cut
        rows = rows[shown[0] : shown[-1] + 1] if shown else []
        return [row.rstrip() if palette.system is None else row for row in rows]


def plain_links(spans: list[Span]) -> list[Span]:
    """Spans with each link target written after its text, for output without hyperlinks."""
    out: list[Span] = []
    for index, span in enumerate(spans):
        out.append(span)
        last = index + 1 == len(spans) or spans[index + 1].link != span.link
        if span.link and last and span.link != span.text:
            out.append(Span(f" ({span.link})", span.style))
    return out


def _styled(spans: Spans, base: tuple[str, ...]) -> list[Span]:
    """Spans with the block's styles under their own."""
    return [Span(span.text, base + span.style, span.link) for span in spans] if base else list(spans)
