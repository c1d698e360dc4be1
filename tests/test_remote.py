"""``chat --remote`` on a real LangGraph Agent Server: ``langgraph dev``, started once for this module, serving the
example graph (``example``: a model with tools, two of which interrupt, in both shapes) and chat's own graph
(``chat``, from the project's langgraph.json), both asking a fake OpenAI server. See tests/remote_server.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
from typing import Any

import pytest

from tests.fakeserver import FakeOpenAIServer, Reply, closed_port_url, tool_calls
from tests.helpers import CHAT, THREAD_NOTE, Repl, assert_one_error_line, chat, read_until
from tests.mcp_servers import chat_argv
from tests.remote_server import KEY, CutProxy, Served

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def model(deployed_model: FakeOpenAIServer) -> FakeOpenAIServer:
    """The OpenAI-compatible server chat's graph asks, on the LangGraph server (the remote backend's: tests/matrix.py),
    with nothing an earlier test left queued or recorded."""
    deployed_model.clear()
    return deployed_model


@pytest.fixture
def served(deployed: Served) -> Served:
    """The LangGraph server: the remote backend's ``langgraph dev`` (tests/matrix.py's ``deployed``), no run of an
    earlier test still going."""
    return deployed.quiet()


@pytest.fixture
def env(chat_env: dict[str, str]) -> dict[str, str]:
    """chat's environment, with the server's key."""
    return {**{k: v for k, v in chat_env.items() if not k.startswith("LANGSMITH")}, "LANGGRAPH_API_KEY": KEY}


def client(served: Served) -> Any:
    from langgraph_sdk import get_sync_client

    return get_sync_client(url=served.url, api_key=KEY)


def thread_of(err: str) -> str:
    found = THREAD_NOTE.search(err)
    assert found, err
    return found.group(1)


def test_a_one_shot_streams_the_graph_and_its_thread_goes_on_on_the_server(served, env):
    first = chat(env, "--remote", served.url, "--assistant", "example", "hello there")
    assert (first.code, first.out) == (0, "You said: hello there\n"), first
    thread = thread_of(first.err)
    piped = chat(env, "--remote", served.url, "--assistant", "example", "-t", thread[:13], stdin="piped words")
    assert (piped.code, thread_of(piped.err)) == (0, thread), piped
    assert piped.out == "You said: piped words (earlier: hello there)\n"  # the server kept the thread
    answer = chat(env, "--remote", served.url, "--assistant", "example", "-c", "--json", "one more")
    assert json.loads(answer.out) | {"timing": None, "usage": None} == {
        "thread_id": thread, "node": None, "reply": "You said: one more (earlier: hello there | piped words)",
        "model": "gpt-fake",
        "finish_reason": "stop", "tool_calls": [], "turns_left_out": 0, "turns_compacted": 0, "reasoning": None,
        "subgraphs": [], "memories": [], "usage": None, "cost_usd": None, "timing": None,
    }  # fmt: skip
    listed = chat(env, "threads", "--remote", served.url, "--json")  # every graph's
    row = next(r for r in json.loads(listed.out) if r["thread_id"] == thread)
    assert (row["title"], row["message_count"], row["model"]) == ("hello there", 6, "example")
    # Without --remote, the thread says where it is instead of starting one of chat's own under its id.
    here = chat(env, "-t", thread, "and here?")
    line = assert_one_error_line(here, 2)
    assert f"thread {thread} is on {served.url}" in line and f"chat --remote {served.url}" in line, line
    assert thread not in chat(env, "threads").out
    shown = assert_one_error_line(chat(env, "show", thread), 2)
    assert f"is on {served.url}" in shown and f"chat threads --remote {served.url}" in shown, shown


def test_chats_own_graph_is_served_from_the_projects_langgraph_json(served, env, model):
    done = chat(env, "--remote", served.url, "--assistant", "chat", "--jsonl", "what is up")
    lines = [json.loads(line) for line in done.out.splitlines()]
    assert "".join(line["text"] for line in lines if line["type"] == "token") == "You said: what is up"
    assert (lines[-1]["type"], lines[-1]["reply"], lines[-1]["model"]) == ("done", "You said: what is up", "gpt-fake")
    assert model.last_messages()[-1] == {"role": "user", "content": "what is up"}


def test_chats_own_tool_approval_is_a_human_in_the_loop_interrupt_answered_with_resume(served, env, model):
    model.queue(tool_calls(("shell", {"command": "echo hi"})), Reply("no shell then"))
    asked = json.loads(chat(env, "--remote", served.url, "--assistant", "chat", "--json", "list the files").out)
    thread, (waiting,) = asked["thread_id"], asked["interrupts"]
    assert [(c["name"], c["arguments"]) for c in asked["approval_required"]] == [("shell", {"command": "echo hi"})]
    assert [(a["name"], a["args"]) for a in waiting["value"]["action_requests"]] == [("shell", {"command": "echo hi"})]
    assert waiting["value"]["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]
    decisions = json.dumps({"decisions": [{"type": "reject", "message": "not now"}]})
    done = chat(env, "--remote", served.url, "--assistant", "chat", "-t", thread, "--json", "--resume", decisions)
    assert json.loads(done.out)["reply"] == "no shell then", done
    assert "not now" in json.dumps(model.last_messages())  # the model was told why


def test_ctrl_c_cancels_the_run_on_the_server_and_keeps_what_arrived(served, env, model):
    model.queue(Reply(" ".join(f"w{i}" for i in range(400)), delay=0.05))
    process = subprocess.Popen(
        chat_argv(CHAT, "--remote", served.url, "--assistant", "example", "count"),
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        read_until(process.stdout, b"w3 ")
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130
    finally:
        process.kill()
    err = process.stderr.read().decode()
    assert "stopped: the partial answer is kept" in err, err
    thread = thread_of(err)
    runs = client(served).runs.list(thread)
    assert [run["status"] for run in runs] == ["interrupted"]
    kept = client(served).threads.get_state(thread)["values"]["messages"][-1]
    assert kept["type"] == "ai" and kept["content"].startswith("w0 w1 w2 w3"), kept
    assert len(kept["content"].split()) < 400 and kept["response_metadata"]["interrupted"] == "cancelled"


def test_a_dropped_connection_joins_the_run_again_instead_of_starting_it_again(served, env, model):
    model.queue(Reply(" ".join(f"w{i}" for i in range(12)), delay=0.05))
    proxy = CutProxy(int(served.url.rsplit(":", 1)[1]), marker=b" w4")
    try:
        done = chat(env, "--remote", proxy.url, "--assistant", "example", "count")
    finally:
        proxy.close()
    assert done.code == 0 and proxy.cuts == 1, done
    assert done.out.split() == [f"w{i}" for i in range(12)], done  # every token once, none lost
    assert len(client(served).runs.list(thread_of(done.err))) == 1


def test_interrupts_are_asked_at_the_terminal_in_both_shapes(served, env, model):
    booking = {"restaurant": "Chez Paul", "people": 2, "time": "19:00"}
    model.queue(tool_calls(("ask_user", {"question": "Red or blue?"})), Reply("Blue it is."),
                tool_calls(("book_table", booking)), Reply("Your table is booked."))  # fmt: skip
    repl = Repl(["--remote", served.url, "--assistant", "example"], env)
    try:
        repl.wait_prompt()
        at = repl.say("pick a colour for me")
        repl.wait_for("Answer (text or JSON):", after=at)
        assert "Red or blue?" in repl.text[at:]
        repl.child.send("blue\r")
        repl.wait_for("Blue it is.", after=at)
        repl.wait_prompt()
        at = repl.say("book a table")
        repl.wait_for("Run it?", after=at)
        assert "Book this table?" in repl.text[at:] and "Chez Paul" in repl.text[at:]
        repl.child.send("y")
        repl.wait_for("Your table is booked.", after=at)
        repl.wait_prompt()
        repl.child.sendcontrol("d")
        assert repl.exit_code() == 0
        assert "resume with: chat --remote" in repl.text
    finally:
        repl.kill()
    results = [m["content"] for m in model.requests[-1]["messages"] if m["role"] == "tool"]
    assert results == ["blue", "Booked a table for 2 at Chez Paul at 19:00."]  # the graph went on with the answers


def test_a_server_down_an_unknown_assistant_and_a_refused_key_are_one_line_each(served, env):
    down = chat(env, "--remote", closed_port_url().removesuffix("/v1"), "hi")
    assert "cannot reach the LangGraph server at http://127.0.0.1:" in assert_one_error_line(down, 4)
    unknown = chat(env, "--remote", served.url, "--assistant", "nope", "hi")
    assert "has no assistant 'nope' (it serves chat, example)" in assert_one_error_line(unknown, 2)
    assert "thread" not in unknown.err  # the run was refused: no thread was made
    several = chat(env, "--remote", served.url, "hi")
    assert "serves 2 graphs: chat, example (choose one with --assistant NAME)" in assert_one_error_line(several, 2)
    keyless = {k: v for k, v in env.items() if k != "LANGGRAPH_API_KEY"}
    refused = chat(keyless, "--remote", served.url, "--assistant", "example", "hi")
    assert "refused the request: no key was sent (401)" in assert_one_error_line(refused, 3)
    wrong = chat({**keyless, "LANGSMITH_API_KEY": "wrong"}, "--remote", served.url, "--assistant", "example", "hi")
    assert "refused the key (401)" in assert_one_error_line(wrong, 3)
    header = chat(keyless, "--remote", served.url, "--assistant", "example", "--header", f"x-api-key: {KEY}", "hi")
    assert (header.code, header.out) == (0, "You said: hi\n"), header
