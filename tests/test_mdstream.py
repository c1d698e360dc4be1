"""Streaming Markdown: what ends up in the terminal's scrollback, and what it costs.

MarkdownStream draws its live area with four sequences only (CR, LF, erase line
``ESC[2K``, cursor up ``ESC[1A``), plus SGR colours, OSC 8 links and cursor show/hide,
so the tiny screen emulator below replays its output exactly.  It keeps scrollback and
screen in one list and fails if the cursor is ever moved above the visible screen
(which a real terminal cannot do, and which corrupts scrollback) or a row is wider than
the terminal.

The streamed result is compared line for line with rendering the whole text at once
(``render_markdown``), however the text was cut into tokens and however often it redrew.
"""

from __future__ import annotations

import io
import random
import re

import pytest
from rich.console import Console

from chatcli.ui.markdown import stream as mdstream
from chatcli.ui.markdown.stream import MarkdownStream

WIDTH, HEIGHT = 80, 24
_ESCAPE = re.compile(r"\x1b\[\?25([lh])|\x1b\[([\d;]*)([A-Za-z])|\x1b\]8;[^\x1b]*\x1b\\|\r|\n|[^\x1b\r\n]+")


def emulate(output: str, height: int = HEIGHT) -> tuple[list[str], bool]:
    """Replay terminal output; return the scrollback+screen lines and whether the cursor is visible."""
    lines, row, col, cursor_visible = [""], 0, 0, True
    for match in _ESCAPE.finditer(output):
        token, show, count, command = match.group(0), match.group(1), match.group(2), match.group(3)
        if show:
            cursor_visible = show == "h"
        elif command == "A":
            row -= int(count or 1)
            assert row >= len(lines) - height, "cursor moved into scrollback"
        elif command == "K":
            lines[row] = ""
        elif command or token.startswith("\x1b]"):
            continue  # colours and hyperlinks
        elif token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
            assert col <= WIDTH, "line wider than the terminal"
    return [line.rstrip() for line in lines], cursor_visible


def make_console(color_system: str | None = None) -> Console:
    """Return a terminal-like console writing to memory."""
    return Console(file=io.StringIO(), force_terminal=True, width=WIDTH, height=HEIGHT, color_system=color_system)


def tokens(text: str) -> list[str]:
    """Split text like a model streams it: words with their leading whitespace."""
    return re.findall(r"\s*\S+|\s+", text)


def expected(text: str, color_system: str | None = None) -> list[str]:
    """Render the whole text at once, as the plain lines a terminal would show."""
    return trim(emulate(mdstream.render_markdown(text, make_console(color_system)))[0])


def trim(lines: list[str]) -> list[str]:
    """Drop trailing blank lines (rows below the cursor that were erased)."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def stream(text: str, color_system: str | None = None, **options) -> tuple[list[str], bool, Console]:
    """Feed text token by token, refreshing on every token, and return the emulated screen."""
    console = make_console(color_system)
    md = MarkdownStream(console, min_interval=options.pop("min_interval", 0), **options)
    for token in tokens(text):
        md.feed(token)
    md.finish()
    assert md.text == text
    lines, cursor_visible = emulate(console.file.getvalue())
    return trim(lines), cursor_visible, console


PARAGRAPH = (
    "Streaming **Markdown** is *tricky*: the `tail` keeps changing while the rest of the "
    "answer stays put, so the renderer prints finished blocks once and redraws only the end."
)
CODE = "```python\n" + "\n".join(f"def step_{i}(x):\n    return x * {i}  # line {i}" for i in range(8)) + "\n```"


def long_reply(sections: int = 6) -> str:
    """Return a realistic multi-block answer several screens long."""
    blocks = ["# Streaming answers"]
    for i in range(sections):
        blocks += [
            f"## Part {i}",
            PARAGRAPH,
            "\n".join(f"- point {i}.{j} with `code` and *emphasis*" for j in range(4)),
            "1. first\n\n2. second, loose\n\n3. third",
            CODE.replace("step_", f"s{i}_"),
            "> a quote that\n> spans two lines",
            "---",
        ]
    return "\n\n".join(blocks) + "\n"


def test_long_reply_scrolls_with_every_line_exactly_once():
    text = long_reply(4)
    lines, cursor_visible, _ = stream(text)
    assert len(lines) > 3 * HEIGHT
    assert lines == expected(text)
    assert cursor_visible
    for i in range(4):
        assert sum(f"def s{i}_7(x):" in line for line in lines) == 1
        assert sum(line.strip() == f"Part {i}" for line in lines) == 1


def test_colours_and_small_live_area_give_the_same_lines():
    text = long_reply(3)
    lines, _, console = stream(text, color_system="truecolor", live_lines=3)
    assert "\x1b[" in console.file.getvalue()
    assert lines == expected(text, "truecolor")


def test_code_block_longer_than_the_screen():
    body = "\n".join(f"value_{i} = compute({i})" for i in range(2 * HEIGHT))
    text = f"Here is the script:\n\n```python\n{body}\n```\n\nDone."
    lines, _, _ = stream(text)
    assert lines == expected(text)
    for i in range(2 * HEIGHT):
        assert sum(f"value_{i} = compute({i})" in line for line in lines) == 1


def test_markup_is_rendered_not_echoed():
    lines, _, _ = stream(long_reply(2))
    assert not any("```" in line for line in lines)
    assert not any(line.lstrip().startswith("#") for line in lines)
    assert not any("**" in line for line in lines)


@pytest.mark.parametrize(
    "text",
    [
        "Intro.\n\n1. a\n\n2. b\n\n   more about b\n\n3. c\n\nAfter.",
        "A paragraph\nthat becomes a heading\n===\n\nNext.",
        "Before.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\nAfter.",
        "Rule next.\n\n---\n\nAfter the rule.\n\n***\n\n## Head\nText",
        "Title\n#not a heading\n\n    indented code\n\n    more code\n\nEnd.",
        "```\nopen fence\n\nwith blank lines\n\nnever closed",
        "> quote\n\n> second quote\n\n- item\n\n  continued\n- next",
        "Text\n\n<div>\nhtml\n</div>\n\nMore ![img](x.png) text\n\n1) one\n2) two\n\n10. ten\n\n* star",
        "***bold italic*** text\n\n#no heading\n\n---\n___init___ x\n\n- [ ] task\n\n```js\nlet x = 1;\n```\n",
    ],
)
def test_block_joins_match_rendering_everything_at_once(text):
    assert stream(text)[0] == expected(text)


@pytest.mark.parametrize("seed", range(12))
def test_arbitrary_chunking_gives_the_same_output(seed):
    # Deltas that cut lines anywhere ("#", "**", "|-" half typed) must not commit a block too early.
    rnd = random.Random(seed)
    text = long_reply(1) + "\n| a | b |\n|---|---|\n| 1 | 2 |\n\nPara\n===\n\n1. x\n\n2. y\n"
    colours = rnd.choice([None, "truecolor"])
    console = make_console(colours)
    md = MarkdownStream(console, min_interval=0, live_lines=rnd.choice([None, 3, 5]))
    start = 0
    while start < len(text):
        size = rnd.choice([1, 1, 2, 3, 5, 8, 20])
        md.feed(text[start : start + size])
        start += size
    md.finish()
    assert trim(emulate(console.file.getvalue())[0]) == expected(text, colours)


def test_a_reply_stopped_midway_keeps_its_partial_text():
    text = long_reply(2)
    console = make_console()
    md = MarkdownStream(console, min_interval=0)
    parts = tokens(text)
    for token in parts[: len(parts) // 2]:
        md.feed(token)
    md.finish()  # a stopped reply is finished where it stands (chatcli.ui.output.RichOutput._settle)
    md.feed("ignored once finished")
    lines, cursor_visible = emulate(console.file.getvalue())
    lines = trim(lines)
    assert cursor_visible
    assert lines == expected(md.text)
    assert "Part 0" in "\n".join(lines) and "ignored" not in "\n".join(lines)


def test_not_a_terminal_prints_final_markdown_only():
    console = Console(file=io.StringIO(), width=WIDTH)
    md = MarkdownStream(console)
    for token in tokens(long_reply(1)):
        md.feed(token)
    assert console.file.getvalue() == ""
    md.finish()
    output = console.file.getvalue()
    assert "\x1b" not in output and "Part 0" in output and "```" not in output


def test_refreshes_are_throttled_by_the_clock():
    console = make_console()
    now = [0.0]
    md = MarkdownStream(console, min_interval=0.1, clock=lambda: now[0])
    md.feed("Hello")  # first feed draws at once
    drawn = console.file.getvalue()
    for token in tokens(" world, " * 20):
        md.feed(token)
    assert console.file.getvalue() == drawn
    now[0] = 0.2
    md.feed(" more")
    assert len(console.file.getvalue()) > len(drawn)


def rendered_chars(monkeypatch, text: str, **options) -> tuple[int, int]:
    """Stream text; return how many characters went to final rendering and to live previews."""
    final, live = [0], [0]
    real_line, real_live = mdstream.Blocks.line, mdstream.Blocks.live

    def line(self, source):
        final[0] += len(source) + 1
        return real_line(self, source)

    def preview(self, partial):
        live[0] += len(partial)
        return real_live(self, partial)

    monkeypatch.setattr(mdstream.Blocks, "line", line)
    monkeypatch.setattr(mdstream.Blocks, "live", preview)
    console = make_console()
    md = MarkdownStream(console, **options)
    for token in tokens(text):
        md.feed(token)
    md.finish()
    monkeypatch.undo()
    return final[0], live[0]


def test_every_line_is_rendered_for_good_exactly_once(monkeypatch):
    text = long_reply(4)
    final, _ = rendered_chars(monkeypatch, text, min_interval=0)
    assert final == len(text) + 1  # each line once, with its newline (and the empty last line)


def test_rendering_cost_is_linear_in_the_answer(monkeypatch):
    short, long = long_reply(3), long_reply(6)
    # Refresh on every token: previews cost what the unfinished line costs, not the answer so far.
    ratio = sum(rendered_chars(monkeypatch, long, min_interval=0)) / sum(
        rendered_chars(monkeypatch, short, min_interval=0)
    )
    assert ratio < 2.3
    # At 2,000 tokens/s with the default 15 refreshes/s, previews add little to one pass.
    clock = iter(i / 2000 for i in range(10**6))
    final, live = rendered_chars(monkeypatch, long, clock=lambda: next(clock))
    assert live < 0.2 * final
