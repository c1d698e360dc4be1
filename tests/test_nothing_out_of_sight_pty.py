"""Nothing out of sight: a terminal closed at a question (chat's own tool's approval, a fast model's or a slow one's,
a graph's interrupt, an MCP server's form) leaves that question in the inbox every time, and ``chat inbox answer``
answers it there. (A background reply killed mid-answer keeps its words: tests/test_jobs.py.)"""

from __future__ import annotations

import contextlib
import json

import pytest

from tests.fakeserver import Raw, Reply, tool_calls
from tests.helpers import Repl, chat, eventually
from tests.test_graph_app import AGENT, graph_env  # noqa: F401 - graph_env is a fixture
from tests.test_graph_pty import ANSWER
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
    return repl.hang_up()


def closed_at_the_question(args: list[str], env: dict[str, str], cwd, question: str, asked: str) -> None:
    """``chat ARGS`` at a prompt in a terminal, ``question`` typed; the terminal closed once ``asked`` is shown."""
    repl = Repl(args, env, cwd=str(cwd))
    try:
        repl.wait_prompt()
        wait_asked(repl, asked, repl.say(question))
        close_terminal(repl)
    finally:
        with contextlib.suppress(Exception):
            repl.kill()


def answered_in_the_background(env: dict[str, str], thread: str, answer: str, cwd) -> str:
    """``chat inbox answer THREAD ANSWER``, then the thread as ``chat show`` prints it once its job has ended."""
    run = chat(env, "inbox", "answer", thread, answer, cwd=cwd)
    assert run.code == 0 and "goes on in the background" in run.err, run
    eventually(
        lambda: [
            j for j in json.loads(chat(env, "jobs", "--json").out) if (j["thread_id"], j["state"]) == (thread, "done")
        ],
        "the answer's job to end",
        timeout=60,
    )
    assert inbox(env) == []
    return chat(env, "show", thread).out


def slowly(raw: Raw, pause: float = 0.05) -> Raw:
    """``raw`` streamed with a pause between its chunks: a slow model."""
    return Raw([p for part in raw.parts for p in (part, pause)][:-1])


def test_a_terminal_closed_at_a_tool_s_approval_leaves_it_in_the_inbox(server, chat_env, tmp_path):
    """The call asked at once, and asked at the end of a slow model's stream."""
    for speed in ("fast", "slow"):
        asked = tool_calls(("shell", {"command": "echo left-waiting"}), text="I will run it.")
        server.queue(asked if speed == "fast" else slowly(asked))
        closed_at_the_question(["--tools", "shell", "-t", f"hup-{speed}"], chat_env, tmp_path, "run it", QUESTION)
        (row,) = inbox(chat_env)
        assert row["thread_id"] == f"hup-{speed}" and [a["kind"] for a in row["asked"]] == ["approval"], row
        server.queue(Reply("Ran it."))
        shown = answered_in_the_background(chat_env, f"hup-{speed}", "yes", tmp_path)
        assert "left-waiting" in shown and "Ran it." in shown and "stopped this call" not in shown, (speed, shown)


@pytest.mark.parametrize("speed", ["fast", "slow"])
def test_a_terminal_closed_at_a_graph_s_question_leaves_it_in_the_inbox(server, graph_env, tmp_path, speed):  # noqa: F811
    asked = tool_calls(("ask_user", {"question": "For when?"}), text="Let me ask.")
    server.queue(asked if speed == "fast" else slowly(asked, 0.03))
    closed_at_the_question(["--graph", AGENT, "-t", "gask1"], graph_env, tmp_path, "book a table", ANSWER)
    (row,) = inbox(graph_env)
    assert row["thread_id"] == "gask1" and [a["kind"] for a in row["asked"]] == ["interrupt"], row
    server.queue(Reply("Booked for tomorrow."))
    shown = answered_in_the_background(graph_env, "gask1", "tomorrow", tmp_path)
    assert "Booked for tomorrow." in shown, shown


def test_a_terminal_closed_at_a_server_s_form_leaves_it_in_the_inbox(server, chat_env, tmp_path):
    calls = tmp_path / "calls"
    write_servers(chat_env, {"asking": asking(calls, "2026")})
    server.queue(tool_calls(("book", {"city": "Paris"})))
    closed_at_the_question(["--yes", "-t", "hup-form"], chat_env, tmp_path, "book a table in Paris", FORM)
    (row,) = inbox(chat_env)
    assert row["thread_id"] == "hup-form" and [a["kind"] for a in row["asked"]] == ["question"], row
    assert ran(calls) == ["book"]
