"""Nothing out of sight: a terminal closed at a question (chat's own tool's approval, a fast model's or a slow one's,
a graph's interrupt, an MCP server's form) leaves that question in the inbox every time, and ``chat inbox answer``
answers it there; a background reply killed mid-answer keeps the words that had arrived in its thread, marked."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading

import pytest

from tests.fakeserver import Raw, Reply, tool_calls
from tests.helpers import Repl, chat, eventually
from tests.test_graph_app import AGENT, graph_env  # noqa: F401 - graph_env is a fixture
from tests.test_graph_pty import ANSWER
from tests.test_jobs import held, state
from tests.test_mcp import write_servers
from tests.test_mcp_asking import asking, ran
from tests.test_mcp_asking_pty import FORM
from tests.test_tools_pty import QUESTION, wait_asked

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def inbox(env: dict[str, str]) -> list[dict]:
    run = chat(env, "inbox", "--json")
    assert run.code == 0, run
    return json.loads(run.out)


def close_terminal(repl: Repl) -> int:
    """Close the pseudo-terminal chat runs in (the kernel hangs it up, as closing a terminal window does); its exit
    code."""
    pid = repl.child.pid
    repl.child.ptyproc.fileobj.close()  # (its descriptor closed once: never another's of the same number later)
    _done, status = eventually(
        lambda: (ended := os.waitpid(pid, os.WNOHANG))[0] and ended, "chat to end after its terminal closed", 30
    )
    return os.waitstatus_to_exitcode(status)


def answered_in_the_background(env: dict[str, str], thread: str, answer: str, cwd) -> str:
    """``chat inbox answer THREAD ANSWER``, then the thread as ``chat show`` prints it once its job has ended."""
    run = chat(env, "inbox", "answer", thread, answer, cwd=cwd)
    assert run.code == 0 and "goes on in the background" in run.err, run
    eventually(
        lambda: [j for j in json.loads(chat(env, "jobs", "--json").out) if j["state"] == "done"],
        "the answer's job to end",
        timeout=60,
    )
    assert inbox(env) == []
    return chat(env, "show", thread).out


def slowly(raw: Raw, pause: float = 0.05) -> Raw:
    """``raw`` streamed with a pause between its chunks: a slow model."""
    return Raw([p for part in raw.parts for p in (part, pause)][:-1])


@pytest.mark.parametrize("speed", ["fast", "slow"])
def test_a_terminal_closed_at_a_tool_s_approval_leaves_it_in_the_inbox(server, chat_env, tmp_path, speed):
    asked = tool_calls(("shell", {"command": "echo left-waiting"}), text="I will run it.")
    server.queue(asked if speed == "fast" else slowly(asked))
    repl = Repl(["--tools", "shell", "-t", f"hup-{speed}"], chat_env, cwd=str(tmp_path))
    try:
        repl.wait_prompt()
        at = repl.say("run it")
        wait_asked(repl, QUESTION, at)
        close_terminal(repl)
    finally:
        with contextlib.suppress(Exception):
            repl.kill()
    (row,) = inbox(chat_env)
    assert row["thread_id"] == f"hup-{speed}" and [a["kind"] for a in row["asked"]] == ["approval"], row
    server.queue(Reply("Ran it."))
    shown = answered_in_the_background(chat_env, f"hup-{speed}", "yes", tmp_path)
    assert "left-waiting" in shown and "Ran it." in shown and "stopped this call" not in shown, shown


@pytest.mark.parametrize("speed", ["fast", "slow"])
def test_a_terminal_closed_at_a_graph_s_question_leaves_it_in_the_inbox(server, graph_env, tmp_path, speed):  # noqa: F811
    asked = tool_calls(("ask_user", {"question": "For when?"}), text="Let me ask.")
    server.queue(asked if speed == "fast" else slowly(asked, 0.03))
    repl = Repl(["--graph", AGENT, "-t", "gask1"], graph_env, cwd=str(tmp_path))
    try:
        repl.wait_prompt()
        at = repl.say("book a table")
        wait_asked(repl, ANSWER, at)
        close_terminal(repl)
    finally:
        with contextlib.suppress(Exception):
            repl.kill()
    (row,) = inbox(graph_env)
    assert row["thread_id"] == "gask1" and [a["kind"] for a in row["asked"]] == ["interrupt"], row
    server.queue(Reply("Booked for tomorrow."))
    shown = answered_in_the_background(graph_env, "gask1", "tomorrow", tmp_path)
    assert "Booked for tomorrow." in shown, shown


def test_a_terminal_closed_at_a_server_s_form_leaves_it_in_the_inbox(server, chat_env, tmp_path):
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls, "2026")})
    server.queue(tool_calls(("book", {"city": "Paris"})))
    repl = Repl(["--yes", "-t", "hup-form"], chat_env, cwd=str(tmp_path))
    try:
        repl.wait_prompt()
        at = repl.say("book a table in Paris")
        wait_asked(repl, FORM, at)
        close_terminal(repl)
    finally:
        with contextlib.suppress(Exception):
            repl.kill()
    (row,) = inbox(chat_env)
    assert row["thread_id"] == "hup-form" and [a["kind"] for a in row["asked"]] == ["question"], row
    assert ran(calls) == ["book"]


def test_a_background_reply_killed_mid_answer_keeps_the_words_that_arrived_marked(server, chat_env):
    gate = threading.Event()
    server.queue(held("The words that", " never came.", gate))
    env = {**chat_env, "CHATCLI_TIMEOUT": "300"}
    try:
        thread = chat(env, "--bg", "go").out.strip()
        job = state(env, thread, "running", chars=len("The words that"))
        os.kill(job["pid"], signal.SIGKILL)
        state(env, thread, "interrupted")
    finally:
        gate.set()
    shown = chat(env, "show", thread).out
    assert "The words that" in shown and "never came" not in shown, shown
    assert "[answer incomplete: interrupted]" in shown, shown
