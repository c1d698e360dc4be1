"""Tool calls asked on the controlling terminal when stdin is a pipe: `git diff | chat --tools shell "..."`.

As Claude Code and aichat do: the question goes to the terminal the command was typed in and its keys are read
there, never from the pipe (which here holds "y" lines that must answer nothing); only with no terminal at all
(``setsid``: a cron job, a CI runner) is the call refused, as before. At both one-shot doors: a process of its
own, and through the warm worker, whose child is handed the caller's terminal with the call.
"""

from __future__ import annotations

import shlex
import subprocess

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import CHAT, Repl, chat
from tests.matrix import ONE_SHOT, doors
from tests.test_tools_pty import QUESTION, READY, REFUSED

pty = pytest.mark.e2e  # chat in a pseudo-terminal (or under setsid), its stdin a pipe

# At both one-shot doors (tests/matrix.py): a process of its own, and through the warm worker (started first).
ONE_SHOT_DOORS = doors(*ONE_SHOT)


def _piped(env: dict[str, str], question: str) -> Repl:
    line = f"printf 'y\\ny\\ny\\n' | {shlex.quote(str(CHAT))} --tools shell {shlex.quote(question)}"
    return Repl(["-c", line], env, program="/bin/sh")


@pty
@ONE_SHOT_DOORS
def test_a_call_is_asked_on_the_terminal_and_answered_there(server, door, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("made it"))
    before = door.mark()
    repl = _piped(door.env, "make a marker")
    try:
        repl.wait_until(lambda: QUESTION in repl.text and READY in repl.raw, "the question on the terminal")
        assert not (tmp_path / "marker").exists()  # the pipe's "y" lines answered nothing
        assert repl.text.count("command: touch marker") == 1, "the call's block was drawn more than once"
        repl.child.send("y")
        repl.wait_for("made it", timeout=15)
        assert repl.exit_code() == 0
    finally:
        repl.kill()
    door.went(before)  # at the worker door, the run was the worker's (not a process of its own)
    assert (tmp_path / "marker").exists()
    asked = [r for r in server.requests if "make a marker" in str(r["messages"][-1]["content"])][0]
    assert asked["messages"][-1]["content"] == "make a marker\n\ny\ny\ny\n"  # the pipe: the text, no keys


@pty
@ONE_SHOT_DOORS
def test_a_no_at_the_terminal_refuses_it(server, door, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("as you wish"))
    before = door.mark()
    repl = _piped(door.env, "make a marker")
    try:
        repl.wait_until(lambda: QUESTION in repl.text and READY in repl.raw, "the question on the terminal")
        repl.child.send("n")
        repl.wait_for("as you wish", timeout=15)
        assert repl.exit_code() == 0
    finally:
        repl.kill()
    door.went(before)  # at the worker door, the run was the worker's (not a process of its own)
    assert not (tmp_path / "marker").exists()
    assert REFUSED in str(server.requests[-1]["messages"])


def test_with_no_terminal_at_all_the_call_is_refused_in_this_process(server, chat_env, tmp_path):
    """The one-shot run here, with no controlling terminal to ask on (Environment.terminal None, as under setsid)."""
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("refused, then"))
    run = chat(chat_env, "--tools", "shell", "make a marker", stdin=b"y\n", cwd=tmp_path)
    assert run.code == 0, run
    assert "refused, then" in run.out
    assert not (tmp_path / "marker").exists()


@pty
@doors("worker")  # the worker's child, handed no terminal by a caller that has none
def test_with_no_terminal_at_all_the_call_is_refused(server, door, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("refused, then"))
    run = subprocess.run(
        ["setsid", str(CHAT), "--tools", "shell", "make a marker"],
        input=b"y\n",
        capture_output=True,
        env=door.env,
        cwd=tmp_path,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert b"refused, then" in run.stdout
    assert not (tmp_path / "marker").exists()
