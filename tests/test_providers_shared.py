"""The same behaviour from every provider: each test runs against each row of tests/providers.py.

A conversation remembers its history; thinking is shown apart and kept; a tool call is asked,
run and answered; an attachment reaches the model; Ctrl-C keeps the part that arrived; and every
failure we can provoke (bad key, rate limit, overloaded, a request over the window, a cut
stream) is one line and exit code 4, with the question and any partial answer kept. Each fake
server speaks its provider's real wire format, so what passes here passes through that
provider's LangChain integration exactly as it would against the real API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fakeserver import Calls, Fault, Reply
from tests.helpers import CHAT, assert_one_error_line, chat, stored, summary
from tests.mcp_servers import chat_argv


def _events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _db(env: dict[str, str]) -> str:
    return env.get("CHATCLI_DB") or str(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db")


def test_a_conversation_remembers_its_history(provider):
    row, fake, env = provider
    assert chat(env, "-t", "h", "the first question").code == 0
    run = chat(env, "-t", "h", "the second one")
    assert run.code == 0, run
    assert run.out.strip() == "You said: the second one (earlier: the first question)", run
    assert len(fake.requests) == 2


def test_a_thread_goes_on_with_its_provider_whatever_the_default(provider):
    """Started with -m on this provider, a thread goes on with it by -c and -t while the default model is another
    (its binding, chatcli.core.binding): the same server is asked, the history with it."""
    row, fake, env = provider
    elsewhere = {**env, "CHATCLI_MODEL": "not-this-one"}
    assert chat(elsewhere, "-m", row.model, "-t", "bound", "the first question").code == 0
    for args in (["-c"], ["-t", "bound"]):
        run = chat(elsewhere, *args, "and then?")
        assert run.code == 0 and run.out.startswith("You said: and then? (earlier: the first question"), run
    assert len(fake.requests) == 3


def test_thinking_is_shown_apart_from_the_answer_and_kept(provider):
    row, fake, env = provider
    fake.queue(Reply("forty-two", thinking="the answer to everything is well known"))
    run = chat(env, "-t", "th", "--jsonl", "what is the answer?")
    assert run.code == 0, run
    events = _events(run.out)
    thought = "".join(e["text"] for e in events if e["type"] == "reasoning")
    answer = "".join(e["text"] for e in events if e["type"] == "token")
    assert thought == "the answer to everything is well known" and answer == "forty-two", events
    shown = json.loads(chat(env, "export", "th", "-f", "json").out)
    [reply] = [m for m in shown["messages"] if m["role"] == "assistant"]
    assert reply["content"] == "forty-two" and reply["reasoning"] == thought, shown
    # The thread goes on: what the provider needs of a reply with thinking is sent back as it wants it.
    again = chat(env, "-t", "th", "and why?")
    assert again.code == 0 and again.out.startswith("You said: and why?"), again


def test_a_tool_call_is_approved_run_and_answered(provider, tmp_path):
    row, fake, env = provider
    (tmp_path / "notes.txt").write_text("the harbour opens at dawn\n")
    fake.queue(Calls([("read_file", {"path": "notes.txt"}, "call_1")], thinking="I should read the notes"))
    run = chat(env, "-t", "tools", "--tools", "files", "--yes", "what do my notes say?", cwd=tmp_path)
    assert run.code == 0, run
    assert run.out.strip().startswith("You said: what do my notes say?"), run
    assert len(fake.requests) == 2 and "the harbour opens at dawn" in json.dumps(fake.requests[-1]), (
        "the result went back"
    )
    kinds = [m.type for m in stored(_db(env), "tools")]
    assert kinds == ["human", "ai", "tool", "ai"], kinds
    # A later question in the same thread sends the whole exchange back as the provider wants it.
    again = chat(env, "-t", "tools", "--tools", "files", "thanks")
    assert again.code == 0 and again.out.startswith("You said: thanks"), again


def test_an_attachment_reaches_the_model(provider, tmp_path):
    row, fake, env = provider
    (tmp_path / "plan.md").write_text("step one: find the lighthouse\n")
    run = chat(env, "-a", str(tmp_path / "plan.md"), "summarise the plan")
    assert run.code == 0, run
    assert "find the lighthouse" in json.dumps(fake.requests[-1]), fake.requests[-1]


ERRORS = [
    (Fault(status=401), "authentication refused"),
    (Fault(status=429, headers={"retry-after": "0"}), "rate limited"),
    (Fault(status=500), "server error"),
]


@pytest.mark.parametrize("fault, said", ERRORS, ids=["bad-key", "rate-limit", "server-error"])
def test_a_failure_is_one_line_and_keeps_the_question(provider, fault, said):
    row, fake, env = provider
    fake.queue(fault)
    run = chat(env, "-t", "f", "will this work?")
    line = assert_one_error_line(run, 4)
    assert said in line, line
    assert "SECRET" not in run.err
    kept = summary(stored(_db(env), "f"))
    assert kept[0][:2] == ("human", "will this work?"), kept


def test_a_first_question_that_failed_is_listed_titled_by_it_and_continued(provider):
    """A newcomer's first run often fails (a wrong key, a wrong address): its thread is listed from that question
    on, titled by it, and `chat -c` goes on with it, not with an older thread; answered at last, it keeps its title."""
    row, fake, env = provider
    assert chat(env, "-t", "real", "a question that is answered").code == 0
    fake.queue(Fault(status=500))
    run = chat(env, "a question that fails")
    assert_one_error_line(run, 4)
    failed = run.err.split("thread: ")[1].split()[0]
    listed = json.loads(chat(env, "threads", "--json").out)
    assert [(t["thread_id"], t["title"]) for t in listed][0] == (failed, "a question that fails"), listed
    again = chat(env, "--json", "-c", "and then?")
    assert again.code == 0 and json.loads(again.out)["thread_id"] == failed, again
    assert json.loads(chat(env, "threads", "--json").out)[0]["title"] == "a question that fails"


def test_a_stream_cut_in_the_middle_keeps_the_part_that_arrived(provider):
    row, fake, env = provider
    fake.queue(Fault(cut_after=4, text="one two three four five six seven"))
    run = chat(env, "-t", "cut", "count for me")
    line = assert_one_error_line(run, 4)
    assert "broke in the middle of the answer" in line, line
    assert run.out.startswith("one two three"), run
    kept = summary(stored(_db(env), "cut"))
    assert kept[1][0] == "ai" and kept[1][1].startswith("one two three") and kept[1][2], kept


def test_a_request_over_the_window_is_fitted_and_asked_again(provider):
    row, fake, env = provider
    if not row.refuses_over_window:
        pytest.skip(f"{row.name} cuts a request over the window itself: chat asks for the window it needs")
    long = "the lighthouse keeper wrote down every ship that passed in the long winter nights " * 12
    for i in range(4):
        assert chat(env, "-t", "w", f"note {i}: {long}").code == 0
    fake.window = 900  # words: the history above is about 2,700
    run = chat(env, "-t", "w", "what was the first note about?")
    # The fake says the last user message back (Anthropic's holds the summary before it: one user turn), then the
    # earlier ones.
    said = run.out.partition(" (earlier: ")[0].strip()
    assert run.code == 0 and said.startswith("You said: ") and said.endswith("what was the first note about?"), run
    assert any("context window" in line or "for its size" in line for line in run.err_lines), run


@pytest.mark.e2e
def test_ctrl_c_keeps_the_part_that_arrived(provider):
    row, fake, env = provider
    fake.queue(Fault(stall_after=3, text="alpha beta gamma delta epsilon"))
    proc = subprocess.Popen(
        chat_argv(CHAT, "-t", "stop", "tell me a story"),
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert fake.wait_until(lambda: fake.stalls >= 1, timeout=30), "the answer never began"
    deadline = time.monotonic() + 10
    got = b""
    while b"gamma" not in got and time.monotonic() < deadline:  # what arrived is on the screen first
        got += os.read(proc.stdout.fileno(), 4096)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    kept = summary(stored(_db(env), "stop"))
    assert kept[1][0] == "ai" and kept[1][1].startswith("alpha beta gamma") and kept[1][2] == "cancelled", kept
