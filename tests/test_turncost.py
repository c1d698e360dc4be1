"""A turn's work does not grow with the thread, and the shortcuts that make it so change nothing.

Pinned by counting, not timing: how many stored messages the saver and the reducer read per
turn, and how many token counts the history selection makes, at turn 15 and at turn 40 of a
thread whose context budget is full. The shortcuts are checked against what they replace:
LangGraph's ``add_messages`` and langchain's ``trim_messages``.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from langgraph.checkpoint.base import copy_checkpoint
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.graph.message import add_messages as langgraph_add_messages

import chatcli.backends.own.compaction as compaction
import chatcli.backends.own.graph as graph
import chatcli.backends.own.request_history as request_history
from chatcli.store.messages import cache, chains, reducer
from chatcli.store.messages.reducer import add_messages
from chatcli.store.sqlite import sqlite_saver
from tests.test_graph import Harness, fake_model


class Counting:
    """Wraps a function and counts its calls."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.func(*args, **kwargs)


# ------------------------------------------------------------------ per-turn work stays flat


async def test_per_turn_work_is_the_same_at_turn_40_as_at_turn_15(tmp_path, monkeypatch):
    """The budget is full from about turn 9: the request is the same size, only the thread grows."""
    counters = {
        "store: id reads": Counting(cache._get_id),
        "store: content reads": Counting(cache._get_content),
        "reducer: id reads": Counting(reducer._get_id),
        "reducer: LangGraph merges": Counting(reducer.langgraph_add_messages),
        "history: token counts": Counting(graph.count_tokens_approximately),
    }
    monkeypatch.setattr(cache, "_get_id", counters["store: id reads"])
    monkeypatch.setattr(cache, "_get_content", counters["store: content reads"])
    monkeypatch.setattr(reducer, "_get_id", counters["reducer: id reads"])
    monkeypatch.setattr(reducer, "langgraph_add_messages", counters["reducer: LangGraph merges"])
    for counting in (graph, compaction, request_history):
        monkeypatch.setattr(counting, "count_tokens_approximately", counters["history: token counts"])
    typed_items: list[int] = []  # lengths of the lists whose item types the store checked
    is_message_list = chains._is_message_list

    def checking_types(value: Any) -> bool:
        typed_items.append(len(value))
        return is_message_list(value)

    monkeypatch.setattr(chains, "_is_message_list", checking_types)

    model = fake_model("a short answer of a fixed length")
    per_turn: dict[int, dict[str, int]] = {}

    async def go():
        async with Harness(tmp_path / "c.db", model, context_tokens=200) as conv:
            for i in range(1, 41):
                for c in counters.values():
                    c.calls = 0
                typed_items.clear()
                await conv.send(f"question {i:04d}")
                if i in (15, 40):
                    per_turn[i] = {name: c.calls for name, c in counters.items()}
                    per_turn[i]["store: messages type-checked"] = sum(typed_items)
            return len(await conv.messages()), len(model.calls[-1])

    stored, sent = await go()
    assert stored == 80 and 8 < sent < 20, "the budget is full: the request stopped growing"
    assert per_turn[40] == per_turn[15], per_turn
    assert per_turn[40]["reducer: LangGraph merges"] == 0, "a turn only appends"
    assert 0 < per_turn[40]["store: content reads"] <= 6, per_turn[40]
    assert per_turn[40]["reducer: id reads"] <= 6, per_turn[40]
    assert per_turn[40]["store: messages type-checked"] <= 6, per_turn[40]


# ------------------------------------------------------------------ the reducer: same as LangGraph's


def _msg(rng: random.Random, ids: list[str]) -> Any:
    """A random update item: a new or reused id, a removal, a chunk, a dict, or no id at all."""
    kind = rng.choice(["new", "new", "new", "none", "reuse", "remove", "chunk", "dict"])
    text = f"text {rng.randrange(1000)}"
    if kind == "new":
        return rng.choice([HumanMessage, AIMessage])(text, id=f"m{rng.randrange(10**9)}")
    if kind == "none":
        return HumanMessage(text)
    if kind == "reuse" and ids:
        return AIMessage(text, id=rng.choice(ids))
    if kind == "remove" and ids:
        return RemoveMessage(id=rng.choice(ids))
    if kind == "chunk":
        return AIMessageChunk(content=text, id=f"c{rng.randrange(10**9)}")
    return {"role": "user", "content": text, "id": f"d{rng.randrange(10**9)}"}


def _copy(item: Any) -> Any:
    return item.model_copy() if isinstance(item, BaseMessage) else dict(item)


def _same(a: list[BaseMessage], b: list[BaseMessage]) -> bool:
    return [(type(m), m.id, m.content) for m in a] == [(type(m), m.id, m.content) for m in b]


@pytest.mark.parametrize("seed", range(40))
def test_reducer_gives_what_langgraph_add_messages_gives(seed, monkeypatch):
    rng = random.Random(seed)
    counter = [0]

    def uuid4() -> uuid.UUID:  # the same ids on both sides, in the order they are given out
        counter[0] += 1
        return uuid.UUID(int=counter[0])

    monkeypatch.setattr(uuid, "uuid4", uuid4)
    state: list[BaseMessage] = [HumanMessage("first", id="m0")]
    expected_state = list(state)
    fast = 0
    for _ in range(30):
        ids = [m.id for m in state]
        right: Any = [_msg(rng, ids) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        if rng.random() < 0.03:
            right = [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage("restart", id=f"r{seed}")]
        theirs = [_copy(m) for m in right]
        if rng.random() < 0.2:
            right, theirs = right[0], theirs[0]  # a single message, not a list
        start = counter[0]
        try:
            expected = langgraph_add_messages(expected_state, theirs)
        except ValueError:  # removing an id that is not there
            counter[0] = start
            with pytest.raises(ValueError):
                add_messages(state, right)
            continue
        counter[0] = start
        got = add_messages(state, right)
        assert got is not state
        assert _same(got, expected), (got, expected)
        fast += reducer.carried_over(got) > 0
        state, expected_state = got, expected
    assert fast, "the append-only path was taken"


def test_reducer_index_is_not_fooled_by_a_list_changed_in_place():
    a, b = HumanMessage("a", id="a"), AIMessage("b", id="b")
    first = add_messages([a], [b])  # indexed: ids {"a", "b"}
    first[1] = AIMessage("x", id="x")  # replaced in place, behind LangGraph's back
    got = add_messages(first, [AIMessage("x again", id="x")])
    assert [(m.id, m.content) for m in got] == [("a", "a"), ("x", "x again")]
    assert reducer.carried_over(got) == 0, "a replacement is not an append"


def test_reducer_records_appends_only():
    a = HumanMessage("a", id="a1")
    merged = add_messages([a], [AIMessage("b", id="b1")])
    assert reducer.carried_over(merged) == 1
    replaced = add_messages(merged, [AIMessage("b2", id="b1")])
    assert reducer.carried_over(replaced) == 0
    assert reducer.carried_over(list(merged)) == 0, "only the very list the reducer returned"


# ------------------------------------------------------------------ history selection: same as trim_messages


def reference_select(system: SystemMessage, messages: list[BaseMessage], max_tokens: int) -> list[BaseMessage]:
    """The selection as langchain's trim_messages makes it (what select_history replaced)."""
    kept = trim_messages(
        [system, *messages],
        max_tokens=max_tokens,
        token_counter=count_tokens_approximately,
        strategy="last",
        start_on="human",
        include_system=True,
        allow_partial=False,
    )
    if len(kept) <= 1 and messages:
        # nothing fits: the latest exchange goes whole (the last question and the calls after it)
        asked = [i for i, m in enumerate(messages) if m.type == "human"]
        return [system, *messages[asked[-1] if asked else -1 :]]
    return kept


def _random_message(rng: random.Random) -> BaseMessage:
    text = " ".join("w" * rng.randrange(1, 12) for _ in range(rng.randrange(0, 60)))
    kind = rng.choice(["human", "human", "ai", "ai", "ai_tool", "tool", "system", "blocks"])
    if kind == "human":
        return HumanMessage(text, name=rng.choice([None, "ann"]))
    if kind == "ai":
        return AIMessage(text)
    if kind == "ai_tool":
        return AIMessage(text, tool_calls=[{"name": "f", "args": {"q": text[:20]}, "id": "call1"}])
    if kind == "tool":
        return ToolMessage(text, tool_call_id="call1")
    if kind == "system":
        return SystemMessage(text)
    return HumanMessage([{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": "data:,"}}])


@pytest.mark.parametrize("seed", range(60))
def test_select_history_matches_trim_messages(seed):
    rng = random.Random(seed)
    messages = [_random_message(rng) for _ in range(rng.randrange(0, 40))]
    system = SystemMessage("system " * rng.randrange(0, 30))
    for budget in (0, 5, 20, 60, 150, 400, 1000, 5000):
        got = request_history.select_history(system, messages, budget)
        want = reference_select(system, messages, budget)
        assert [id(m) for m in got] == [id(m) for m in want], (seed, budget)


# ------------------------------------------------------------------ the saver still sees what changed


def _config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}


def test_a_handed_out_list_changed_in_place_is_stored_as_changed(tmp_path):
    """Messages are trusted only while they are the very objects the saver handed out."""

    async def main():
        async with Harness(tmp_path / "c.db", fake_model("an answer")) as conv:
            for i in range(3):
                await conv.send(f"q{i}")
            saver = conv.app.checkpointer
            head = await saver.aget_tuple(_config("t1"))
            handed = head.checkpoint["channel_values"]["messages"]
            handed[1] = AIMessage("replaced in place", id="new-1")
            checkpoint = copy_checkpoint(head.checkpoint)
            checkpoint["id"] = str(uuid.uuid1())
            checkpoint["channel_values"]["messages"] = handed
            config = await saver.aput(head.config, checkpoint, head.metadata, {})
        async with sqlite_saver(tmp_path / "c.db") as fresh:  # a new process: from the database
            stored = (await fresh.aget_tuple(config)).checkpoint["channel_values"]["messages"]
        return [m.content for m in handed], [m.content for m in stored]

    handed, stored = asyncio.run(main())
    assert stored == handed and stored[1] == "replaced in place"


def test_an_edit_sent_back_through_the_chat_graph_is_saved(tmp_path):
    """The product's reducer: an in-place edit handed back as an update (same id) is stored."""

    async def main():
        async with Harness(tmp_path / "c.db", fake_model("an answer")) as conv:
            for i in range(3):
                await conv.send(f"q{i}")
            msgs = await conv.messages()
            msgs[2].content = "q1 edited"  # same object, same id
            await conv.app.aupdate_state(conv.config, {"messages": [msgs[2]]}, as_node=graph.MODEL_NODE)
            await conv.send("q3")
        async with Harness(tmp_path / "c.db", fake_model("x")) as conv:
            return [m.content for m in await conv.messages()]

    got = asyncio.run(main())
    assert got[::2] == ["q0", "q1 edited", "q2", "q3"]
    assert len(got) == 8


# ------------------------------------------------------------------ a turn reads its thread once


async def test_a_turn_reads_its_thread_once_and_sees_another_process_turn_before_it(settings, server, monkeypatch):
    """A turn reads its thread's checkpoint once, as it starts: what it ends at (the index's count, what it waits on)
    comes from its run; LangGraph's own reads store the question and start the run from it. Nothing is kept from one
    turn to the next: another process's turn in between is in what the next one sends."""
    from chatcli.service.chat import Chat

    async with Chat(settings) as here, Chat(settings) as elsewhere:
        thread = await here.thread("shared")
        await thread.send("first")
        reads = {"aget_state": 0, "aget_tuple": 0}
        for reader, name in ((thread.app, "aget_state"), (thread.app.checkpointer, "aget_tuple")):

            async def counted(*args: Any, _read: Any = getattr(reader, name), _name: str = name) -> Any:
                reads[_name] += 1
                return await _read(*args)

            monkeypatch.setattr(reader, name, counted)
        await thread.send("second")
        assert reads == {"aget_state": 1, "aget_tuple": 3}, reads
        await (await elsewhere.thread("shared")).send("from another process")
        await thread.send("third")
        assert (await here.store.index.get("shared")).message_count == 8  # as the turn ended
    asked = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"]
    assert asked == ["first", "second", "from another process", "third"]
