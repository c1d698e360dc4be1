"""Lines that are not the model's answer (notes, warnings, errors, titles, tool blocks) never carry a
live escape sequence to the terminal: every output defuses them in one place."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

from chatcli.core.events import ToolCall, ToolResult
from chatcli.ui.jsonout import JsonOutput
from chatcli.ui.output import PlainOutput, RichOutput
from tests import mcp_servers
from tests.fakeserver import Reply
from tests.helpers import Captured, chat
from tests.test_commands import chat as conversation
from tests.test_mcp import write_servers

ODD = Path(__file__).resolve().parent / "mcp" / "odd.py"
# Each payload a terminal would obey: a screen clear, clipboard write (OSC 52), window title (OSC 0
# and 2), a hyperlink (OSC 8), a cursor report request (CSI 6n, answered on stdin), DCS, APC, PM
# and SOS strings, the 8-bit C1 forms of CSI, OSC, DCS, APC, PM and SOS, a bell, a backspace and
# a carriage return that would write over what came before, and a right-to-left override.
PAYLOADS = [
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b]0;PWNED\x1b\\",
    "\x1b]2;PWNED\x07",
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "\x1b[6n",
    "\x1b[2J",
    "\x1bP1$qm\x1b\\",
    "\x1b_payload\x1b\\",
    "\x1b^privacy\x1b\\",
    "\x1bXstring\x1b\\",
    "\x9b2J",
    "\x9d0;PWNED\x9c",
    "\x90q\x9c",
    "\x9fpayload\x9c",
    "\x9eprivacy\x9c",
    "\x98string\x9c",
    "bell\x07",
    "hidden\x08\x08\x08\x08\x08\x08",
    "secret\rshown",
    "\u202eevil\u202c",
]
EVIL = "start " + " ".join(PAYLOADS) + " end"
# ESC (but the colour codes of rich's own styling), BEL, BS, CR, the C1 controls and the bidi overrides.
# The sequences chat's own rendering sends (the live area's cursor, links to the page a test names and to a bare
# address as shown: the one in the OSC 8 payload, up to its first control).
CHAT_OWN = re.compile(
    r"\x1b\[\?25[hl]|\r?\x1b\[(?:1A|2K)|\x1b\]8;[^;\x1b]*;(?:https://(?:example\.com/x|evil\.example/))?\x1b\\"
)
LIVE = re.compile("\x1b(?!\\[[0-9;]*m)|[\x07\x08\r\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def live_escapes(text: str) -> list[str]:
    """What a terminal would act on beyond colour and chat's own sequences (CHAT_OWN), with what follows it."""
    text = CHAT_OWN.sub("", text)
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


async def test_titles_and_questions_shown_by_switch_retry_undo_goto_and_tree_are_defused(settings, server):
    question = f"question {EVIL}"
    async with conversation(settings, "evil") as c:
        c.out, c.err = Captured(tty=True), Captured(tty=True)  # what a terminal is shown
        c.output = c.ctx.output = c.conversation.listener = PlainOutput(c.out, c.err)
        c.ctx.out = c.out
        await c.ask(question)  # the first message names the thread
        await c.run("/new")
        commands = ("/switch evil", "/retry", "/undo", "/goto 1", "/tree")
        shown = {command: await c.run(command) for command in commands}
    assert "start ␛]52;c;ZXZpbA==␇" in shown["/switch evil"], shown  # the title
    assert "retrying: question start ␛]52" in shown["/retry"], shown
    assert shown["/undo"].startswith("undone: question start ␛]52"), shown
    assert "on node 1: question start ␛]52" in shown["/goto 1"], shown  # a node's question, where the thread went
    assert "1  question start ␛]52" in shown["/tree"], shown  # and each line of the tree
    for command, text in shown.items():
        assert live_escapes(text) == [], (command, text)
    # The question itself is kept exactly as typed (what went to the model too).
    assert server.requests[0]["messages"][-1]["content"] == question


@pytest.mark.e2e
def test_an_mcp_server_error_with_escapes_is_one_defused_line(server, chat_env):
    """Whether stderr is a pipe or a terminal."""
    write_servers(chat_env, {"odd": mcp_servers.stdio(ODD, "evil")})
    for tty in (False, True):
        server.queue(Reply("Still here."))
        run = chat(chat_env, "hello", tty=tty)
        assert run.code == 0, run
        assert run.err.count("MCP server odd") == 1, run  # (one line: rich folds it at the terminal's width)
        assert "no tools for you ␛]52;c;ZXZpbA==␛\\ ␛]0;PWNED␇ ␛[2J" in run.err, run
        assert live_escapes(run.err) == [], run.err
        assert "Traceback" not in run.err


# --------------------------------------------------------------------------- the one writer (chatcli.text)


@pytest.mark.parametrize("kind", ["plain", "rich"])
def test_an_answer_with_escapes_reaches_a_terminal_shown_not_obeyed(kind):
    from chatcli.core.events import Start
    from chatcli.ui.output import terminal_console

    out = Captured(tty=True)
    if kind == "plain":  # a dumb terminal
        output = PlainOutput(out, Captured(tty=True))
    else:
        output = RichOutput(terminal_console(out, force_terminal=True), terminal_console(Captured(tty=True)))
    output.start_reply(Start("t"))
    for part in ("**bold** ", *EVIL.split(" "), " [a link](https://example.com/x)"):
        output.token(part + " ")
    output.abort(None)
    shown = CHAT_OWN.sub("", out.getvalue())
    assert live_escapes(shown) == [], shown
    assert "␛]52;c;ZXZpbA==␇" in shown and "\ufffd2J" in shown and "https://evil.example/␛\\click" in shown
    if kind == "rich":  # chat's own styling and links stay live
        assert "\x1b[1m" in shown and "\x1b]8;;https://example.com/x\x1b\\" in out.getvalue(), shown


def test_a_line_on_stderr_is_neutralised_even_in_a_pipe_and_data_only_in_a_terminal():
    from chatcli.text import say

    for tty in (False, True):
        err, data = Captured(tty=tty), Captured(tty=tty)
        say(err, f"chat: error: {EVIL}\n")
        say(data, EVIL, data=True)
        assert live_escapes(err.getvalue()) == [] and "␛]0;PWNED" in err.getvalue()
        # An answer or an export reaches a pipe or a file exactly; a terminal, neutralised.
        if tty:
            assert live_escapes(data.getvalue()) == [] and "␛]0;PWNED" in data.getvalue()
        else:
            assert data.getvalue() == EVIL


def test_a_rich_console_on_the_writer_keeps_its_colours_and_shows_the_rest():
    """Text that skipped neutralise still cannot clear, retitle, write the clipboard, ask for a report or
    start a DCS/APC/PM/SOS string; colours and links are kinds chat sends itself, so they would pass."""
    from rich.text import Text

    from chatcli.ui.output import terminal_console

    out = Captured(tty=True)
    console = terminal_console(out, force_terminal=True)
    console.print(Text(" ".join(p for p in PAYLOADS if "]8;" not in p), style="bold red"))
    shown = out.getvalue()
    assert live_escapes(shown) == [] and "\x1b[1;31m" in shown and "␛]52;c;ZXZpbA==" in shown, shown


def test_json_text_escapes_every_character_a_terminal_acts_on_and_keeps_the_value():
    import json

    from chatcli.text import json_text

    value = {"reply": EVIL + "\u2028\u2029\x7f", "model": "\x9b6n"}
    for ensure_ascii in (False, True):
        text = json_text(value, ensure_ascii=ensure_ascii)
        assert json.loads(text) == value
        assert live_escapes(text) == [] and not any(c in text for c in "\u2028\u2029\x7f"), text


@pytest.mark.e2e
def test_what_libraries_write_to_stderr_passes_the_writer(tmp_path):
    """In a process that ran ``chat`` (the entry point sets this up): a log record nothing handles, a
    warning, an error nothing caught, in a thread or at the top."""
    import subprocess

    program = f"""
import logging, sys, threading, warnings
from chatcli.app.cli import main
main(["--version"])
EVIL = {EVIL!r}
logging.getLogger("some.library").warning("a server said: %s", EVIL)
warnings.warn("deprecated " + EVIL, UserWarning)
def fail(): raise RuntimeError("uncaught " + EVIL)
worker = threading.Thread(target=fail); worker.start(); worker.join()
raise ValueError("at the top " + EVIL)
"""
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=60, cwd=tmp_path)
    err = run.stderr.decode()
    assert run.returncode == 1 and run.stdout.decode().startswith("chatcli "), err
    assert live_escapes(err) == [], err
    for said in ("a server said: start", "deprecated start", "uncaught start", "at the top start"):
        assert f"{said} ␛]52;c;ZXZpbA==␇" in err, (said, err)
