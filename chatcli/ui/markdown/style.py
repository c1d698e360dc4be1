"""Terminal styles for rendered Markdown: rich styles turned into escape codes once, and word wrap.

A rendered row is a plain ``str`` holding SGR colour codes (and OSC 8 links) that takes
at most the given number of cells on screen; building rows directly, instead of laying
out rich renderables, is what lets a streamed answer cost about as much CPU as printing
it raw. Colours come from rich: each style is a rich ``Style`` rendered for the
console's colour system, and code is coloured with rich's Pygments themes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Literal

from rich.cells import cell_len
from rich.console import COLOR_SYSTEMS, Console
from rich.style import Style

from chatcli.content.markdown import Span

if TYPE_CHECKING:
    from pygments.token import _TokenType
    from rich.syntax import SyntaxTheme

# After rich's Markdown theme (rich/default_styles.py), with a colour on every heading level; "pending": rows not yet
# final (a table still arriving).
STYLES: dict[str, str] = dict(
    entry.split("=")
    for entry in "h1=bold underline magenta,h2=bold magenta,h3=bold cyan,h4=bold,h5=italic,h6=dim,strong=bold,"
    "em=italic,strike=strike,code=bold cyan on black,link=bright_blue underline,quote=magenta,bullet=bold yellow,"
    "number=yellow,hr=dim,pending=dim,table.border=cyan,table.header=bold cyan".split(",")
)

RESET = "\x1b[0m"
CODE_THEME = "monokai"  # rich's theme of the code blocks
# The name a console of the same colours is made with (rich's Console(color_system=...)): windows' are standard.
SystemName = Literal["standard", "256", "truecolor"]
_NAMES: dict[str, SystemName] = {"standard": "standard", "256": "256", "truecolor": "truecolor", "windows": "standard"}
_PIECES = re.compile(r"\S+|\s+")


def width_of(text: str) -> int:
    """Cells the text takes on screen."""
    return len(text) if text.isascii() else cell_len(text)


class Palette:
    """Escape codes for named styles and for code tokens, for one console's colour system."""

    def __init__(self, console: Console) -> None:
        self.system_name = _NAMES.get(console.color_system or "")
        self.system = COLOR_SYSTEMS[self.system_name] if self.system_name else None
        self.links = self.system is not None and not console.legacy_windows
        self.no_color = console.no_color
        self._sgr: dict[tuple[str, ...], str] = {}
        self._tokens: dict[_TokenType | None, str] = {}
        self._theme: SyntaxTheme | None = None

    def style(self, names: tuple[str, ...]) -> Style:
        """The rich Style for a tuple of style names, later names on top."""
        return sum((Style.parse(STYLES[name]) for name in names), Style())

    def sgr(self, names: tuple[str, ...]) -> str:
        """The escape sequence that switches to these styles ("" without colour)."""
        codes = self._sgr.get(names)
        if codes is None:
            codes = self._sgr[names] = self._render(self.style(names)) if names else ""
        return codes

    def _render(self, style: Style) -> str:
        if self.system is None:
            return ""
        style = style.without_color if self.no_color else style
        return style.render("\0", color_system=self.system).partition("\0")[0]

    @property
    def code_background(self) -> str:
        """The escape sequence for a code block's background."""
        return self.token(None)

    def token(self, token_type: _TokenType | None) -> str:
        """The escape sequence for a Pygments token type in the code theme (None: background)."""
        codes = self._tokens.get(token_type)
        if codes is None:
            if self._theme is None:
                from rich.syntax import Syntax

                self._theme = Syntax.get_theme(CODE_THEME)
            style = self._theme.get_background_style()
            if token_type is not None:
                style += self._theme.get_style_for_token(token_type)
            codes = self._tokens[token_type] = self._render(style)
        return codes

    def paint(self, spans: Iterable[Span]) -> str:
        """Spans as one string of text and escape codes."""
        out = []
        for span in spans:
            codes = self.sgr(span.style)
            text = f"{codes}{span.text}{RESET}" if codes else span.text
            if span.link and self.links:
                text = f"\x1b]8;;{span.link}\x1b\\{text}\x1b]8;;\x1b\\"
            out.append(text)
        return "".join(out)


def wrap(spans: list[Span], width: int, first: list[Span], rest: list[Span]) -> list[list[Span]]:
    """Word-wrap spans into rows of at most ``width`` cells, each row behind a prefix.

    ``first`` leads the first row and ``rest`` every other one (a bullet, then the hanging
    indent under it). Spaces at a break are dropped; a word wider than a row is split; a word whose styles change
    inside it (``**bold**.``, an address and its full stop) goes to the next row whole.
    """
    lead_first, lead_rest = (sum(width_of(s.text) for s in lead) for lead in (first, rest))
    if sum(width_of(s.text) for s in spans) + lead_first <= width:
        return [first + spans]
    rows: list[list[Span]] = []
    row, used, room = list(first), 0, max(1, width - lead_first)
    for index, span in enumerate(spans):
        after = spans[index + 1].text if index + 1 < len(spans) else " "  # a word going on in it moves with its start
        glue = width_of(after.split()[0]) if span.text[-1:].strip() and after[:1].strip() else 0
        for found in _PIECES.finditer(span.text):
            piece, size = found[0], width_of(found[0])
            if used + size + (glue if found.end() == len(span.text) else 0) <= room:
                row.append(Span(piece, span.style, span.link))
                used += size
                continue
            if used or piece.isspace():
                rows.append(row)
                row, used, room = list(rest), 0, max(1, width - lead_rest)
                if piece.isspace():  # a break here: the spaces go
                    continue
            while size > room:  # a word longer than a whole row
                head = fit_cells(piece, room)
                rows.append(row + [Span(head, span.style, span.link)])
                piece = piece[len(head) :]
                size = width_of(piece)
                row, used, room = list(rest), 0, max(1, width - lead_rest)
            if piece:
                row.append(Span(piece, span.style, span.link))
                used += size
    if used or len(row) > len(rest) or not rows:
        rows.append(row)
    return rows


def fit_cells(text: str, cells: int) -> str:
    """The longest start of text that fits in ``cells`` (at least one character)."""
    if text.isascii():
        return text[: max(1, cells)]
    end = 0
    while end < len(text) and cell_len(text[: end + 1]) <= cells:
        end += 1
    return text[: max(1, end)]
