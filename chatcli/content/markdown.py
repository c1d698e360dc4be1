"""An answer's Markdown, read: once for the terminal (chatcli.ui.markdown draws it), chat serve's page (sent as
JSON: chatcli.api.turns) and /copy (``code_blocks``).

Each source line is read as what it looks like on its own, given what came before it (an open code fence, a table
being read): so an answer that streams in is read as it arrives, each complete line once (``Reader.line``), and the
unfinished last one read as it stands without changing anything (``Reader.peek``). A table's lines are held until
the table ends: its first line is a header only when the second is a delimiter row.

Inline (``inline``): a marker only counts when it is closed on the same line (``**bold**``, ```code```); otherwise it
is shown as typed, so a lone ``*`` or an unfinished line never restyles the rest of the answer. Underscores only mark
emphasis at word edges (``snake_case_name`` stays). A bare http(s) address is a link, unstyled (as typed): it
ends before a space, ``"``, ``<``, ``>`` or a control character's symbol, and leaves out the ``.,:;!?')]*_~`` it
would end with.
"""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple


class Span(NamedTuple):
    """A run of text in one style; ``link`` is the target of a hyperlink, or empty."""

    text: str
    style: tuple[str, ...] = ()
    link: str = ""


# Each marked run is bounded (``_RUN`` characters inside its markers), and a line is read for them up to ``_READ``
# characters: what a model writes (a hostile answer too) is read in time linear in its length.
_RUN, _READ = 1000, 20_000
_INLINE = re.compile(
    (
        r"(?P<code>(?<!`)(?P<ticks>`++)(?P<code_text>.{1,_RUN}?)(?<!`)(?P=ticks)(?!`))"
        r"|\\(?P<escaped>[!-/:-@\[-`{-~])"
        r"|!\[(?P<alt>[^\]]{0,_RUN})\]\((?P<src>[^)\s]{0,_RUN})(?:\s+\"[^\"]{0,_RUN}\")?\)"
        r"|\[(?P<label>[^\]]{1,_RUN})\]\((?P<url>[^)\s]{1,_RUN})(?:\s+\"[^\"]{0,_RUN}\")?\)"
        r"|<(?P<auto>(?:https?|mailto):[^>\s]{1,_RUN})>"
        r"|\*\*\*(?=\S)(?P<strong_em>.{1,_RUN}?)(?<=\S)\*\*\*"
        r"|\*\*(?=\S)(?P<strong>.{1,_RUN}?)(?<=\S)\*\*(?!\*)"
        r"|(?<![\w_])__(?=\S)(?P<strong_u>.{1,_RUN}?)(?<=\S)__(?![\w_])"
        r"|\*(?=[^\s*])(?P<em>.{1,_RUN}?)(?<=[^\s*])\*(?!\*)"
        r"|(?<![\w_])_(?=[^\s_])(?P<em_u>.{1,_RUN}?)(?<=[^\s_])_(?![\w_])"
        r"|~~(?=\S)(?P<strike>.{1,_RUN}?)(?<=\S)~~"
        r"|(?P<bare>https?://[^\s<>\"\u2400-\u2421\ufffd]{0,_RUN}[^\s<>.,:;\"')\]!?*_~\u2400-\u2421\ufffd])"
    ).replace("_RUN", str(_RUN))
)
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_QUOTE = re.compile(r" {0,3}> ?")
_ITEM = re.compile(r"([ \t]*)([-*+]|\d{1,9}[.)])(?:[ \t]+|$)(.*)")
_FENCE = re.compile(r"([ \t]*)(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$")
_DELIMITER = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
Spans = tuple[Span, ...]
Kind = Literal[
    "blank", "text", "heading", "item", "rule", "open", "code", "close", "table", "delimiter", "row", "pending"
]
Align = Literal["left", "center", "right"]


class Line(NamedTuple):
    """One source line, read: ``kind`` says what it is (blank, text: a paragraph's line, heading, item, rule; open,
    code and close: a fenced code block's lines; table: a table's header, delimiter, row; pending: a table's row still
    arriving, as typed in ``text``). Serve sends it as an object of its non-empty fields (``json``), each span as
    ``[text, styles, link]`` (styles among strong, em, strike, code and link; link the target, or "")."""

    kind: Kind
    spans: Spans = ()  # text, heading, item: the line's inline text
    level: int = 0  # heading: 1 to 6
    quote: int = 0  # text, item: how many quotes (">") it is inside
    indent: int = 0  # text, item: the columns before it
    marker: str = ""  # item: "-", "*" or "+", or its number as written ("1.", "2)")
    lang: str = ""  # open: the code's language, as written
    text: str = ""  # code: the line, without the fence's indentation; pending: the line as typed
    cells: tuple[Spans, ...] = ()  # table: the header's cells; row: its cells (at most the header's many)
    align: tuple[Align, ...] = ()  # table: each column's "left", "center" or "right"

    def json(self) -> dict[str, Any]:
        """The line as serve sends it."""
        return {name: value for name, value in self._asdict().items() if value}


class Reader:
    """Reads Markdown one complete line at a time (tabs as 4 columns)."""

    def __init__(self) -> None:
        self.fence: tuple[str, int] | None = None  # an open code block's fence and indentation
        self.held: list[str] = []  # a table's lines, until it ends

    def line(self, source: str) -> list[Line]:
        """What is read once ``source`` came: the lines of a table it ends first, then its own (none while it is a
        table's: held)."""
        source = source.expandtabs(4)
        if self.fence:
            if (stripped := source.strip()).startswith(self.fence[0]) and not stripped.strip(self.fence[0][0]):
                self.fence = None
                return [Line("close")]
            return [_code(source, self.fence[1])]
        if source.lstrip().startswith("|"):
            self.held.append(source)
            return []
        lines = self.close()
        if fence := _FENCE.match(source):
            self.fence = (fence.group(2), len(fence.group(1)))
            return [*lines, Line("open", lang=fence.group(3))]
        return [*lines, _block(source) if source.strip() else Line("blank")]

    def peek(self, partial: str) -> Line | None:
        """An unfinished last line read as it stands (None: nothing to show yet, a blank or maybe a fence); nothing
        changes."""
        stripped = (partial := partial.expandtabs(4)).strip()
        if self.fence:
            closing = not partial or stripped and not stripped.strip(self.fence[0][0])
            return None if closing else _code(partial, self.fence[1])
        if stripped.startswith("|"):
            return Line("pending", text=partial)
        fencing = stripped[:3] in ("`", "``", "```", "~", "~~", "~~~")  # maybe a code fence, being typed
        return None if not stripped or fencing else _block(partial)

    def close(self) -> list[Line]:
        """The end of the text: the lines of a table still held (an open code block ends with them)."""
        held, self.held, self.fence = self.held, [], None
        if len(held) < 2 or not _DELIMITER.match(held[1]):
            return [_block(line) for line in held]
        header = tuple(tuple(inline(cell)) for cell in _cells(held[0]))
        align = tuple(_justify(cell) for cell in (_cells(held[1]) + [""] * len(header))[: len(header)])
        rows = [Line("row", cells=tuple(tuple(inline(c)) for c in _cells(line)[: len(header)])) for line in held[2:]]
        return [Line("table", cells=header, align=align), Line("delimiter"), *rows]


def inline(text: str, style: tuple[str, ...] = (), link: str = "") -> list[Span]:
    """Split a line of Markdown into styled spans, markers removed."""
    if len(text) > _READ or not any(c in text for c in "`\\![<*_~:"):
        return [Span(text, style, link)] if text else []
    spans: list[Span] = []
    start = 0
    for match in _INLINE.finditer(text):
        if match.start() > start:
            spans.append(Span(text[start : match.start()], style, link))
        start = match.end()
        kind = match.lastgroup
        assert kind is not None  # each of the pattern's alternatives is a named group
        if kind == "code":
            body = match.group("code_text")
            body = body[1:-1] if body[:1] == body[-1:] == " " and body.strip() else body
            spans.append(Span(body, style + ("code",), link))
        elif kind == "escaped":
            spans.append(Span(match.group("escaped"), style, link))
        elif kind == "src":
            alt = match.group("alt") or match.group("src")
            spans.append(Span(f"[image: {alt}]", style + ("link",), match.group("src")))
        elif kind == "url":
            spans += inline(match.group("label"), style + ("link",), match.group("url"))
        elif kind == "bare":  # linked as the terminal showed it: unstyled, and inside a link its link
            spans.append(Span(match.group("bare"), style, link or match.group("bare")))
        elif kind == "auto":
            spans.append(Span(match.group("auto"), style + ("link",), match.group("auto")))
        else:  # the group is named by its styles: strong_em, em_u
            spans += inline(match.group(kind), style + tuple(kind.removesuffix("_u").split("_")), link)
    if start < len(text):
        spans.append(Span(text[start:], style, link))
    return spans


def read(text: str) -> list[Line]:
    """A whole text, read: a line of reading for each of its lines."""
    reader = Reader()
    return [line for source in text.split("\n") for line in reader.line(source)] + reader.close()


def code_blocks(markdown: str) -> list[str]:
    """The code blocks of an answer, in order, as read (without their fences and the fence's indentation; one cut off
    at the end: what there is of it): what /copy N counts is what was seen."""
    blocks: list[list[str]] = []
    for line in read(markdown):
        if line.kind == "open":
            blocks.append([])
        elif line.kind == "code":
            blocks[-1].append(line.text)
    return ["\n".join(lines) for lines in blocks]


def _block(source: str) -> Line:
    """A line outside code and tables."""
    if heading := _HEADING.match(source):
        return Line("heading", tuple(inline((heading.group(2) or "").strip())), level=len(heading.group(1)))
    if _RULE.match(source):
        return Line("rule")
    quote, text = 0, source
    while match := _QUOTE.match(text):
        quote, text = quote + 1, text[match.end() :]
    item = _ITEM.match(text)
    if item and not (item.group(2)[0] in "-*+" and _RULE.match(text)):
        spans, indent, marker = tuple(inline(item.group(3).strip())), len(item.group(1)), item.group(2)
        return Line("item", spans, quote=quote, indent=indent, marker=marker)
    return Line("text", tuple(inline(text.strip())), quote=quote, indent=len(text) - len(text.lstrip()))


def _code(source: str, indent: int) -> Line:
    """A code block's line, without as much of the fence's indentation as it has."""
    return Line("code", text=source[min(indent, len(source) - len(source.lstrip(" "))) :])


def _cells(line: str) -> list[str]:
    """The cells of a table row, outer pipes removed, escaped pipes kept."""
    body = line.strip().removeprefix("|")
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def _justify(cell: str) -> Align:
    return "center" if cell.startswith(":") and cell.endswith(":") else "right" if cell.endswith(":") else "left"
