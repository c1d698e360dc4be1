"""``chat --remote`` without a server: what the command line takes, how a run's events are told, how interrupts
are answered, and chat's graph as the project's langgraph.json serves it (tests/test_remote.py runs a server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chatcli.backends.remote.client import Remote, RemoteSpec, remote_spec, thread_info
from chatcli.backends.remote.run import RemoteSource
from chatcli.core.events import Token, ToolCall, ToolResult, TurnResult
from chatcli.core.turn import Progress
from chatcli.errors import ModelError, UsageError
from tests.helpers import assert_one_error_line, chat

ROOT = Path(__file__).resolve().parent.parent


def test_the_key_comes_from_the_environment_or_a_header_and_bad_input_is_refused():
    spec = remote_spec("http://127.0.0.1:8123/", None, ["Authorization: Bearer t"], {"LANGSMITH_API_KEY": "ls"})
    assert spec == RemoteSpec("http://127.0.0.1:8123", None, (("Authorization", "Bearer t"),), "ls")
    both = {"LANGSMITH_API_KEY": "ls", "LANGGRAPH_API_KEY": "lg"}
    assert remote_spec("https://x.example", "agent", [], both).api_key == "lg"
    assert remote_spec("https://x.example", None, ["X-Api-Key: mine"], both).api_key == "mine"
    with pytest.raises(UsageError, match="http"):
        remote_spec("127.0.0.1:2024", None, [], {})
    with pytest.raises(UsageError, match="Name: value"):
        remote_spec("http://h", None, ["no colon"], {})


@pytest.mark.parametrize("flag", [["--model", "m"], ["--tools", "shell"], ["--system", "be brief"], ["--local"]])
def test_flags_of_chats_own_engine_are_refused_with_remote(chat_env, flag):
    done = chat(chat_env, "--remote", "http://127.0.0.1:9", *flag, "hi")
    assert f"{flag[0]} does not apply with --remote" in assert_one_error_line(done, 2)


def test_a_servers_thread_is_listed_by_its_first_question():
    row = thread_info({
        "thread_id": "t1", "created_at": "2026-11-23T10:00:00+00:00", "updated_at": "2026-11-23T10:05:00+00:00",
        "metadata": {"graph_id": "agent"}, "values": {"messages": [
            {"type": "human", "content": [{"type": "text", "text": "what is   up"}]}, {"type": "ai", "content": "x"}]},
    })  # fmt: skip
    assert (row.title, row.message_count, row.model, row.updated_at - row.created_at) == ("what is up", 2, "agent", 300)


class FakeRuns:
    def __init__(self, parts: list[tuple[str, Any]]):
        self.parts = parts

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        async def parts() -> Any:
            for event, data in self.parts:
                yield type("Part", (), {"event": event, "data": data, "id": None})()

        return parts()


def run_events(parts: list[tuple[str, Any]]) -> tuple[list[Any], TurnResult]:
    """What a listener hears of a run whose server sends ``parts``."""
    from chatcli.local.loopback import Allowed

    remote = Remote(RemoteSpec("http://h"), type("Client", (), {"runs": FakeRuns(parts)})(), "a", "agent", Allowed([]))
    heard: list[Any] = []
    listener = type("L", (), {"hear": lambda self, e: heard.append(e)})()
    result = TurnResult("")
    config = {"configurable": {"thread_id": "t"}}
    asyncio.run(RemoteSource(remote).stream({"messages": []}, config, listener, result, Progress()))
    return heard, result


def chunk(text: str, message_id: str, **extra: Any) -> tuple[str, Any]:
    return "messages", [{"type": "AIMessageChunk", "content": text, "id": message_id, **extra}, {"langgraph_node": "n"}]


def test_a_runs_tokens_calls_and_results_reach_the_listener_as_a_local_graphs_do():
    call = {"name": "search", "args": {"q": "x"}, "id": "c1"}
    heard, result = run_events([
        ("metadata", {"run_id": "r1"}), chunk("Looking", "m1"), chunk(" it up", "m1"),
        ("messages", [{"type": "human", "content": "not shown"}, {}]),
        ("updates", {"agent": {"messages": [{"type": "ai", "content": "Looking it up", "tool_calls": [call]}]}}),
        ("updates", {"tools": {"messages": [{"type": "tool", "tool_call_id": "c1", "content": "found", "name": "search"}]}}),
        chunk("Done", "m2", usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}),
        ("updates", {"__interrupt__": [{"id": "i1", "value": "ok?"}]}),
    ])  # fmt: skip
    assert "".join(e.text for e in heard if isinstance(e, Token)) == "Looking it up\n\nDone"
    results = [e for e in heard if isinstance(e, ToolResult)]
    assert [(r.call.name, r.call.arguments, r.status, r.content) for r in results] == [
        ("search", {"q": "x"}, "ok", "found")
    ]
    assert [e.name for e in heard if isinstance(e, ToolCall)] == ["search"]
    assert result.usage == {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}


def test_a_run_that_fails_on_the_server_is_one_model_error():
    with pytest.raises(ModelError, match="the graph failed on the server: ValueError: bad input"):
        run_events([("error", {"error": "ValueError", "message": "bad input"})])


def test_the_shipped_langgraph_json_names_a_factory_that_attaches_no_checkpointer(monkeypatch):
    from chatcli.backends.own import served

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("CHATCLI_TOOLS", "files")
    assert json.loads((ROOT / "langgraph.json").read_text())["graphs"]["chat"] == "chatcli.backends.own.served:graph"

    async def build() -> Any:
        async with served.graph() as graph:
            return graph

    graph = asyncio.run(build())
    assert graph.checkpointer is None and {"model", "tools"} <= set(graph.nodes)
