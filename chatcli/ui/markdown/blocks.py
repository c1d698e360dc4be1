"""Markdown blocks to terminal rows, one source line at a time.

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
from typing import TYPE_CHECKING, Any, Callable, Iterable, NamedTuple, cast

from chatcli.ui.markdown.code import highlighter
from chatcli.ui.markdown.inline import inline, plain_links
from chatcli.ui.markdown.style import RESET, Palette, Span, fit_cells, width_of, wrap

if TYPE_CHECKING:
    from rich.console import JustifyMethod

_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_QUOTE = re.compile(r" {0,3}> ?")
_ITEM = re.compile(r"([ \t]*)([-*+]|\d{1,9}[.)])(?:[ \t]+|$)(.*)")
_FENCE = re.compile(r"([ \t]*)(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$")
_DELIMITER = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_ESCAPES = re.compile(r"\x1b\[[\d;]*m|\x1b\]8;[^\x1b]*\x1b\\")


class Fence(NamedTuple):
    """An open fenced code block: its marker, indentation and line colourer (None: no colour)."""

    marker: str
    indent: int
    colour: Callable[[str, bool], Iterable[tuple[Any, str]]] | None


class Blocks:
    """Turn Markdown source into terminal rows of at most ``width`` cells, line by line."""

    def __init__(self, palette: Palette, width: int) -> None:
        self.palette, self.width = palette, width
        self._fence: Fence | None = None
        self._table: list[str] = []
        self._gap = False  # a blank row is owed before the next block
        self._started = False  # any row printed yet

    def line(self, source: str) -> list[str]:
        """Rows to print for good for one complete source line (maybe none yet)."""
        source = source.expandtabs(4)
        if self._fence:
            if _closes(source, self._fence):
                self._fence = None
                if self.palette.system is None:
                    self._gap = True
                return self._emit(self._pad_rows(), after=True)
            return self._emit(self._code_rows(source, self._fence, commit=True))
        rows: list[str] = []
        if self._table and not _table_row(source):  # (a row of the table: held below, with the others)
            rows = self._emit(self._flush_table(), before=True, after=True)
        if not source.strip():
            self._gap = self._started
            return rows
        if _table_row(source):
            self._table.append(source)
            return rows
        if fence := _FENCE.match(source):
            self._fence = Fence(fence.group(2), len(fence.group(1)), highlighter(fence.group(3).lower()))
            if self.palette.system is None:
                self._gap = self._started
            return rows + self._emit(self._pad_rows(), before=True)
        block, before, after = self._block(source)
        return rows + self._emit(block, before=before, after=after)

    def live(self, partial: str) -> list[str]:
        """Rows showing an unfinished last line (and a table still arriving); no state changes."""
        partial = partial.expandtabs(4)
        stripped = partial.strip()
        if self._fence:
            if not partial or stripped and not stripped.strip(self._fence.marker[0]):
                return []  # nothing yet, or maybe the closing fence
            return self._code_rows(partial, self._fence, commit=False)
        rows = [self._pending_row(line) for line in self._table]
        before = bool(rows)
        if _table_row(partial):
            rows.append(self._pending_row(partial))
            before = True
        elif stripped and not _typing_fence(stripped):
            block, wants, _ = self._block(partial)
            before = before or wants
            rows += block
        if rows and self._started and (self._gap or before):
            rows = [""] + rows
        return rows

    def close(self) -> list[str]:
        """Rows that finish the answer: a table still held, the end of an unclosed code block."""
        rows = self._emit(self._flush_table(), before=True) if self._table else []
        if self._fence:
            self._fence = None
            rows += self._emit(self._pad_rows())
        self._gap = False
        return rows

    def _emit(self, rows: list[str], before: bool = False, after: bool = False) -> list[str]:
        if not rows:
            return rows
        if self._started and (self._gap or before):
            rows = [""] + rows
        self._started = True
        self._gap = after
        return rows

    def _block(self, source: str) -> tuple[list[str], bool, bool]:
        """Rows for a line outside code and tables, and whether it wants a blank row before/after."""
        if heading := _HEADING.match(source):
            spans = inline((heading.group(2) or "").strip(), (f"h{len(heading.group(1))}",))
            return self._wrap(spans, [], []), True, True
        if _RULE.match(source):
            return [self.palette.paint([Span("─" * self.width, ("hr",))])], True, True
        depth, text = 0, source
        while match := _QUOTE.match(text):
            depth, text = depth + 1, text[match.end() :]
        base = ("quote",) if depth else ()
        bar = [Span("▌ " * depth, ("quote",))] if depth else []
        item = _ITEM.match(text)
        if item and not (item.group(2)[0] in "-*+" and _RULE.match(text)):
            indent = item.group(1)[: self.width // 2]
            marker = item.group(2)
            mark = Span("• ", ("bullet",)) if marker in "-*+" else Span(marker + " ", ("number",))
            first = bar + [Span(indent), mark]
            rest = bar + [Span(" " * (len(indent) + width_of(mark.text)))]
            return self._wrap(inline(item.group(3).strip(), base), first, rest), False, False
        indent = text[: len(text) - len(text.lstrip())][: self.width // 2]
        lead = bar + [Span(indent)] if indent else bar
        return self._wrap(inline(text.strip(), base), lead, lead), False, False

    def _wrap(self, spans: list[Span], first: list[Span], rest: list[Span]) -> list[str]:
        if not self.palette.links:
            spans = plain_links(spans)
        paint = self.palette.paint
        return [paint(row) for row in wrap(spans, self.width, first, rest)]

    def _code_rows(self, source: str, fence: Fence, commit: bool) -> list[str]:
        """One line of code on the theme's background, padded to the width, split if too long."""
        text = source[min(fence.indent, len(source) - len(source.lstrip(" "))) :]
        palette = self.palette
        if fence.colour is not None and palette.system is not None:
            pieces = [(palette.token(kind), value) for kind, value in fence.colour(text, commit)]
        else:
            pieces = [(palette.code_background, text)]
        background = palette.code_background
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

    def _flush_table(self) -> list[str]:
        """The rows held, as a table laid out by rich (or, without a delimiter row, as the lines they are)."""
        lines, self._table = self._table, []
        if len(lines) < 2 or not _DELIMITER.match(lines[1]):
            return [row for line in lines for row in self._block(line)[0]]
        from rich import box
        from rich.console import Console
        from rich.style import Style
        from rich.table import Table
        from rich.text import Text

        palette = self.palette

        def text(cell: str) -> Text:
            spans = inline(cell) if palette.links else plain_links(inline(cell))
            return Text.assemble(*((s.text, palette.style(s.style) + Style(link=s.link or None)) for s in spans))

        header = _cells(lines[0])
        justify = [_justify(cell) for cell in _cells(lines[1])]
        style = palette.style
        table = Table(
            box=box.SIMPLE_HEAVY, border_style=style(("table.border",)), header_style=style(("table.header",))
        )
        for index, cell in enumerate(header):
            table.add_column(text(cell), justify=justify[index] if index < len(justify) else "left")
        for line in lines[2:]:
            table.add_row(*(text(cell) for cell in _cells(line)[: len(header)]))
        colour = palette.system_name
        console = Console(
            file=io.StringIO(), width=self.width, color_system=colour, force_terminal=bool(colour), legacy_windows=False
        )
        console.print(table)
        rows = cast(io.StringIO, console.file).getvalue().split("\n")[:-1]
        shown = [index for index, row in enumerate(rows) if _ESCAPES.sub("", row).strip()]  # blank rows around: cut
        rows = rows[shown[0] : shown[-1] + 1] if shown else []
        return [row.rstrip() if palette.system is None else row for row in rows]


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of an answer, in order, read as ``Blocks`` shows them (without their fences and the
    fence's indentation; one cut off at the end: what there is of it): what /copy N counts is what was seen."""
    blocks: list[list[str]] = []
    fence: Fence | None = None
    for source in markdown.expandtabs(4).splitlines():
        if fence is not None and _closes(source, fence):
            fence = None
        elif fence is not None:
            blocks[-1].append(source[min(fence.indent, len(source) - len(source.lstrip(" "))) :])
        elif (opened := _FENCE.match(source)) and not _table_row(source):
            fence = Fence(opened.group(2), len(opened.group(1)), None)
            blocks.append([])
    return ["\n".join(lines) for lines in blocks]


def _closes(source: str, fence: Fence) -> bool:
    stripped = source.strip()
    return stripped.startswith(fence.marker) and not stripped.strip(fence.marker[0])


def _typing_fence(stripped: str) -> bool:
    """Whether an unfinished line may be the start of a code fence."""
    short = len(stripped) < 3 and not stripped.strip(stripped[0]) and stripped[0] in "`~"
    return stripped.startswith(("```", "~~~")) or short


def _table_row(source: str) -> bool:
    return source.lstrip().startswith("|")


def _cells(line: str) -> list[str]:
    """The cells of a table row, outer pipes removed, escaped pipes kept."""
    body = line.strip().removeprefix("|")
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def _justify(cell: str) -> JustifyMethod:
    return "center" if cell.startswith(":") and cell.endswith(":") else "right" if cell.endswith(":") else "left"
