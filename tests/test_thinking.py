"""Reasoning models: the thinking in all three forms a server sends it, kept apart from the answer.

Against the fake server through the real OpenAI client path: ``delta.reasoning_content``
(llama.cpp, vLLM, DeepSeek), ``delta.reasoning`` (Ollama, OpenRouter) and ``<think>`` at the
start of the content, cut anywhere across chunks.
"""

from __future__ import annotations

import json

import pytest

from chatcli.providers.think_tags import ThinkSplitter
from tests.fakeserver import Raw, Reply, delta_chunk, sse
from tests.helpers import chat, stored
from tests.test_reliability import db_of

THOUGHT = "The user asks about the sky. Rayleigh scattering: blue light scatters most."
ANSWER = "The sky is blue because air scatters blue light more than red."


def stream(*deltas: dict, pause: float = 0.0) -> Raw:
    parts: list[bytes | float] = []
    for delta in deltas:
        parts.append(sse(delta_chunk(delta)))
        if pause:
            parts.append(pause)
    return Raw([*parts, sse(delta_chunk({}, finish_reason="stop")), b"data: [DONE]\n\n"])


def pieces(text: str, size: int) -> list[dict]:
    return [{"content": text[i : i + size]} for i in range(0, len(text), size)]


FORMS = {
    "reasoning_content": stream(
        {"role": "assistant", "reasoning_content": THOUGHT[:30]},
        {"reasoning_content": THOUGHT[30:]},
        {"content": ANSWER},
    ),
    "reasoning": stream(
        {"role": "assistant", "reasoning": THOUGHT[:30]}, {"reasoning": THOUGHT[30:]}, {"content": ANSWER}
    ),
    "think tags": stream(*pieces(f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}", 3)),
}


# --------------------------------------------------------------------------- the splitter


def test_a_tag_cut_anywhere_is_still_found():
    text = f"<think>{THOUGHT}</think>{ANSWER}"
    for first in range(len(text)):
        for second in range(first, len(text), 7):
            splitter = ThinkSplitter()
            thought = answer = ""
            for part in (text[:first], text[first:second], text[second:]):
                t, a = splitter.feed(part)
                thought, answer = thought + t, answer + a
            t, a = splitter.flush()
            assert (thought + t, answer + a) == (THOUGHT, ANSWER), (first, second)


@pytest.mark.parametrize(
    "text, want",
    [
        ("plain answer", ("", "plain answer")),
        ("  <think>x</think>y", ("x", "y")),
        ("answer with <think>inside</think>", ("", "answer with <think>inside</think>")),
        ("<thin", ("", "<thin")),  # a tag that never completes is text
        ("<think>never closed", ("never closed", "")),
        ("<", ("", "<")),
    ],
)
def test_only_an_opening_think_is_thinking(text, want):
    splitter = ThinkSplitter()
    thinking, answer = splitter.feed(text)
    more_thinking, more_answer = splitter.flush()
    assert (thinking + more_thinking, answer + more_answer) == want


# --------------------------------------------------------------------------- through chat


@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_keeps_the_thinking_apart_and_never_sends_it_back(server, chat_env, form):
    server.queue(FORMS[form], Reply("Second answer."))
    run = chat(chat_env, "-t", "sky", "why is the sky blue?")
    assert run.code == 0, run
    assert run.out == ANSWER + "\n"  # a pipe: the answer only
    assert THOUGHT not in run.err
    reply = [m for m in stored(db_of(chat_env), "sky") if m.type == "ai"][0]
    assert reply.content == ANSWER
    assert reply.additional_kwargs["reasoning_content"].strip() == THOUGHT
    assert chat(chat_env, "-t", "sky", "and at sunset?").code == 0
    sent = json.dumps(server.requests[-1])
    assert "Rayleigh" not in sent and "<think>" not in sent
    assert [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "assistant"] == [ANSWER]


def test_json_carries_the_reasoning_and_jsonl_streams_it(server, chat_env):
    server.queue(FORMS["think tags"])
    obj = json.loads(chat(chat_env, "--json", "why?").out)
    assert obj["reply"] == ANSWER and obj["reasoning"].strip() == THOUGHT
    server.queue(FORMS["reasoning_content"])
    events = [json.loads(line) for line in chat(chat_env, "--jsonl", "why?").out.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["reasoning", "reasoning"] and "token" in kinds and kinds[-1] == "done", kinds
    assert "".join(e["text"] for e in events if e["type"] == "reasoning") == THOUGHT
    assert events[-1]["reasoning"] == THOUGHT
    server.queue(Reply("no thinking here"))
    assert json.loads(chat(chat_env, "--json", "hi").out)["reasoning"] is None


def test_a_long_think_is_not_a_stall(server, chat_env):
    """Thinking is progress: the stall timer (CHATCLI_TIMEOUT) counts it.

    Five pieces of thinking 0.2 s apart: the answer starts 1 s in, twice the stall limit of
    0.5 s, with no gap over it; more steps would only make the test longer."""
    words = [{"role": "assistant", "reasoning_content": "hmm "}] + [
        {"reasoning_content": f"step {i} "} for i in range(4)
    ]
    server.queue(stream(*words, {"content": "Done thinking."}, pause=0.2))
    run = chat({**chat_env, "CHATCLI_TIMEOUT": "0.5"}, "think hard")
    assert run.code == 0, run
    assert run.out == "Done thinking.\n"


def test_a_reply_that_only_thinks_is_an_empty_answer_with_its_thinking_kept(server, chat_env):
    server.queue(stream({"role": "assistant", "reasoning_content": THOUGHT}))
    run = chat(chat_env, "-t", "mute", "hello?")
    assert run.code == 4, run
    assert "empty answer" in run.err
    reply = [m for m in stored(db_of(chat_env), "mute") if m.type == "ai"][0]
    assert reply.additional_kwargs["reasoning_content"] == THOUGHT


def test_show_and_export_include_the_thinking(server, chat_env, tmp_path):
    server.queue(FORMS["reasoning"])
    assert chat(chat_env, "-t", "shown", "why?").code == 0
    show = chat(chat_env, "show", "shown").out
    assert "<details><summary>Thinking</summary>" in show and THOUGHT in show and ANSWER in show
    exported = json.loads(chat(chat_env, "export", "shown", "-f", "json").out)
    assert exported["messages"][1]["reasoning"] == THOUGHT
    path = tmp_path / "t.json"
    path.write_text(json.dumps(exported))
    run = chat(chat_env, "import", str(path))
    assert run.code == 0, run
    new_id = run.out.strip()
    reply = [m for m in stored(db_of(chat_env), new_id) if m.type == "ai"][0]
    assert reply.additional_kwargs["reasoning_content"] == THOUGHT and reply.content == ANSWER
