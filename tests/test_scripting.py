"""`chat --json` and `chat --jsonl`: the installed command, run by a script, against the fake server."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.fakeserver import FAULT_TEXT, Fault, Reply, tokenize
from tests.helpers import CHAT, KEY, Captured, Run, chat
from tests.mcp_servers import chat_argv

DONE_KEYS = {
    "thread_id",
    "node",
    "reply",
    "model",
    "usage",
    "cost_usd",
    "timing",
    "finish_reason",
    "tool_calls",
    "reasoning",
    "subgraphs",
    "turns_left_out",
    "turns_compacted",
    "memories",
}
ERROR_KEYS = {
    "thread_id",
    "node",
    "reply",
    "model",
    "finish_reason",
    "tool_calls",
    "reasoning",
    "subgraphs",
    "turns_left_out",
    "turns_compacted",
    "memories",
    "error",
}


def one_object(run: Run) -> dict:
    """stdout is exactly one JSON object on one line."""
    assert run.out.endswith("\n") and run.out.count("\n") == 1, run
    return json.loads(run.out)


def json_lines(run: Run) -> list[dict]:
    assert run.out.endswith("\n"), run
    return [json.loads(line) for line in run.out.splitlines()]


def server_usage(body: dict, reply: str) -> dict:
    """What the fake server counts: words of the request's messages, tokens of the reply."""
    prompt = sum(len(m["content"].split()) for m in body["messages"])
    completion = len(tokenize(reply))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def assert_error_line(run: Run, code: int) -> str:
    assert run.code == code, run
    assert "Traceback" not in run.err, run
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chat: error: "), run
    return lines[0]


# --------------------------------------------------------------------------- --json


def test_json_prints_one_object_with_the_answer(server, chat_env):
    server.queue(Reply("Hello there, friend."))
    started = time.monotonic()
    run = chat(chat_env, "--json", "what is up?")
    took = time.monotonic() - started  # the seconds chat's own timing must fall within
    assert run.code == 0, run
    obj = one_object(run)
    assert set(obj) == DONE_KEYS
    assert obj["reply"] == "Hello there, friend."
    assert obj["model"] == "gpt-fake"
    assert obj["finish_reason"] == "stop"
    assert obj["usage"] == server_usage(server.requests[-1], "Hello there, friend.")
    timing = obj["timing"]
    assert 0 <= timing["first_token_s"] <= timing["total_s"] <= took + 0.001  # seconds (to the ms), not ms
    assert isinstance(obj["thread_id"], str) and obj["thread_id"]
    # Nothing else anywhere: no thread note on stderr, no ANSI codes.
    assert run.err == "", run
    assert "\x1b" not in run.out


def test_json_threads_carry_over_between_calls(server, chat_env):
    first = one_object(chat(chat_env, "--json", "my name is Zed"))
    second_run = chat(chat_env, "--json", "--thread", first["thread_id"], "what is my name?")
    assert second_run.code == 0, second_run
    second = one_object(second_run)
    assert second["thread_id"] == first["thread_id"]
    # The default reply echoes the earlier user messages: the thread's history was sent.
    assert second["reply"] == "You said: what is my name? (earlier: my name is Zed)"
    assert second["usage"] == server_usage(server.requests[-1], second["reply"])
    third = one_object(chat(chat_env, "--json", "another thread"))
    assert third["thread_id"] != first["thread_id"]


def test_json_reads_a_piped_question(server, chat_env):
    run = chat(chat_env, "--json", "summarise:", stdin="some piped text\n")
    assert run.code == 0, run
    obj = one_object(run)
    assert obj["reply"].startswith("You said: summarise:\n\nsome piped text")
    assert run.err == ""


def test_json_without_usage_from_the_server_says_null(server, chat_env):
    server.queue(Reply("no counts here", usage=False))
    obj = one_object(chat(chat_env, "--json", "hi"))
    assert obj["usage"] is None
    assert obj["reply"] == "no counts here"


def test_json_text_is_exact_even_with_control_characters(server, chat_env):
    text = 'quote " backslash \\ tab \t bell \x07 esc \x1b[31m unicode é ✓'
    server.queue(Reply(tokens=[text]))
    obj = one_object(chat(chat_env, "--json", "hi"))
    assert obj["reply"] == text


# --------------------------------------------------------------------------- --jsonl


def test_jsonl_streams_token_events_then_done(server, chat_env):
    server.queue(Reply("one two three four"))
    run = chat(chat_env, "--jsonl", "count")
    assert run.code == 0, run
    events = json_lines(run)
    tokens, done = events[:-1], events[-1]
    assert len(tokens) == 4 and all(set(e) == {"type", "text"} and e["type"] == "token" for e in tokens)
    assert "".join(e["text"] for e in tokens) == "one two three four"
    assert done["type"] == "done" and set(done) == DONE_KEYS | {"type"}
    assert done["reply"] == "one two three four"
    assert done["usage"] == server_usage(server.requests[-1], "one two three four")
    assert run.err == ""


@pytest.mark.e2e
def test_jsonl_lines_arrive_as_the_answer_streams(server, chat_env):
    """Each line is flushed when its chunk arrives, not at the end."""
    server.queue(Reply("alpha beta gamma delta", delay=0.4))
    proc = subprocess.Popen(
        chat_argv(CHAT, "--jsonl", "slowly"),
        env=chat_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = json.loads(proc.stdout.readline())
        assert first == {"type": "token", "text": "alpha"}
        assert proc.poll() is None, "the first line came while the answer was still streaming"
        rest = proc.stdout.read().decode().splitlines()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert json.loads(rest[-1])["type"] == "done"


# --------------------------------------------------------------------------- errors


def test_json_error_before_any_text(server, chat_env):
    server.queue(Fault(status=401))
    run = chat(chat_env, "--json", "hi")
    line = assert_error_line(run, 4)
    obj = one_object(run)
    assert set(obj) == ERROR_KEYS
    assert obj["reply"] == ""
    assert obj["error"]["exit_code"] == 4
    assert obj["error"]["message"] == line.removeprefix("chat: error: ")
    assert "authentication refused" in obj["error"]["message"]
    assert isinstance(obj["thread_id"], str) and obj["thread_id"]
    assert KEY not in run.out + run.err


def test_json_error_mid_answer_carries_the_partial_reply(server, chat_env):
    server.queue(Fault(cut_after=3))
    run = chat(chat_env, "--json", "tell me")
    assert_error_line(run, 4)
    obj = one_object(run)
    assert obj["reply"] == "".join(tokenize(FAULT_TEXT)[:3])
    assert "broke in the middle" in obj["error"]["message"]
    # The partial answer is in the thread: the next call on it sees it.
    again = one_object(chat(chat_env, "--json", "-t", obj["thread_id"], "go on"))
    assert again["thread_id"] == obj["thread_id"]
    assert server.requests[-1]["messages"][-2] == {"role": "assistant", "content": obj["reply"]}


def test_jsonl_error_mid_answer_ends_with_an_error_event(server, chat_env):
    server.queue(Fault(cut_after=2))
    run = chat(chat_env, "--jsonl", "tell me")
    assert_error_line(run, 4)
    events = json_lines(run)
    assert [e["type"] for e in events] == ["token", "token", "error"]
    assert events[-1]["reply"] == events[0]["text"] + events[1]["text"]
    assert events[-1]["error"]["exit_code"] == 4


def test_json_truncated_answer_is_an_error_with_the_text(server, chat_env):
    server.queue(Reply("Half an answer", finish_reason="length"))
    run = chat(chat_env, "--json", "long one")
    assert_error_line(run, 4)
    obj = one_object(run)
    assert obj["reply"] == "Half an answer"
    assert obj["finish_reason"] == "length"
    assert "output limit" in obj["error"]["message"]


def test_json_config_error_is_an_object_too(chat_env):
    env = {k: v for k, v in chat_env.items() if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    env["CHATCLI_LOCAL"] = "0"  # no fallback on the local model, installed or not
    run = chat(env, "--json", "hi")
    assert_error_line(run, 3)
    assert one_object(run)["error"]["exit_code"] == 3


def test_json_with_an_empty_question_is_a_usage_error(server, chat_env):
    run = chat(chat_env, "--json", stdin="   \n")
    assert_error_line(run, 2)
    assert one_object(run)["error"]["exit_code"] == 2
    assert server.requests == []


def test_json_and_jsonl_together_is_a_usage_error(server, chat_env):
    run = chat(chat_env, "--json", "--jsonl", "hi")
    assert_error_line(run, 2)
    assert server.requests == []


def test_json_without_a_question_at_a_terminal_is_a_usage_error(server, chat_env):
    """--json is one-shot only: with a terminal on stdin and no question it does not open the prompt."""
    run = chat(chat_env, "--json", stdin=Captured(tty=True))
    line = assert_error_line(run, 2)
    assert "--json" in line
    assert one_object(run)["error"]["exit_code"] == 2
    assert server.requests == []
