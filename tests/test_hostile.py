"""Hostile or broken servers: whatever a 200 carries, chat says what was wrong in one line and
nothing is lost; odd text and counts do not fail an answer; a reply with tool calls does not
break the thread."""

from __future__ import annotations

import json

import pytest

from tests.fakeserver import Raw, Reply, delta_chunk, sse
from tests.helpers import HANG, assert_one_error_line, chat, stored, summary, visible
from tests.test_reliability import db_of

DONE = b"data: [DONE]\n\n"


def stream(*deltas: dict, finish: str = "stop", usage=None, model="gpt-fake") -> Raw:
    """A well-formed stream of ``deltas``, then a finish chunk (and ``usage`` if given)."""
    parts = [sse(delta_chunk({"role": "assistant", "content": ""}, model=model))]
    parts += [sse(delta_chunk(d, model=model)) for d in deltas]
    parts.append(sse(delta_chunk({}, finish_reason=finish, model=model)))
    if usage is not None:
        parts.append(
            sse(
                {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        )
    return Raw([*parts, DONE])


NOT_A_STREAM = {
    "only [DONE]": Raw([DONE]),
    "an HTML page": Raw([b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"], "text/html"),
    "a plain JSON body": Raw(
        [
            json.dumps(
                {
                    "id": "c",
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
                }
            ).encode()
        ],
        "application/json",
    ),
}


@pytest.mark.parametrize("what", NOT_A_STREAM)
def test_a_200_that_is_not_a_stream_is_one_line_exit_4_and_the_question_is_kept(server, chat_env, what):
    server.queue(NOT_A_STREAM[what])
    line = assert_one_error_line(chat(chat_env, "-t", "odd", "hello?"), 4)
    assert "not with an OpenAI-compatible stream" in line, line
    assert summary(stored(db_of(chat_env), "odd")) == [("human", "hello?", None)]
    again = chat(chat_env, "-t", "odd", "and now?")  # the thread goes on
    assert again.code == 0 and again.out.startswith("You said: and now?"), again


@pytest.mark.parametrize("flags", [[], ["--json"], ["--jsonl"]])
def test_a_lone_surrogate_in_the_text_becomes_a_replacement_character(server, chat_env, flags):
    server.queue(stream({"content": "bad "}, {"content": "\ud800"}, {"content": " char"}))
    run = chat(chat_env, *flags, "-t", "sur", "hi")
    assert run.code == 0 and "Traceback" not in run.err and run.err_lines == [], run
    if flags == ["--json"]:
        assert json.loads(run.out)["reply"] == "bad \ufffd char"
    elif flags == ["--jsonl"]:
        assert json.loads(run.out.splitlines()[-1])["reply"] == "bad \ufffd char"
    else:
        assert run.out == "bad \ufffd char\n"
    assert summary(stored(db_of(chat_env), "sur"))[1] == ("ai", "bad \ufffd char", None)


COUNTED = {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


@pytest.mark.parametrize(
    "usage, kept",
    [
        ({"prompt_tokens": "lots", "completion_tokens": 3, "total_tokens": 5}, None),
        ({"prompt_tokens": 2, "completion_tokens": 1.5, "total_tokens": 3.5}, None),
        ({"prompt_tokens": -1, "completion_tokens": 2, "total_tokens": 1}, None),
        ({**COUNTED, "completion_tokens_details": "many"}, COUNTED),  # the counts are good: only the detail goes
    ],
)
def test_usage_that_is_not_a_count_is_ignored(server, chat_env, usage, kept):
    server.queue(stream({"content": "Fine answer."}, usage=usage))
    run = chat(chat_env, "--json", "hi")
    assert run.code == 0 and run.err_lines == [], run
    obj = json.loads(run.out)
    assert obj["reply"] == "Fine answer." and obj["usage"] == kept


def test_a_reply_with_tool_calls_does_not_break_the_thread(server, chat_env):
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    server.queue(stream({"tool_calls": [call]}, finish="tool_calls"))
    first = chat(chat_env, "-t", "tools", "look it up")
    assert first.code == 4 and "empty answer" in first.err, first
    # The fake server refuses, as OpenAI does (400), a call without its result: the next
    # request must carry no tool call at all.
    server.queue(Reply("Answered."))
    second = chat(chat_env, "-t", "tools", "just answer then")
    assert second.code == 0 and second.out == "Answered.\n", second
    sent = server.requests[-1]["messages"]
    assert all(not m.get("tool_calls") for m in sent) and all(m["role"] != "tool" for m in sent)


# --------------------------------------------------------------------------- passwords in URLs

URLS_WITH_PASSWORDS = {
    "endpoint": ({"OPENAI_BASE_URL": "http://user:hunter2pass@127.0.0.1:1/v1"}, [], "hunter2pass", 4),
    "database": ({}, ["--db", "postgresql://alice:my@secretPw@127.0.0.1:1/chat2"], "secretPw", 5),
}


@pytest.mark.parametrize("case", URLS_WITH_PASSWORDS)
@pytest.mark.parametrize("mode", [[], ["--json"], ["--jsonl"], ["--debug"]])
def test_the_password_in_a_url_is_never_printed(chat_env, case, mode):
    pytest.importorskip("psycopg")
    extra_env, args, secret, code = URLS_WITH_PASSWORDS[case]
    run = chat({**chat_env, "CHATCLI_MAX_RETRIES": "0", **extra_env}, *mode, *args, "q")
    assert run.code == code, run
    assert secret not in run.out + run.err, run
    assert "127.0.0.1" in run.err  # the rest of the address is still said


# --------------------------------------------------------------------------- data is never markup


@pytest.mark.parametrize("model", ["[/bold]", "[/x]", "[bold red]restyled[/bold red]"])
def test_a_model_name_that_looks_like_markup_is_shown_as_it_is(server, chat_env, model):
    server.queue(stream({"content": "Hello."}, model=model))
    assert chat(chat_env, "-t", "mk", "hi").code == 0
    run = chat(chat_env, "show", "mk", tty=True)  # rendered as in a terminal
    assert run.code == 0 and model in visible(run.out), run


def test_an_imported_thread_with_markup_in_its_fields_shows(server, chat_env, tmp_path):
    export = {
        "format": "chatcli-thread", "version": 1, "title": "[/red] title", "model": "[/x]",
        "system": None, "vars": {},
        "messages": [{"role": "user", "content": "q", "created_at": "[/red]"}, {"role": "assistant", "content": "a", "model": "[/x]"}],
    }  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    imported = chat(chat_env, "import", str(path))
    assert imported.code == 0, imported
    run = chat(chat_env, "show", imported.out.strip(), tty=True)
    assert run.code == 0 and "[/x]" in visible(run.out) and "[/red] title" in visible(run.out), run
    listed = chat(chat_env, "threads", tty=True)
    assert listed.code == 0 and "[/x]" in visible(listed.out) and "[/red] title" in visible(listed.out), listed


# --------------------------------------------------------------------------- keep-alives forever


def test_a_stream_that_only_keeps_alive_is_a_stall_with_the_partial_kept(server, chat_env):
    """One token, then SSE keep-alive comments every 0.125 s, for HANG seconds: after CHATCLI_TIMEOUT, one line, exit
    4 (the keep-alives running out would come after the test's timeout)."""
    head = [sse(delta_chunk({"role": "assistant", "content": ""})), sse(delta_chunk({"content": "Only this"}))]
    server.queue(Raw([*head, *[0.125, b": keep-alive\n\n"] * int(HANG / 0.125)]))
    line = assert_one_error_line(chat({**chat_env, "CHATCLI_TIMEOUT": "0.5"}, "-t", "ka", "hi"), 4)
    assert "stalled: no text for more than 0.5 s" in line and "kept" in line, line
    assert summary(stored(db_of(chat_env), "ka")) == [("human", "hi", None), ("ai", "Only this", "error")]
