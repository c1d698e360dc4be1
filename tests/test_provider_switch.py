"""A thread that moves between providers (``-m``, ``/model``) goes on: each is sent the history as it takes it.

Each fake server refuses what its API refuses. An answer keeps its own provider's blocks (Anthropic's
signed thinking) for that provider alone; another provider gets it as its text and tool calls, so
an OpenAI-compatible server never sees Anthropic's blocks, and Anthropic never sees OpenAI's
reasoning or a thinking block it did not sign.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("langchain_anthropic")

from tests.fakes.anthropic import FakeAnthropicServer  # noqa: E402
from tests.fakes.anthropic_rules import signature  # noqa: E402
from tests.fakeserver import Calls, Reply, protocol_error  # noqa: E402
from tests.helpers import chat, stored  # noqa: E402


def test_a_thread_goes_from_openai_to_anthropic_and_back_with_tools_and_thinking(server, chat_env, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("the harbour opens at dawn\n")
    tools = ("-t", "mix", "--tools", "files", "--yes")
    with FakeAnthropicServer() as claude:
        env = {**chat_env, "ANTHROPIC_BASE_URL": claude.base_url, "ANTHROPIC_API_KEY": "sk-ant-test-0123456789",
               "CHATCLI_THINKING_BUDGET": "1024"}  # fmt: skip
        server.queue(Calls([("read_file", {"path": "notes.txt"}, "call_1")]), Reply("At dawn.", thinking="gpt thinks"))
        assert chat(env, *tools, "when does the harbour open?", cwd=tmp_path).code == 0

        claude.queue(Calls([("read_file", {"path": "notes.txt"}, "toolu_2")], thinking="claude thinks"))
        claude.queue(Reply("Still dawn.", thinking="claude checked"))
        run = chat(env, *tools, "-m", "anthropic:claude-fake", "are you sure?", cwd=tmp_path)
        assert run.code == 0, run
        to_claude = claude.requests[0]
        assert "gpt thinks" not in json.dumps(to_claude) and "reasoning" not in json.dumps(to_claude)
        call = to_claude["messages"][1]["content"]
        assert [b["type"] for b in call] == ["tool_use"] and call[0]["id"] == "call_1", call

        run = chat(env, *tools, "-m", "gpt-fake", "thanks", cwd=tmp_path)
        assert run.code == 0 and run.out.startswith("You said: thanks"), run
        to_gpt = server.requests[-1]
        answers = [m for m in to_gpt["messages"] if m["role"] == "assistant"]
        assert all(isinstance(m["content"], (str, type(None))) for m in answers), answers
        assert "signature" not in json.dumps(to_gpt) and "claude thinks" not in json.dumps(to_gpt)
        assert [c["id"] for m in answers for c in m.get("tool_calls") or []] == ["call_1", "toolu_2"]
        assert protocol_error(to_gpt["messages"]) is None
        assert "Still dawn." in [m["content"] for m in answers]

        run = chat(env, *tools, "-m", "anthropic:claude-fake", "one more", cwd=tmp_path)
        assert run.code == 0, run
        back = claude.requests[-1]
        thoughts = [
            b for m in back["messages"] for b in m["content"] if isinstance(b, dict) and b["type"] == "thinking"
        ]
        assert thoughts == [
            {"type": "thinking", "thinking": "claude thinks", "signature": signature("claude thinks")},
            {"type": "thinking", "thinking": "claude checked", "signature": signature("claude checked")},
        ], "Anthropic's own answers go back to it as they came"
    kinds = [m.type for m in stored(chat_env.get("CHATCLI_DB") or _db(chat_env), "mix")]
    assert kinds == ["human", "ai", "tool", "ai"] * 2 + ["human", "ai"] * 2


def _db(env: dict[str, str]) -> str:
    return str(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db")


def test_a_thread_goes_round_gemini_ollama_and_openai_with_tools_and_thinking(server, chat_env, tmp_path: Path):
    pytest.importorskip("langchain_google_genai")
    pytest.importorskip("langchain_ollama")
    from tests.fakes.gemini import KEY, FakeGeminiServer
    from tests.fakes.ollama import FakeOllamaServer

    (tmp_path / "notes.txt").write_text("the harbour opens at dawn\n")
    tools = ("-t", "round", "--tools", "files", "--yes")
    with FakeGeminiServer() as gemini, FakeOllamaServer() as ollama:
        env = {**chat_env, "GOOGLE_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": gemini.base_url,
               "OLLAMA_HOST": ollama.base_url}  # fmt: skip
        steps = [
            (gemini, "google_genai:gemini-3-pro-preview", "gemini thinks"),
            (ollama, "ollama:qwen3", "qwen thinks"),
            (server, "gpt-fake", "gpt thinks"),
            (gemini, "google_genai:gemini-3-pro-preview", "gemini again"),
            (ollama, "ollama:qwen3", "qwen again"),
        ]
        for number, (fake, model, thought) in enumerate(steps):
            fake.queue(Calls([("read_file", {"path": "notes.txt"}, f"call_{number}")], thinking=thought))
            fake.queue(Reply(f"answer {number}", thinking=f"{thought}, then answers"))
            run = chat(env, *tools, "-m", model, f"question {number}", cwd=tmp_path)
            assert run.code == 0 and run.out.strip() == f"answer {number}", run
        sent = {name: json.dumps(fake.requests) for name, fake in (("gemini", gemini), ("ollama", ollama),
                                                                    ("openai", server))}  # fmt: skip
    # Each server had its own thinking back (Gemini's as thought parts, Ollama's as `thinking`), never another's.
    assert "gpt thinks" not in sent["gemini"] + sent["ollama"] and "qwen thinks" not in sent["gemini"]
    assert "gemini thinks" not in sent["ollama"] + sent["openai"] and "qwen thinks" not in sent["openai"]
    assert "gemini thinks" in sent["gemini"] and "qwen thinks" in sent["ollama"]
    kinds = [m.type for m in stored(chat_env.get("CHATCLI_DB") or _db(chat_env), "round")]
    assert kinds == ["human", "ai", "tool", "ai"] * 5
