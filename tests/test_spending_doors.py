"""A spending limit reached, at each door (#66): a model call that could pass ``max_cost_answer`` is refused before
it is sent, and each door says so in its own terms, the question kept in the thread.

- a one-shot's ``--json`` and ``--jsonl`` (cold, and through the warm worker): exit status 6 and the error object's
  ``limit``, the setting's name;
- ``chat serve``: 402 with ``{"error": {"message", "exit_code": 6, "limit"}}``; over SSE the last event, the same
  error object;
- ``chat acp``: the turn ends ``max_turn_requests`` (not ``refusal``: the question is kept), the one line and its
  hint said first as the agent's message.

- the prompt: the one line on the screen, the prompt back for the next question.

Each door's refused question is then found in the next request, once the limit is raised (``--max-cost``). An answer
streaming past the limit is stopped at each door, said the same way, and the part that came is kept in the thread.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import Reply
from tests.helpers import chat
from tests.matrix import Door, doors

# gpt-fake at $10 in and $100 out a million, max_tokens 1,000: a call's most is over $0.10 (its answer's room
# alone), past a $0.05 limit; $0.50 (--max-cost) lets it through.
CONFIG = 'max_tokens = 1000\nmax_cost_answer = 0.05\n[prices."gpt-fake"]\ninput = 10.0\noutput = 100.0\n'
LINE = "not asked: the next model call could cost up to $0.10"  # the line (its wording: chatcli/backends/own/spending)
HINT = "CHATCLI_MAX_COST_ANSWER"  # how to raise the limit, in the line's hint
OBJECT_KEYS = {"message", "exit_code", "limit"}


@pytest.fixture
def priced(isolated_env: Path) -> None:
    """config.toml with gpt-fake's price and a $0.05 limit on an answer (before any door opens: the worker's)."""
    path = isolated_env / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG)


def _limited(error: dict[str, Any]) -> None:
    """The error object of a refused call: the one line, exit code 6, the limit's setting."""
    assert set(error) == OBJECT_KEYS and error["exit_code"] == 6 and error["limit"] == "max_cost_answer", error
    assert error["message"].startswith(LINE) and HINT in error["message"], error


def _one_shot(door: Door, question: str) -> list[str]:
    """``--json``, then ``--jsonl`` on the same thread: each refused, its object's ``limit`` said; the thread."""
    mark = door.mark()
    run = door.chat("--json", question)  # type: ignore[attr-defined]
    door.went(mark)
    assert run.code == 6 and len(run.err_lines) == 1 and run.err_lines[0].startswith("chat: error: " + LINE), run
    obj = json.loads(run.out)
    _limited(obj["error"])
    assert obj["reply"] == "" and obj["thread_id"], obj
    thread = obj["thread_id"]
    mark = door.mark()
    lines = door.chat("--jsonl", "-t", thread, question + " (again)")  # type: ignore[attr-defined]
    door.went(mark)
    assert lines.code == 6, lines
    last = json.loads(lines.out.splitlines()[-1])
    assert last["type"] == "error" and last["thread_id"] == thread, last
    _limited(last["error"])
    return [thread]


def _served(door: Door, question: str) -> list[str]:
    """A plain request: 402 and the error object; a streamed one: 200, its last event the same error object."""
    served = door.served  # type: ignore[attr-defined]
    plain, streamed = str(uuid.uuid4()), str(uuid.uuid4())
    status, body = served.ask(plain, question)
    assert status == 402, (status, body)
    _limited(body["error"])
    assert body["thread_id"] == plain and body["reply"] == "", body
    events = list(served.events(f"/v1/threads/{streamed}/messages", {"content": question}))
    assert events[-1]["type"] == "error", events
    _limited(events[-1]["error"])
    return [plain, streamed]


def _editor(door: Door, question: str) -> list[str]:
    """The prompt's response: ``max_turn_requests``, the line and its hint the agent's message; no JSON-RPC error."""
    answer = door.ask(question)
    assert answer.code == 0 and answer.raw.stop_reason == "max_turn_requests", answer
    assert answer.out.startswith(LINE) and HINT in answer.out and "\n" not in answer.out.strip(), answer
    return [answer.thread or ""]


def _prompt(door: Door, question: str) -> list[str]:
    """At the prompt: the one line on the screen, and the prompt back for the next question."""
    answer = door.ask(question)
    assert LINE in door.failed(answer, 6), answer
    return [answer.thread or ""]


SAID = {"prompt": _prompt, "cold": _one_shot, "worker": _one_shot, "serve": _served, "acp": _editor}


@doors("prompt", "cold", "worker", "serve", "acp")
def test_a_spending_limit_is_said_at_each_door_and_the_question_is_kept(priced, door, server, chat_env):
    question = f"what does it cost at the {door.name} door?"
    threads = SAID[door.name](door, question)
    assert not server.requests, server.requests  # refused before anything was sent
    for thread in threads:  # the limit raised for one question: the refused one is in the request
        server.queue(Reply("worth it"))
        answered = chat({**chat_env, "CHATCLI_WORKER": "0"}, "--max-cost", "0.50", "-t", thread, "go on")
        assert answered.code == 0 and "worth it" in answered.out, answered
        asked = json.dumps([m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"])
        assert question in asked, asked


def test_other_errors_have_no_limit_field(server, chat_env):
    """A model's failure's error object is as it was: message and exit code alone."""
    from tests.fakeserver import Fault

    server.queue(Fault(status=500))
    run = chat(chat_env, "--json", "hello")
    assert run.code == 4 and set(json.loads(run.out)["error"]) == {"message", "exit_code"}, run


STOPPED = "the answer was stopped at about"


@pytest.fixture
def roomier(isolated_env: Path) -> None:
    """config.toml with gpt-fake's price and a $0.12 limit on an answer: room for a call's most, not for $0.60."""
    path = isolated_env / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG.replace("max_cost_answer = 0.05", "max_cost_answer = 0.12"))


@doors("prompt", "cold", "worker", "serve", "acp")
def test_an_answer_streaming_past_a_limit_is_stopped_and_kept_at_each_door(roomier, door, server, chat_env):
    """A server that streams past an answer's most (one that ignores max_tokens) is stopped where the running cost
    reaches the limit, said in the door's terms; the part that came is kept in the thread."""
    server.queue(Reply(tokens=[f"w{n:04d} " for n in range(4000)]))  # about 6,000 tokens: $0.60
    answer = door.ask(f"everything, at the {door.name} door")
    if door.name == "acp":
        assert answer.raw.stop_reason == "max_turn_requests" and answer.out.startswith("w0000 w0001"), answer
        assert STOPPED in answer.out, answer
    elif door.name == "serve":
        assert answer.status == 402 and answer.raw["error"]["limit"] == "max_cost_answer", answer
        assert answer.errors[0].startswith(STOPPED), answer
    else:
        line = door.failed(answer, 0 if door.name == "prompt" else 6)
        assert STOPPED in line and "w0000 w0001" in answer.out, answer
    assert answer.thread, answer
    shown = json.loads(chat({**chat_env, "CHATCLI_WORKER": "0"}, "export", answer.thread, "-f", "json").out)
    kept = shown["messages"][-1]
    assert kept["role"] == "assistant" and kept["content"].startswith("w0000 w0001"), kept
    assert "w3999" not in kept["content"], "stopped near the limit, not at the end"
