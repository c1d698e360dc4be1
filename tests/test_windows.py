"""Context windows smaller than the budget: learned from the server's refusal, fitted, asked again
once, remembered for later runs; a single message too big is one line, never a loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import assert_one_error_line, chat

LONG = "the lighthouse keeper wrote down every ship that passed in the long winter nights " * 12  # ~170 words


def fill(env: dict[str, str], thread: str, turns: int) -> None:
    for i in range(turns):
        assert chat(env, "-t", thread, f"note {i}: {LONG}").code == 0


def windows_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "chatcli" / "windows.json"


@pytest.mark.parametrize("style", ["openai", "llama", "empty"])
def test_a_window_smaller_than_the_budget_is_learned_fitted_and_remembered(server, chat_env, style):
    fill(chat_env, "w", 4)  # about 1,400 words of history, under no window yet
    server.window, server.window_style = 900, style
    before = len(server.requests)
    run = chat(chat_env, "-t", "w", "what was the first note about?")
    assert run.code == 0, run
    assert run.out.startswith("You said: what was the first note about?"), "answered after one retry"
    assert len(server.requests) == before + 2, "refused once, asked again once"
    notes = [line for line in run.err_lines if "context window" in line or "empty answer" in line]
    assert len(notes) == 1 and "remembered" in notes[0], run
    words = lambda body: sum(len(str(m["content"]).split()) for m in body["messages"])  # noqa: E731
    assert words(server.requests[-1]) <= 900 < words(server.requests[-2])
    saved = json.loads(windows_file(chat_env).read_text())
    assert len(saved) == 1 and list(saved.values())[0]["budget"] > 0
    # A later run starts with what was learned. A window the server named is fitted at once;
    # an empty answer names none, so chat halves what it sent and may need one more step.
    again = chat(chat_env, "-t", "w", "and the last one?")
    assert again.code == 0 and again.out.startswith("You said: and the last one?"), again
    if style == "empty":
        assert len(server.requests) <= before + 4
    else:
        assert len(server.requests) == before + 3 and not [line for line in again.err_lines if "window" in line], again


def test_a_single_message_over_the_window_is_one_line_and_no_loop(server, chat_env):
    server.window = 100
    before = len(server.requests)
    line = assert_one_error_line(chat(chat_env, "-t", "big", LONG), 4)
    assert "too long for the model's context window (100 tokens)" in line, line
    assert len(server.requests) - before == 1, "nothing left to cut: not asked again"


@pytest.mark.parametrize("kind", ["llama", "vllm", "lmstudio", "ollama"])
def test_a_window_the_server_tells_is_used_from_the_first_turn(server, chat_env, kind):
    fill(chat_env, "t", 4)  # under no window yet: nothing asked the server (it told nothing)
    saved = json.loads(windows_file(chat_env).read_text())
    assert list(saved.values())[0]["window"] is None, "asked once, and remembered it told nothing"
    windows_file(chat_env).unlink()  # a new machine, say: the server is asked again
    server.window, server.tells_window = 900, kind
    before = len(server.requests)
    run = chat(chat_env, "-t", "t", "what was the first note about?")
    assert run.code == 0 and len(server.requests) == before + 1, "fitted from the first request: no refusal"
    assert list(json.loads(windows_file(chat_env).read_text()).values())[0]["window"] == 900
