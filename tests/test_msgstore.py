"""MessageStoreSaver: messages stored once, LangGraph time travel still works."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from pathlib import Path
from typing import Annotated

import aiosqlite
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from chatcli.store.messages import REF_KEY
from chatcli.store.sqlite import sqlite_saver


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    system: str


def build_app(saver, answers=("the answer is forty two",)):
    model = GenericFakeChatModel(messages=itertools.cycle([AIMessage(a) for a in answers]))

    async def call_model(state: State):
        return {"messages": [await model.ainvoke(state["messages"])]}

    g = StateGraph(State)
    g.add_node("model", call_model)
    g.add_edge(START, "model")
    g.add_edge("model", END)
    return g.compile(checkpointer=saver)


def cfg(thread="t1"):
    return {"configurable": {"thread_id": thread}}


async def turn(app, text, thread="t1"):
    async for _ in app.astream({"messages": [HumanMessage(text)]}, cfg(thread), stream_mode="messages"):
        pass


async def messages(app, thread="t1"):
    return (await app.aget_state(cfg(thread))).values.get("messages", [])


def texts(msgs):
    return [(m.type, m.content) for m in msgs]


def stored_bytes(db: Path) -> dict[str, int]:
    """Bytes of payload in the database, per table."""
    con = sqlite3.connect(db)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        out = {
            "checkpoints": con.execute(
                "SELECT COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) FROM checkpoints"
            ).fetchone()[0],
            "max_checkpoint": con.execute("SELECT COALESCE(MAX(LENGTH(checkpoint)), 0) FROM checkpoints").fetchone()[0],
            "writes": con.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes").fetchone()[0],
            "nodes": 0,
        }
        if "chatcli_messages" in tables:
            out["nodes"] = con.execute(
                "SELECT COALESCE(SUM(LENGTH(blob) + LENGTH(text)), 0) FROM chatcli_messages"
            ).fetchone()[0]
        out["total"] = out["checkpoints"] + out["writes"] + out["nodes"]
        return out
    finally:
        con.close()


def test_memory_survives_a_new_process(tmp_path):
    db = tmp_path / "chat.db"

    async def main():
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            for i in range(3):
                await turn(app, f"question {i}")
            in_process = await messages(app)
        async with sqlite_saver(db) as saver:  # empty cache, like a new process
            app = build_app(saver)
            fresh = await messages(app)
            assert fresh == in_process  # cached objects were not mutated after saving
            assert texts(fresh) == [
                x for i in range(3) for x in (("human", f"question {i}"), ("ai", "the answer is forty two"))
            ]
            await turn(app, "question 3")
            assert len(await messages(app)) == 8

    asyncio.run(main())
    con = sqlite3.connect(db)
    # each message stored once; checkpoints hold refs, not lists
    assert con.execute("SELECT COUNT(*) FROM chatcli_messages").fetchone()[0] == 8
    roles = [r[0] for r in con.execute("SELECT role FROM chatcli_messages ORDER BY node")]
    assert roles == ["human", "ai"] * 4
    assert (
        con.execute("SELECT text FROM chatcli_messages WHERE role='human' ORDER BY node LIMIT 1").fetchone()[0]
        == "question 0"
    )
    con.close()


async def _grow(saver, db, checkpoints_at, turns, app=None):
    app = app or build_app(saver)
    sizes = {}
    for i in range(1, turns + 1):
        await turn(app, f"q{i}")
        if i in checkpoints_at:
            sizes[i] = stored_bytes(db)
    return sizes


@pytest.mark.slow  # 400 turns on two stores: seconds by design
def test_storage_grows_linearly_and_bare_saver_would_not(tmp_path):
    async def main():
        db = tmp_path / "wrapped.db"
        async with sqlite_saver(db) as saver:
            wrapped = await _grow(saver, db, {50, 200}, 200)
        bare_db = tmp_path / "bare.db"
        async with aiosqlite.connect(bare_db) as conn:
            bare = await _grow(AsyncSqliteSaver(conn), bare_db, {50, 200}, 200)
        return wrapped, bare

    wrapped, bare = asyncio.run(main())
    print(f"\nwrapped bytes: 50 turns {wrapped[50]}, 200 turns {wrapped[200]}")
    print(f"bare    bytes: 50 turns {bare[50]}, 200 turns {bare[200]}")
    assert wrapped[200]["total"] / wrapped[50]["total"] <= 4 * 1.15
    assert wrapped[200]["max_checkpoint"] <= wrapped[50]["max_checkpoint"] + 64
    assert bare[200]["total"] / bare[50]["total"] > 8  # the old design is quadratic
    assert wrapped[200]["total"] * 10 < bare[200]["total"]


def test_undo_with_remove_message(tmp_path):
    db = tmp_path / "chat.db"

    async def main():
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            for i in range(3):
                await turn(app, f"q{i}")
            before = await messages(app)
            await app.aupdate_state(
                cfg(),
                {"messages": [RemoveMessage(id=m.id) for m in before[-2:]]},
                as_node="model",
            )
            after = await messages(app)
            assert after == before[:-2]
            nodes = sqlite3.connect(db).execute("SELECT COUNT(*) FROM chatcli_messages").fetchone()[0]
            assert nodes == 6  # undo inserted nothing
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            assert texts(await messages(app)) == texts(before[:-2])
            await turn(app, "q2 again")
            now = await messages(app)
            assert texts(now)[:-2] == texts(before[:-2])
            assert texts(now)[-2:] == [("human", "q2 again"), ("ai", "the answer is forty two")]

    asyncio.run(main())


def test_retry_from_history(tmp_path):
    db = tmp_path / "chat.db"

    async def main():
        async with sqlite_saver(db) as saver:
            app = build_app(saver, answers=("first", "second", "third", "fourth"))
            for i in range(3):
                await turn(app, f"q{i}")
            before = await messages(app)
            assert before[-1].content == "third"
            history = [s async for s in app.aget_state_history(cfg())]
            target = next(s for s in history if s.next == ("model",))  # newest such
            assert texts(target.values["messages"]) == texts(before[:-1])
            async for _ in app.astream(None, target.config):
                pass
            after = await messages(app)
            assert after[:-1] == before[:-1]
            assert after[-1].content == "fourth" and after[-1].id != before[-1].id
            # the old branch is still in history
            history2 = [s async for s in app.aget_state_history(cfg())]
            assert any(s.values.get("messages") and s.values["messages"][-1].id == before[-1].id for s in history2)
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            assert await messages(app) == after

    asyncio.run(main())


def test_fork_to_new_thread(tmp_path):
    db = tmp_path / "chat.db"

    async def main():
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            for i in range(4):
                await turn(app, f"q{i}")
            original = await messages(app)
            n = 2
            await app.aupdate_state(cfg("fork"), {"messages": original[: 2 * n]}, as_node="model")
            assert texts(await messages(app, "fork")) == texts(original[: 2 * n])
            await turn(app, "fork question", thread="fork")
            assert len(await messages(app, "fork")) == 2 * n + 2
            assert await messages(app) == original
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            assert texts(await messages(app)) == texts(original)
            forked = await messages(app, "fork")
            assert texts(forked)[: 2 * n] == texts(original[: 2 * n])
            assert forked[-2].content == "fork question"

    asyncio.run(main())


def test_delete_thread_keeps_other_threads(tmp_path):
    db = tmp_path / "chat.db"

    async def main():
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            for i in range(2):
                await turn(app, f"a{i}", thread="a")
                await turn(app, f"b{i}", thread="b")
            b_before = await messages(app, "b")
            await saver.adelete_thread("a")
            assert await messages(app, "a") == []
            assert await messages(app, "b") == b_before
            # a deleted thread id can be used again from scratch
            await turn(app, "a again", thread="a")
            assert texts(await messages(app, "a"))[0] == ("human", "a again")

    asyncio.run(main())
    con = sqlite3.connect(db)
    rows = dict(con.execute("SELECT thread_id, COUNT(*) FROM chatcli_messages GROUP BY thread_id"))
    assert rows == {"a": 2, "b": 4}
    cps = dict(con.execute("SELECT thread_id, COUNT(*) FROM checkpoints GROUP BY thread_id"))
    assert cps["a"] == 3 and cps["b"] == 6
    con.close()


def test_old_format_database_still_loads_and_continues(tmp_path):
    db = tmp_path / "old.db"

    async def main():
        async with aiosqlite.connect(db) as conn:  # written before the wrapper existed
            app = build_app(AsyncSqliteSaver(conn))
            for i in range(3):
                await turn(app, f"old {i}")
            old = await messages(app)
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            assert await messages(app) == old
            history = [s async for s in app.aget_state_history(cfg())]
            assert len(history) == 9
            await turn(app, "new")
            now = await messages(app)
            assert now[:6] == old and texts(now[6:]) == [("human", "new"), ("ai", "the answer is forty two")]
            head = await saver.inner.aget_tuple(cfg())  # raw, as stored
            assert REF_KEY in head.checkpoint["channel_values"]["messages"]
        async with sqlite_saver(db) as saver:
            assert await messages(build_app(saver)) == now

    asyncio.run(main())


def test_message_edited_in_place_is_saved(tmp_path):
    """Cached objects are shared with the app; an in-place edit must not be lost."""
    db = tmp_path / "chat.db"

    async def main():
        async with sqlite_saver(db) as saver:
            app = build_app(saver)
            for i in range(3):
                await turn(app, f"q{i}")
            msgs = await messages(app)
            msgs[2].content = "q1 edited"  # same object, same id
            await app.aupdate_state(cfg(), {"messages": [msgs[2]]}, as_node="model")
            assert (await messages(app))[2].content == "q1 edited"
        async with sqlite_saver(db) as saver:
            got = await messages(build_app(saver))
            assert [m.content for m in got[::2]] == ["q0", "q1 edited", "q2"]

    asyncio.run(main())
    con = sqlite3.connect(db)
    # the unchanged first two messages were reused, the rest re-stored once
    assert con.execute("SELECT COUNT(*) FROM chatcli_messages").fetchone()[0] == 6 + 4
    con.close()


def test_two_savers_on_one_thread_interleave(tmp_path):
    """Two 'processes' taking turns on one thread: each sees the other's turns."""
    db = tmp_path / "chat.db"

    async def main():
        async with sqlite_saver(db) as s1, sqlite_saver(db) as s2:
            a1, a2 = build_app(s1), build_app(s2)
            for i in range(3):
                await turn(a1, f"one {i}")
                await turn(a2, f"two {i}")
            m1, m2 = await messages(a1), await messages(a2)
            assert m1 == m2 and len(m1) == 12
            assert [m.content for m in m1[::2]] == [f"{w} {i}" for i in range(3) for w in ("one", "two")]

    asyncio.run(main())


def test_sync_api_refuses_on_the_loop(tmp_path):
    async def main():
        async with sqlite_saver(tmp_path / "c.db") as saver:
            with pytest.raises(NotImplementedError):
                saver.get_tuple(cfg())
            # from another thread it bridges to the loop
            got = await asyncio.to_thread(saver.get_tuple, cfg())
            assert got is None

    asyncio.run(main())
