"""The store's contract, run on both stores: what chat asks of a conversation database (chatcli.store.base), and
what a user notices of each answer.

Every ``ThreadIndex`` method, the ``Store``'s own (the turn lock, deleting a thread, giving space back, memories),
the cheap reads a thread id is checked with (``chatcli.store.light.ReadIndex``) and the checkpointer as chat's
turns write and read it. The conversation tests run on SQLite only: what they reach of the store is here, so a
PostgreSQL that keeps this contract keeps them too. What only PostgreSQL has (its schema set-up, a dropped
connection, search ranked as SQLite ranks it) is tests/test_postgres.py; processes on one thread, on either store,
tests/test_concurrency.py.

Each scenario is a function run on a database of its own; one test per kind runs them all on one store (one
PostgreSQL server's cells, not one per scenario), and a failure names the scenario that failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from chatcli.store import Store, open_store
from chatcli.store.base import QUESTION, Asked, Place
from chatcli.store.light import ReadIndex
from tests.fakeserver import Reply, tool_calls
from tests.helpers import Tokens, a_thread

pytestmark = pytest.mark.stores("sqlite", "postgres")

DAY = 24 * 3600.0


@asynccontextmanager
async def opened(db: str) -> AsyncIterator[Store]:
    async with open_store(db) as store:
        yield store


async def said(settings: Any, thread_id: str, *questions: str) -> None:
    """Ask ``questions`` on ``thread_id`` as every door does (the fake server answers "You said: ...")."""
    async with a_thread(settings, thread_id, Tokens()) as thread:
        for question in questions:
            await thread.send(question)


# --------------------------------------------------------------------------- the thread index


async def threads_are_listed_newest_first_titled_by_their_first_question(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:
        index = store.index
        await index.touch("older", "what is   a\nmonad?", 2, "gpt-a")
        await index.touch("newer", "x" * 100, 2, "gpt-a")
        assert [t.thread_id for t in await index.list()] == ["newer", "older"]
        await index.touch("older", "and a functor?", 4, "gpt-b")  # a second turn: on top, its title kept
        listed = await index.list()
        assert [t.thread_id for t in listed] == ["older", "newer"]
        assert [t.thread_id for t in await index.list(limit=1)] == ["older"]
        older = await index.get("older")
        assert older is not None
        assert (older.title, older.message_count, older.model) == ("what is a monad?", 4, "gpt-b")
        assert older.created_at < older.updated_at
        newer = await index.get("newer")
        assert newer is not None and newer.title == "x" * 60 + "…"
        assert await index.get("never") is None
        await index.touch("0ad131a5", "a generated id", 2, "my-graph")
        await index.touch("0ad131a6", "its neighbour", 2, None)
        await index.touch("0ad2", "a name", 2, None)
        found = (
            await index.latest("gpt-b"),
            await index.latest("my-graph"),
            await index.latest(),
            await index.latest("x"),
        )
        assert [t.thread_id if t else None for t in found] == ["older", "0ad131a5", "0ad2", None]
        starting = [sorted(t.thread_id for t in await index.matching(start, 5)) for start in ("0ad", "0ad13", "0AD")]
        assert starting == [["0ad131a5", "0ad131a6", "0ad2"], ["0ad131a5", "0ad131a6"], []]
        assert len(await index.matching("0ad", 2)) == 2
        listed, every = await index.list(), [index.get("older"), index.latest(), index.matching("0ad1", 5)]
        answers = await asyncio.gather(*every)
    # The cheap reads a thread id is checked with, before anything opens (Chat.find): the same rows.
    reading = ReadIndex(db)
    assert await reading.list() == listed
    assert await asyncio.gather(reading.get("older"), reading.latest(), reading.matching("0ad1", 5)) == answers


async def a_title_given_is_kept_and_an_unknown_thread_is_not_renamed(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:
        index = store.index
        await index.touch("t", "the first question", 2, None)
        assert await index.set_title("t", "Plans   for\nthe trip") is True
        await index.touch("t", "another question", 4, None)
        info = await index.get("t")
        assert info is not None and info.title == "Plans for the trip"
        assert await index.set_title("nowhere", "a title") is False
        assert await index.get("nowhere") is None
        # A question with a NUL and control characters titles its thread (PostgreSQL's text cannot hold a NUL).
        await index.touch("ctl", "tab\there\x00 and\x07bell", 2, None)
        titled = await index.get("ctl")
        assert titled is not None and titled.title is not None and titled.title.startswith("tab here")


async def a_count_set_moves_its_thread_to_the_top(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:
        index = store.index
        await index.touch("a", "first", 4, None)
        await index.touch("b", "second", 2, None)
        await index.set_count("a", 2)  # an /undo took an exchange back
        first, second = await index.list()
        assert (first.thread_id, first.message_count) == ("a", 2)
        assert second.thread_id == "b"


async def where_a_thread_was_made_is_kept(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:
        index = store.index
        await index.touch("here", "a question", 2, None)
        assert (await index.places())["here"] == Place(os.getcwd())
        await index.touch("door", "a question", 2, None, str(tmp_path / "door"))  # a door's, not the process's
        assert (await index.places())["door"] == Place(str(tmp_path / "door"))
        await index.touch("editor", "a question", 2, None)
        await index.place("editor", str(tmp_path), [str(tmp_path / "lib"), str(tmp_path / "docs")])
        await index.touch("editor", "again", 4, None)  # a later turn elsewhere keeps where it was made
        assert (await index.places())["editor"] == Place(str(tmp_path), (str(tmp_path / "lib"), str(tmp_path / "docs")))
        assert "never" not in await index.places()


async def what_answers_a_thread_is_kept_and_replaced(db: str, tmp_path: Path) -> None:
    graph = json.dumps({"kind": "graph", "spec": "app.py:graph"})
    remote = json.dumps({"kind": "remote", "url": "http://127.0.0.1:2024", "assistant": "agent"})
    async with opened(db) as store:
        index = store.index
        assert await index.binding("t") is None
        await index.bind("t", graph)
        assert await index.binding("t") == graph
        await index.bind("t", remote)
        assert await index.binding("t") == remote
        assert await index.binding("other") is None
    assert await ReadIndex(db).binding("t") == remote  # the cheap read, before anything opens
    assert await ReadIndex(db).binding("other") is None


async def a_thread_that_waits_is_in_the_inbox_until_it_waits_on_nothing(db: str, tmp_path: Path) -> None:
    approval = Asked("approval", "call_1", "shell: rm -rf build")
    question = Asked("question", "q1", "Which branch?")
    async with opened(db) as store:
        index = store.index
        await index.touch("first", "deploy it", 2, None)
        await index.touch("second", "ask me", 2, None)
        await index.bind("second", json.dumps({"kind": "remote", "url": "http://bob:pw@127.0.0.1:2024"}))
        assert await index.waiting() == []
        await index.waits("first", [approval])
        await index.waits("second", [question])
        await index.waits("first", [approval, question])  # asked more: still the longest waiting
        first, second = await index.waiting()
        assert (first.thread_id, first.title, first.asked, first.server) == (
            "first",
            "deploy it",
            (approval, question),
            None,
        )
        assert (second.thread_id, second.asked) == ("second", (question,))
        assert second.server is not None and "pw" not in second.server and "127.0.0.1:2024" in second.server
        assert first.since <= second.since
        await index.waits("first", [])
        assert [w.thread_id for w in await index.waiting()] == ["second"]


async def labels_name_nodes_and_a_name_moves_to_the_node_given_last(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:
        index = store.index
        assert await index.labels("t") == {}
        await index.label("t", 3, "good")
        await index.label("t", 3, "reviewed")
        await index.label("t", 5, "draft")
        found = await index.labels("t")
        assert sorted(found[3]) == ["good", "reviewed"] and found[5] == ["draft"]
        await index.label("t", 5, "good")
        found = await index.labels("t")
        assert found[3] == ["reviewed"] and sorted(found[5]) == ["draft", "good"]
        assert await index.labels("other") == {}


# --------------------------------------------------------------------------- the spending ledger


async def spending_is_held_then_settled_and_summed_by_thread_day_and_question(db: str, tmp_path: Path) -> None:
    now = time.time()
    today = now - 3600
    async with opened(db) as store:
        index = store.index
        assert await index.spent("t", today) == (0.0, 0.0, 0.0)
        held = await index.hold("t", 0.50, (1.00, 5.00, None), today)
        assert held.row is not None and held.spent == (0.0, 0.0, 0.0)
        assert await index.spent("t", today) == pytest.approx((0.50, 0.50, 0.50))  # held counts until settled
        await index.settle(held.row, 0.20)
        assert await index.spent("t", today) == pytest.approx((0.20, 0.20, 0.20))
        # The thread's limit: $0.90 more would pass $1.00; nothing is held.
        refused = await index.hold("t", 0.90, (1.00, None, None), today)
        assert refused.row is None and refused.spent == pytest.approx((0.20, 0.20, 0.20))
        assert await index.spent("t", today) == pytest.approx((0.20, 0.20, 0.20))
        # Up to the limit exactly (a hundred cents are a dollar).
        for _ in range(80):
            cent = await index.hold("t", 0.01, (1.00, None, None), today)
            assert cent.row is not None
            await index.settle(cent.row, 0.01)
        assert (await index.hold("t", 0.01, (1.00, None, None), today)).row is None
        # The day's limit counts every thread; a thread's own does not count the others'.
        other = await index.hold("other", 0.30, (1.00, 1.20, None), today)
        assert other.row is None and other.spent == pytest.approx((0.0, 1.00, 0.0))
        assert (await index.hold("other", 0.10, (1.00, 1.20, None), today)).row is not None
        assert (await index.spent("t", now + DAY)).day == 0.0  # a day starting later: nothing spent in it yet
        # A question's start: what the thread spends from there is the question's.
        start = await index.hold(QUESTION + "t", 0.0, (), time.time())
        assert start.row is not None
        assert (await index.spent("t", today)).question == 0.0
        asked = await index.hold("t", 0.05, (None, None, 0.04), today)
        assert asked.row is None
        asked = await index.hold("t", 0.03, (None, None, 0.04), today)
        assert asked.row is not None
        assert (await index.spent("t", today)).question == pytest.approx(0.03)


async def two_calls_held_at_once_do_not_both_pass_a_limit(db: str, tmp_path: Path) -> None:
    today = time.time() - 3600
    async with opened(db) as one, opened(db) as two:  # two connections: two processes' stores
        held = await asyncio.gather(
            *(store.index.hold("t", 0.60, (1.00, None, None), today) for store in (one, two, one, two))
        )
        assert sum(h.row is not None for h in held) == 1
        assert (await two.index.spent("t", today)).thread == pytest.approx(0.60)


# --------------------------------------------------------------------------- messages, as chat's turns keep them


async def a_thread_is_placed_in_its_doors_directory_not_the_processs(
    settings: Any, server: Any, tmp_path: Path
) -> None:
    """A door's directory (its Environment's, in its settings) is where its thread was made."""

    project = tmp_path / "project"
    project.mkdir()
    await said(replace(settings, workdir=str(project)), "placed", "hi")
    async with opened(settings.db) as store:
        assert (await store.index.places())["placed"] == Place(str(project)) != Place(os.getcwd())


async def a_conversation_is_kept_and_read_back_in_a_new_opening(settings: Any, server: Any, tmp_path: Path) -> None:
    await said(settings, "zed", "my name is Zed", "what is my name?")
    async with opened(settings.db) as store:
        head = await store.index.head("zed")
        assert head is not None
        assert [(m["type"], m["content"]) for m in head["messages"]] == [
            ("human", "my name is Zed"),
            ("ai", "You said: my name is Zed"),
            ("human", "what is my name?"),
            ("ai", "You said: what is my name? (earlier: my name is Zed)"),
        ]
        assert await store.index.head("never") is None
        info = await store.index.get("zed")
        assert info is not None and (info.title, info.message_count, info.model) == ("my name is Zed", 4, "gpt-fake")
        assert len(await store.index.live_nodes("zed")) == 4 and await store.index.live_nodes("never") == set()
        assert store.saver is not None  # LangGraph reads the same thread through the checkpointer
        kept = await store.saver.aget_tuple({"configurable": {"thread_id": "zed", "checkpoint_ns": ""}})
        assert kept is not None and [m.content for m in kept.checkpoint["channel_values"]["messages"]][-1] == (
            "You said: what is my name? (earlier: my name is Zed)"
        )
        history = [c async for c in store.saver.alist({"configurable": {"thread_id": "zed"}})]
        assert history[0].checkpoint["id"] == kept.checkpoint["id"]  # newest first
        assert len({c.checkpoint["id"] for c in history}) == len(history) > 2
    async with a_thread(settings, "zed") as thread:  # the next process goes on from there
        await thread.send("and again?")
    assert server.requests[-1]["messages"][-3]["content"] == "what is my name?"


async def undo_and_retry_leave_branches_the_tree_reads_and_a_label_names(
    settings: Any, server: Any, tmp_path: Path
) -> None:
    server.queue(Reply("Paris."), Reply("Lyon."), Reply("Rome."))
    await said(settings, "trip", "where to?")
    async with a_thread(settings, "trip", Tokens()) as thread:
        await thread.send("and next?")
        await thread.undo()
        await thread.send("somewhere else?")
        assert [m.content for m in await thread.messages()] == ["where to?", "Paris.", "somewhere else?", "Rome."]
        node = await thread.label("rome")
        assert [n.question for n in (await thread.tree()).nodes.values()] == [
            "where to?",
            "and next?",
            "somewhere else?",
        ]
    async with opened(settings.db) as store:
        index = store.index
        rows = await index.tree_rows("trip")
        assert rows is not None
        stored, points = rows
        assert [s.text for s in sorted(stored)] == [
            "where to?",
            "Paris.",
            "and next?",
            "Lyon.",
            "somewhere else?",
            "Rome.",
        ]
        assert points and all(p.checkpoint_id for p in points) and await index.tree_rows("never") is None
        live = await index.live_nodes("trip")
        assert live is not None and {s.text for s in stored if s.key in live} == {
            "where to?",
            "Paris.",
            "somewhere else?",
            "Rome.",
        }
        lyon = next(s.key for s in stored if s.text == "Lyon.")
        assert [m["content"] for m in await index.branch("trip", lyon)] == [
            "where to?",
            "Paris.",
            "and next?",
            "Lyon.",
        ]
        assert await index.labels("trip") == {node.number: ["rome"]}
        assert (await index.get("trip")).message_count == 4  # type: ignore[union-attr]


async def search_finds_words_in_messages_with_their_turn(settings: Any, server: Any, tmp_path: Path) -> None:
    await said(settings, "pets", "my cat is called Whiskers", "the dog barks at the postman")
    await said(settings, "work", "the quarterly report is due")
    async with opened(settings.db) as store:
        index = store.index
        hits = await index.counted(await index.search("postman"))
        assert [(h.thread_id, h.title, h.turn, h.role) for h in hits] == [
            ("pets", "my cat is called Whiskers", 2, "human"),
            ("pets", "my cat is called Whiskers", 2, "ai"),
        ]
        hit = hits[0]
        assert [hit.snippet[a:b] for a, b in hit.marks] == ["postman"] and hit.created_at is not None
        assert {h.thread_id for h in await index.search("quart*")} == {"work"}  # a prefix
        assert {(h.thread_id, h.role) for h in await index.search("cat whiskers")} == {
            ("pets", "human"),
            ("pets", "ai"),
        }
        assert await index.search("cat report") == []  # every word is required
        assert await index.search("giraffe") == []
        assert len(await index.search("the", limit=2)) == 2


async def a_question_left_waiting_for_approval_is_answered_in_a_new_opening(
    settings: Any, server: Any, tmp_path: Path
) -> None:
    from langchain_core.messages import HumanMessage

    from chatcli.core.events import Decision

    settings = replace(settings, tools=("shell",))
    server.queue(tool_calls(("shell", {"command": "echo approved"})), Reply("it ran"))
    async with a_thread(settings, "ask") as thread:  # stopped at the question (chat was killed there)
        async for _ in thread.app.astream({"messages": [HumanMessage("run it")]}, thread.config):
            pass
        assert [c.name for p in await thread.waiting() for c in p.calls] == ["shell"]

    async def yes(call: Any) -> Decision:
        return Decision("yes")

    async with a_thread(settings, "ask", Tokens(approve=yes)) as thread:
        assert [c.arguments for p in await thread.waiting() for c in p.calls] == [{"command": "echo approved"}]
        result = await thread.resume()
        assert result.text == "it ran" and [c for p in await thread.waiting() for c in p.calls] == []
    tool = [m for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool) == 1 and "approved" in str(tool[0]["content"])


# --------------------------------------------------------------------------- deleting a thread


async def two_threads_turns_and_memory_writes_at_once_lose_nothing(settings: Any, server: Any, tmp_path: Path) -> None:
    from chatcli.service.answerer import Answerer
    from chatcli.service.chat import Chat

    async with Chat(settings, Answerer(), Tokens()) as chat:  # one store (on SQLite: one connection) for all
        one, two = await chat.thread("one"), await chat.thread("two")
        book, kept = one.memories(), [f"I take train {n}" for n in range(8)]
        await asyncio.gather(one.send("first?"), two.send("second?"), *(book.add(text) for text in kept))
        assert [m.content for m in await two.messages()] == ["second?", "You said: second?"]
    async with opened(settings.db) as store:
        assert [(await store.index.get(t)).message_count for t in ("one", "two")] == [2, 2]  # type: ignore[union-attr]
        assert sorted(m.text for m in await store.memories().all()) == kept


async def a_deleted_thread_is_gone_everywhere_and_the_others_stay(settings: Any, how: str) -> None:
    """``how``: "full" (a turn's own store) or "light" (chat rm's)."""
    from chatcli.store.light import open_light_store

    await said(settings, "gone", "a secret plan " + "word " * 4000, "more of the plan")
    await said(settings, "kept", "a plan to keep")
    today = time.time() - 3600
    async with opened(settings.db) as store:
        index = store.index
        await index.bind("gone", json.dumps({"kind": "graph", "spec": "app.py:graph"}))
        await index.waits("gone", [Asked("approval", "c", "shell: ls")])
        await index.label("gone", 1, "start")
        held = await index.hold("gone", 0.25, (), today)
        assert held.row is not None
        await index.settle(held.row, 0.25)
    size = os.path.getsize(settings.db) if not settings.db.startswith("postgres") else 0
    opening = open_light_store(settings.db) if how == "light" else open_store(settings.db)
    async with opening as store:  # chat rm opens it light; a turn's own store deletes the full way
        await store.delete_thread("gone")
    async with opened(settings.db) as store:
        index = store.index
        assert [t.thread_id for t in await index.list()] == ["kept"]
        assert await index.get("gone") is None and await index.head("gone") is None
        assert await index.tree_rows("gone") is None and await store.index.live_nodes("gone") == set()
        assert await index.binding("gone") is None and await index.waiting() == []
        assert await index.labels("gone") == {}
        assert {h.thread_id for h in await index.search("plan")} == {"kept"}
        assert (await index.spent("gone", today)).day == pytest.approx(0.25)  # what was spent was spent
        assert (await index.head("kept"))["messages"][0]["content"] == "a plan to keep"  # type: ignore[index]
        assert store.saver is not None
        assert await store.saver.aget_tuple({"configurable": {"thread_id": "gone", "checkpoint_ns": ""}}) is None
    if size:  # SQLite gives the space back (PostgreSQL's autovacuum makes it reusable in place)
        assert os.path.getsize(settings.db) < size


# --------------------------------------------------------------------------- the turn lock


async def a_turn_waits_for_another_on_its_thread_only(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:
        events = []
        async with store.thread_lock("x"):
            with pytest.raises(asyncio.TimeoutError):  # a cancelled wait leaves nothing held
                await asyncio.wait_for(store.thread_lock("x").__aenter__(), 0.25)
            events.append("the other turn waited")
            async with store.thread_lock("y"):
                events.append("another thread is free")
        async with store.thread_lock("x"):
            events.append("taken once let go")

        async def turn(name: str) -> None:
            async with store.thread_lock("z"):
                events.append(f"{name} in")
                await asyncio.sleep(0)
                events.append(f"{name} out")

        await asyncio.gather(turn("one"), turn("two"))
    assert events[:3] == ["the other turn waited", "another thread is free", "taken once let go"]
    one, two = ["one in", "one out"], ["two in", "two out"]
    assert events[3:] in (one + two, two + one)  # whichever came first, the other waited for it to end


# --------------------------------------------------------------------------- memories


async def memories_are_kept_per_user_changed_and_forgotten(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:
        mine, theirs = store.memories("ann"), store.memories("bob")
        first = await mine.add("I prefer metric units")
        second = await mine.add("my   editor\nis vim", source="prompt")
        await theirs.add("Bob's own")
        assert [(m.text, m.source) for m in await mine.all()] == [
            ("my editor is vim", "prompt"),
            ("I prefer metric units", "command"),
        ]
        assert [m.text for m in await theirs.all()] == ["Bob's own"]
        assert await mine.change(first.id, "I prefer imperial units") is True
        changed = await mine.get(first.id)
        assert changed is not None and (changed.text, changed.created_at) == (
            "I prefer imperial units",
            first.created_at,
        )
        assert await mine.forget(second.id) is True and await mine.forget(second.id) is False
        assert await mine.change("nothing", "x") is False and await mine.get("nothing") is None
        await mine.keep_vectors("embed-a", {first.id: [0.5, 0.25]})
        assert {k: list(v) for k, v in (await mine.vectors("embed-a")).items()} == {first.id: [0.5, 0.25]}
        await mine.keep_vectors("embed-b", {first.id: [1.0]})  # another model's replace them
        assert await mine.vectors("embed-a") == {}
        assert [m.text for m in await mine.all()] == ["I prefer imperial units"]
    async with opened(db) as store:  # kept for the next process
        assert [m.text for m in await store.memories("ann").all()] == ["I prefer imperial units"]


async def thread_and_memory_writes_at_once_each_keep(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:  # on SQLite, on one connection: each write whole, one after another
        book, texts = store.memories("ann"), [f"note {n}" for n in range(30)]
        touched = (store.index.touch(f"t{n}", "a question", 2, "gpt-a") for n in range(30))
        await asyncio.gather(*touched, *(book.add(text) for text in texts))
    async with opened(db) as store:
        assert sorted(m.text for m in await store.memories("ann").all()) == sorted(texts)
        assert len(await store.index.list()) == 30


async def an_apps_graph_reads_and_writes_langgraphs_store_beside_the_threads(db: str, tmp_path: Path) -> None:
    async with opened(db) as store:
        await store.memory.aput(("app", "notes"), "n1", {"text": "remember the milk"})
        await store.memory.aput(("app", "notes"), "n2", {"text": "call Alice"})
    async with opened(db) as store:
        found = await store.memory.asearch(("app", "notes"))
        assert sorted(item.value["text"] for item in found) == ["call Alice", "remember the milk"]
        assert (await store.memory.aget(("app", "notes"), "n2")).value == {"text": "call Alice"}
        await store.memory.adelete(("app", "notes"), "n1")
        assert [item.key for item in await store.memory.asearch(("app", "notes"))] == ["n2"]


# --------------------------------------------------------------------------- every scenario, on each store

Scenario = Callable[[], Awaitable[None]]


async def each(scenarios: dict[str, Scenario]) -> None:
    """Run ``scenarios`` one after another; a failure says which scenario it was."""
    for name, run in scenarios.items():
        try:
            await run()
        except AssertionError as error:
            raise AssertionError(f"{name.replace('_', ' ')}: {error}") from error


async def test_the_store_keeps_its_index_lock_and_memories(storage: Any, tmp_path: Path) -> None:
    """On each store, each on a database of its own: threads are listed newest first, titled by their first question;
    a title given is kept and an unknown thread is not renamed; a count set moves its thread to the top; where a thread
    was made is kept; what answers a thread is kept and replaced; a thread that waits is in the inbox until it waits on
    nothing; labels name nodes and a name moves to the node given last; spending is held, then settled and summed by
    thread, day and question; two calls held at once do not both pass a limit; a turn waits for another on its thread
    only; memories are kept per user, changed and forgotten; thread and memory writes at once each keep; an app's
    graph reads and writes LangGraph's store beside the threads."""
    scenarios = (
        threads_are_listed_newest_first_titled_by_their_first_question,
        a_title_given_is_kept_and_an_unknown_thread_is_not_renamed,
        a_count_set_moves_its_thread_to_the_top,
        where_a_thread_was_made_is_kept,
        what_answers_a_thread_is_kept_and_replaced,
        a_thread_that_waits_is_in_the_inbox_until_it_waits_on_nothing,
        labels_name_nodes_and_a_name_moves_to_the_node_given_last,
        spending_is_held_then_settled_and_summed_by_thread_day_and_question,
        two_calls_held_at_once_do_not_both_pass_a_limit,
        a_turn_waits_for_another_on_its_thread_only,
        memories_are_kept_per_user_changed_and_forgotten,
        thread_and_memory_writes_at_once_each_keep,
        an_apps_graph_reads_and_writes_langgraphs_store_beside_the_threads,
    )
    await each(
        {
            check.__name__: partial(check, str(storage.db(tmp_path / f"{check.__name__}.db")), tmp_path)
            for check in scenarios
        }
    )


async def test_the_store_keeps_conversations_as_turns_write_them(
    settings: Any, server: Any, storage: Any, tmp_path: Path
) -> None:
    """On each store, each on a database of its own: a thread is placed in its door's directory, not the process's; a
    conversation is kept and read back in a new opening; undo and retry leave branches the tree reads and a label
    names; search finds words in messages with their turn; a question left waiting for approval is answered in a new
    opening; two threads' turns and memory writes at once lose nothing; a deleted thread is gone everywhere and the
    others stay, deleted the full way and the light way."""

    def fresh(name: str) -> Any:
        return replace(settings, db=str(storage.db(tmp_path / f"{name}.db")))

    scenarios = (
        a_thread_is_placed_in_its_doors_directory_not_the_processs,
        a_conversation_is_kept_and_read_back_in_a_new_opening,
        undo_and_retry_leave_branches_the_tree_reads_and_a_label_names,
        search_finds_words_in_messages_with_their_turn,
        a_question_left_waiting_for_approval_is_answered_in_a_new_opening,
        two_threads_turns_and_memory_writes_at_once_lose_nothing,
    )
    deleting = a_deleted_thread_is_gone_everywhere_and_the_others_stay
    await each(
        {check.__name__: partial(check, fresh(check.__name__), server, tmp_path) for check in scenarios}
        | {f"{deleting.__name__} ({how})": partial(deleting, fresh(how), how) for how in ("full", "light")}
    )
