"""``chat --remote`` without a server: what the command line takes, how a run's events are told, how interrupts
are answered, and chat's graph as the project's langgraph.json serves it (tests/test_remote.py runs a server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chatcli.chat.events import Decision, Reply, Token, ToolCall, ToolResult, TurnResult
from chatcli.chat.remote import Remote, RemoteSpec, remote_spec, thread_info
from chatcli.chat.remote_answers import answer_interrupts
from chatcli.chat.remote_run import RemoteRun, Streamed
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


class Asked:
    """A listener that answers from a script and keeps what it heard."""

    def __init__(self, *answers: Any):
        self.answers, self.heard, self.asked = list(answers), [], []

    def hear(self, event: Any) -> None:
        self.heard.append(event)

    async def approve(self, call: ToolCall, review: Any = None) -> Decision:
        self.asked.append((call.name, call.arguments, review.allowed if review else None))
        return self.answers.pop(0)

    async def answer(self, question: Any) -> Reply | None:
        self.asked.append(question.value)
        return self.answers.pop(0)


REVIEW = {
    "action_requests": [{"name": "shell", "args": {"command": "ls"}}, {"name": "shell", "args": {"command": "rm x"}}],
    "review_configs": [{"action_name": "shell", "allowed_decisions": ["approve", "edit", "reject"]}],
}


def test_a_review_is_asked_call_by_call_and_answered_with_its_decisions():
    asked = Asked(Decision("yes", args={"command": "ls -l"}), Decision("no", reason="not that"))
    answer = asyncio.run(answer_interrupts([{"id": "i1", "value": REVIEW}], asked))
    assert answer == {"decisions": [
        {"type": "edit", "edited_action": {"name": "shell", "args": {"command": "ls -l"}}},
        {"type": "reject", "message": "not that"}]}  # fmt: skip
    assert asked.asked[0] == ("shell", {"command": "ls"}, ("approve", "edit", "reject"))


def test_always_holds_for_the_session_and_later_leaves_the_thread_waiting():
    always: set[str] = set()
    asked = Asked(Decision("yes", always=True))
    first = asyncio.run(answer_interrupts([{"id": "i1", "value": REVIEW}], asked, always))
    assert first == {"decisions": [{"type": "approve"}, {"type": "approve"}]} and len(asked.asked) == 1
    assert asyncio.run(answer_interrupts([{"id": "i2", "value": {"q": 1}}], Asked(None))) is None


def test_several_interrupts_are_resumed_by_id():
    asked = Asked(Reply("blue"), Reply({"n": 2}))
    values = [{"id": "a", "value": "colour?"}, {"id": "b", "value": {"how many": "?"}}]
    assert asyncio.run(answer_interrupts(values, asked)) == {"a": "blue", "b": {"n": 2}}


class FakeRuns:
    def __init__(self, parts: list[tuple[str, Any]]):
        self.parts = parts

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        async def parts() -> Any:
            for event, data in self.parts:
                yield type("Part", (), {"event": event, "data": data, "id": None})()

        return parts()


def run_events(parts: list[tuple[str, Any]]) -> tuple[list[Any], list[Any], Streamed]:
    remote = Remote(RemoteSpec("http://h"), type("Client", (), {"runs": FakeRuns(parts)})(), "a", "agent")
    heard: list[Any] = []
    listener = type("L", (), {"hear": lambda self, e: heard.append(e)})()
    streamed = Streamed(TurnResult(""))
    interrupts = asyncio.run(RemoteRun(remote, "t", listener, streamed).stream(input={}))
    return heard, interrupts, streamed


def chunk(text: str, message_id: str, **extra: Any) -> tuple[str, Any]:
    return "messages", [{"type": "AIMessageChunk", "content": text, "id": message_id, **extra}, {"langgraph_node": "n"}]


def test_a_runs_tokens_calls_and_results_reach_the_listener_and_its_interrupts_are_returned():
    call = {"name": "search", "args": {"q": "x"}, "id": "c1"}
    heard, interrupts, streamed = run_events([
        ("metadata", {"run_id": "r1"}), chunk("Looking", "m1"), chunk(" it up", "m1"),
        ("messages", [{"type": "human", "content": "not shown"}, {}]),
        ("updates", {"agent": {"messages": [{"type": "ai", "content": "Looking it up", "tool_calls": [call]}]}}),
        ("updates", {"tools": {"messages": [{"type": "tool", "tool_call_id": "c1", "content": "found", "name": "search"}]}}),
        chunk("Done", "m2", usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}),
        ("updates", {"__interrupt__": [{"id": "i1", "value": "ok?"}]}),
    ])  # fmt: skip
    tokens = "".join(e.text for e in heard if isinstance(e, Token))
    assert tokens == "Looking it up\n\nDone" and interrupts == [{"id": "i1", "value": "ok?"}]
    results = [e for e in heard if isinstance(e, ToolResult)]
    assert [(r.call.name, r.call.arguments, r.status, r.content) for r in results] == [
        ("search", {"q": "x"}, "ok", "found")
    ]
    assert streamed.result.usage == {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}


def test_a_run_that_fails_on_the_server_is_one_model_error():
    with pytest.raises(ModelError, match="the graph failed on the server: ValueError: bad input"):
        run_events([("error", {"error": "ValueError", "message": "bad input"})])


def test_the_shipped_langgraph_json_names_a_factory_that_attaches_no_checkpointer(monkeypatch):
    from chatcli.chat import served

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("CHATCLI_TOOLS", "files")
    assert json.loads((ROOT / "langgraph.json").read_text())["graphs"]["chat"] == "chatcli.chat.served:graph"

    async def build() -> Any:
        async with served.graph() as graph:
            return graph

    graph = asyncio.run(build())
    assert graph.checkpointer is None and {"model", "tools"} <= set(graph.nodes)
