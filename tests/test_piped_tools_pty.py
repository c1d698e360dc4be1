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
from tests.helpers import CHAT, Repl
from tests.test_tools_pty import QUESTION, READY, REFUSED
from tests.test_worker import served, worker_env  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e  # chat in a pseudo-terminal, its stdin a pipe


@pytest.fixture(params=["cold", "worker"])
def door(request: pytest.FixtureRequest, chat_env: dict[str, str]) -> dict[str, str]:
    """The environment of a one-shot at each door: a process of its own, or through the warm worker (started)."""
    if request.param == "cold":
        return chat_env
    from tests.helpers import eventually
    from tests.test_worker import chat as through_worker
    from tests.test_worker import status

    env = request.getfixturevalue("worker_env")
    from tests.test_worker import log

    started = through_worker(env, "start the worker")
    assert started.code == 0, started
    eventually(lambda: status(env), f"the worker to listen ({started.err!r}, {log(env)})", timeout=30)
    return env


def through(env: dict[str, str], before: int) -> None:
    """Through the worker, the run was the worker's (and not a process of its own)."""
    if env.get("CHATCLI_WORKER") == "1":
        assert served(env) == before + 1, "the run did not go through the worker"


def _piped(env: dict[str, str], question: str) -> Repl:
    line = f"printf 'y\\ny\\ny\\n' | {shlex.quote(str(CHAT))} --tools shell {shlex.quote(question)}"
    return Repl(["-c", line], env, program="/bin/sh")


def test_a_call_is_asked_on_the_terminal_and_answered_there(server, door, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("made it"))
    before = served(door) if door.get("CHATCLI_WORKER") == "1" else 0
    repl = _piped(door, "make a marker")
    try:
        repl.wait_until(lambda: QUESTION in repl.text and READY in repl.raw, "the question on the terminal")
        assert not (tmp_path / "marker").exists()  # the pipe's "y" lines answered nothing
        assert repl.text.count("command: touch marker") == 1, "the call's block was drawn more than once"
        repl.child.send("y")
        repl.wait_for("made it", timeout=15)
        assert repl.exit_code() == 0
    finally:
        repl.kill()
    through(door, before)
    assert (tmp_path / "marker").exists()
    asked = [r for r in server.requests if "make a marker" in str(r["messages"][-1]["content"])][0]
    assert asked["messages"][-1]["content"] == "make a marker\n\ny\ny\ny\n"  # the pipe: the text, no keys


def test_a_no_at_the_terminal_refuses_it(server, door, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("as you wish"))
    before = served(door) if door.get("CHATCLI_WORKER") == "1" else 0
    repl = _piped(door, "make a marker")
    try:
        repl.wait_until(lambda: QUESTION in repl.text and READY in repl.raw, "the question on the terminal")
        repl.child.send("n")
        repl.wait_for("as you wish", timeout=15)
        assert repl.exit_code() == 0
    finally:
        repl.kill()
    through(door, before)
    assert not (tmp_path / "marker").exists()
    assert REFUSED in str(server.requests[-1]["messages"])


def test_with_no_terminal_at_all_the_call_is_refused(server, door, tmp_path):
    server.queue(tool_calls(("shell", {"command": "touch marker"})), Reply("refused, then"))
    run = subprocess.run(
        ["setsid", str(CHAT), "--tools", "shell", "make a marker"],
        input=b"y\n",
        capture_output=True,
        env=door,
        cwd=tmp_path,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert b"refused, then" in run.stdout
    assert not (tmp_path / "marker").exists()
