"""What a rendered answer looks like: markup turned into layout and colour, never echoed."""

from __future__ import annotations

import io
import re

from pygments.lexers import get_lexer_by_name
from pygments.token import Keyword, String
from rich.console import Console
from rich.syntax import Syntax

from chatcli.ui.markdown.code import highlighter
from chatcli.ui.markdown.stream import MarkdownStream, render_markdown
from chatcli.ui.markdown.style import Palette
from tests.test_mdstream import emulate, tokens, trim

SGR = re.compile(r"\x1b\[[\d;]*m")
OSC8 = re.compile(r"\x1b\]8;;([^\x1b]*)\x1b\\")


def console(width: int = 80, colour: str | None = "truecolor") -> Console:
    return Console(file=io.StringIO(), force_terminal=colour is not None, width=width, height=24, color_system=colour)


def shown(text: str, width: int = 80, colour: str | None = "truecolor") -> tuple[list[str], str]:
    """The plain rows a terminal shows for the text, and the raw output with escapes."""
    raw = render_markdown(text, console(width, colour))
    return trim(emulate(raw)[0]), raw


def colour_of(raw: str, word: str) -> str:
    """The last SGR sequence written before a word."""
    before = raw[: raw.index(word)]
    return SGR.findall(before)[-1]


def theme_sgr(token_type) -> str:
    return Palette(console()).token(token_type)


def test_headings_lists_quotes_and_rules_are_laid_out():
    rows, _ = shown("# Title\n\nIntro.\n\n- one\n- two\n  1. nested\n\n> quoted *text*\n\n---\n\nEnd.")
    assert rows[0] == "Title"
    assert "• one" in rows and "• two" in rows
    assert "  1. nested" in rows
    assert "▌ quoted text" in rows
    assert any(set(row) == {"─"} and len(row) == 80 for row in rows)
    assert not any(mark in "\n".join(rows) for mark in ("#", "**", "> ", "- "))


def test_emphasis_and_inline_code_are_styled_without_their_markers():
    rows, raw = shown("Use **bold**, *italic*, ~~old~~ and `code` here; snake_case_name stays.")
    assert rows == ["Use bold, italic, old and code here; snake_case_name stays."]
    palette = Palette(console())
    assert palette.sgr(("strong",)) + "bold" in raw
    assert palette.sgr(("em",)) + "italic" in raw
    assert palette.sgr(("code",)) + "code" in raw


def test_paragraphs_wrap_at_word_boundaries_with_a_hanging_indent_for_items():
    words = " ".join(f"word{i}" for i in range(40))
    rows, _ = shown(f"- {words}", width=40)
    assert len(rows) > 3 and all(len(row) <= 40 for row in rows)
    assert rows[0].startswith("• word0 ") and all(row.startswith("  word") for row in rows[1:])
    assert " ".join(row.strip("• ") for row in rows) == words  # no word cut or lost


def test_wide_characters_wrap_by_cells():
    rows, _ = shown("漢字" * 30, width=20)
    assert all(sum(2 if ord(c) > 0x2E80 else 1 for c in row) <= 20 for row in rows)
    assert "".join(rows) == "漢字" * 30


def test_code_blocks_are_coloured_by_the_theme_and_keep_their_text():
    text = '```python\ndef greet(name):\n    """Say hello.\n\n    Twice.\n    """\n    return f"hi {name}"\n```\n'
    rows, raw = shown(text)
    assert "```" not in raw
    assert " def greet(name):" in rows and '     return f"hi {name}"' in rows
    assert colour_of(raw, "def") == theme_sgr(Keyword)
    assert colour_of(raw, "return") == theme_sgr(Keyword)
    # A docstring over several lines stays a string on every line.
    assert colour_of(raw, "Twice.") == theme_sgr(String.Doc)
    # The block sits on the theme's background, padded to the full width.
    background = Palette(console()).code_background
    code_rows = [row for row in raw.split("\n") if row.startswith(background)]
    assert len(code_rows) == 8  # six lines of code and a padding row above and below


def test_other_languages_are_coloured_by_pygments():
    _, raw = shown("```sql\nSELECT name FROM users WHERE id = 1;\n```\n")
    assert colour_of(raw, "SELECT") == theme_sgr(Keyword)


def test_the_fast_scanner_colours_like_pygments():
    code = (
        'import os\n\n@dataclass\nclass Config(Base):\n    name: str = "chat"  # the name\n'
        "    def load(self, path) -> dict:\n        if not path.exists():\n"
        "            raise FileNotFoundError(f\"missing {path}\")\n        return {'a': [1.5, 2e3, 0x1F]}\n"
    )
    theme = Syntax.get_theme("monokai")

    def colours(pairs) -> list[str]:
        return [str(theme.get_style_for_token(kind).color) for kind, text in pairs for _ in text]

    reference = colours((k, t.replace("\n", "")) for k, t in get_lexer_by_name("python").get_tokens(code))
    colour = highlighter("python")
    ours = colours(pair for line in code.split("\n") for pair in colour(line, True))
    visible = [i for i, c in enumerate(code.replace("\n", "")) if not c.isspace()]
    agree = sum(reference[i] == ours[i] for i in visible) / len(visible)
    assert agree > 0.9


def test_tables_are_drawn_with_aligned_columns():
    rows, _ = shown("| name | size |\n|:-----|-----:|\n| a | 1 |\n| **bb** | 100 |\n")
    header = next(row for row in rows if "name" in row)
    assert "size" in header
    assert any("━" in row for row in rows)
    one, hundred = next(r for r in rows if " a " in r), next(r for r in rows if "bb" in r)
    assert one.rstrip().endswith("1") and hundred.rstrip().endswith("100")
    assert one.index("1") == hundred.index("100") + 2  # right-aligned
    assert "|" not in "\n".join(rows) and "**" not in "\n".join(rows)


def test_links_are_hyperlinks_in_colour_and_spelled_out_without():
    text = "See [the docs](https://example.com/docs) now."
    rows, raw = shown(text)
    assert rows == ["See the docs now."]
    assert OSC8.findall(raw)[0] == "https://example.com/docs"
    rows, raw = shown(text, colour=None)
    assert rows == ["See the docs (https://example.com/docs) now."]
    assert "\x1b" not in raw


def test_a_long_unfinished_line_never_takes_more_than_the_live_area():
    text = " ".join(f"w{i}" for i in range(600))  # ~40 rows at width 80, no newline until the end
    out = console()
    md = MarkdownStream(out, min_interval=0, live_lines=5)
    for token in tokens(text):
        md.feed(token)
        assert md._live_height <= 5
    md.finish()
    rows = trim(emulate(out.file.getvalue())[0])
    assert " ".join(rows).split() == text.split()
