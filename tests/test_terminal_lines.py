"""Lines that are not the model's answer (notes, warnings, errors, titles, tool blocks) never carry a
live escape sequence to the terminal: every output defuses them in one place."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

from chatcli.chat.events import ToolCall, ToolResult
from chatcli.ui.jsonout import JsonOutput
from chatcli.ui.output import PlainOutput, RichOutput
from tests.fakeserver import Reply
from tests.helpers import Captured, chat
from tests.test_commands import chat as conversation
from tests.test_mcp import write_servers

ODD = Path(__file__).resolve().parent / "mcp" / "odd.py"
# Each payload a terminal would obey: clipboard write (OSC 52), window title (OSC 0 and 2), a
# hyperlink (OSC 8), a cursor report request (CSI 6n, answered on stdin), DCS and APC strings,
# and the 8-bit C1 forms of CSI, OSC, DCS and APC.
PAYLOADS = [
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b]0;PWNED\x1b\\",
    "\x1b]2;PWNED\x07",
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "\x1b[6n",
    "\x1bP1$qm\x1b\\",
    "\x1b_payload\x1b\\",
    "\x9b2J",
    "\x9d0;PWNED\x9c",
    "\x90q\x9c",
    "\x9fpayload\x9c",
]
EVIL = "start " + " ".join(PAYLOADS) + " end"
# ESC (but the colour codes of rich's own styling), BEL and the C1 controls.
LIVE = re.compile("\x1b(?!\\[[0-9;]*m)|[\x07\x80-\x9f]")


def live_escapes(text: str) -> list[str]:
    """What a terminal would act on beyond colour, with what follows it."""
    return [text[m.start() : m.start() + 12] for m in LIVE.finditer(text)]


def outputs() -> dict[str, tuple[object, io.StringIO]]:
    """Each kind of output, writing its notes to a terminal-like stream we can read back."""
    plain_err, rich_err, json_err = Captured(tty=True), Captured(tty=True), Captured(tty=True)
    rich = RichOutput(
        Console(file=Captured(tty=True), force_terminal=True), Console(file=rich_err, force_terminal=True, stderr=True)
    )
    return {
        "plain": (PlainOutput(Captured(tty=True), plain_err), plain_err),
        "rich": (rich, rich_err),
        "json": (JsonOutput(Captured(), json_err), json_err),
    }


@pytest.mark.parametrize("kind", ["plain", "rich", "json"])
@pytest.mark.parametrize("line", ["note", "warn", "error", "tool block"])
def test_every_line_an_output_writes_shows_escapes_instead_of_obeying_them(kind, line):
    output, err = outputs()[kind]
    if line == "tool block":
        output.hear(ToolResult(ToolCall("1", "t", "srv:t", None, {"q": EVIL}), "ok", EVIL, 0.1))
    else:
        getattr(output, line)(EVIL)
    shown = err.getvalue()
    if kind == "json" and line == "tool block":
        assert shown == ""  # --json keeps a call that ran for the final object
        return
    assert live_escapes(shown) == [], shown
    if line != "tool block":  # (a plain tool line shows the arguments as JSON: "\u001b")
        assert "␛]52;c;ZXZpbA==␇" in shown and "␛[6n" in shown and "\ufffd2J" in shown, shown


async def test_titles_and_questions_shown_by_switch_retry_and_undo_are_defused(settings, server):
    question = f"question {EVIL}"
    async with conversation(settings, "evil") as c:
        c.out, c.err = Captured(tty=True), Captured(tty=True)  # what a terminal is shown
        c.output = c.ctx.output = PlainOutput(c.out, c.err)
        c.ctx.out = c.out
        await c.ask(question)  # the first message names the thread
        await c.run("/new")
        shown = {command: await c.run(command) for command in ("/switch evil", "/retry", "/undo")}
    assert "start ␛]52;c;ZXZpbA==␇" in shown["/switch evil"], shown  # the title
    assert "retrying: question start ␛]52" in shown["/retry"], shown
    assert shown["/undo"].startswith("undone: question start ␛]52"), shown
    for command, text in shown.items():
        assert live_escapes(text) == [], (command, text)
    # The question itself is kept exactly as typed (what went to the model too).
    assert server.requests[0]["messages"][-1]["content"] == question


@pytest.mark.e2e
@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_an_mcp_server_error_with_escapes_is_one_defused_line(server, chat_env, tty):
    write_servers(chat_env, {"odd": {"command": sys.executable, "args": [str(ODD), "evil"]}})
    server.queue(Reply("Still here."))
    run = chat(chat_env, "hello", tty=tty)
    assert run.code == 0, run
    assert run.err.count("MCP server odd") == 1, run  # (one line: rich folds it at the terminal's width)
    assert "no tools for you ␛]52;c;ZXZpbA==␛\\ ␛]0;PWNED␇ ␛[2J" in run.err, run
    assert live_escapes(run.err) == [], run.err
    assert "Traceback" not in run.err
