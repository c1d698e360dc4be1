"""Terminal output choices: rich in a terminal, plain in a pipe, and NO_COLOR honoured."""

from __future__ import annotations

import os
import re
import threading

import pytest

from chatcli.core.events import End, Start, Token, TurnResult
from chatcli.ui.output import PlainOutput, RichOutput, make_output


def play(output: object, reply: str) -> None:
    """A turn as the engine emits it: the reply in pieces, then its end."""
    output.hear(Start("t1"))
    for token in re.findall(r"\s*\S+|\s+", reply):
        output.hear(Token(token))
    output.hear(End(TurnResult(text=reply, finish_reason="stop")))


REPLY = "# Title\n\nSome **bold** text.\n\n```python\nprint('hi')\n```\n"
COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7])(;[0-9;]*)?m")  # any foreground/background colour


def render_in_a_pty(monkeypatch: pytest.MonkeyPatch, no_color: bool) -> str:
    """Stream REPLY through make_output() writing to a real pseudo-terminal; return the bytes shown."""
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    master, slave = os.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with os.fdopen(slave, "w", encoding="utf-8", closefd=True) as out:
        output = make_output(out, out)
        assert isinstance(output, RichOutput)
        play(output, REPLY)
        out.flush()
    reader.join(timeout=5)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_rendered_markdown_in_colour(monkeypatch):
    shown = render_in_a_pty(monkeypatch, no_color=False)
    assert "```" not in shown and "# Title" not in shown and "Title" in shown
    assert COLOUR.search(shown), "syntax highlighting and headings use colour"


def test_no_color_keeps_the_rendering_but_drops_the_colours(monkeypatch):
    shown = render_in_a_pty(monkeypatch, no_color=True)
    assert "```" not in shown and "Title" in shown and "print('hi')" in shown
    assert not COLOUR.search(shown), repr(shown[:300])


def test_a_pipe_gets_the_exact_text(tmp_path):
    path = tmp_path / "out.txt"
    with open(path, "w", encoding="utf-8") as out:
        output = make_output(out, out)
        assert isinstance(output, PlainOutput)
        play(output, REPLY)
    assert path.read_text() == REPLY
