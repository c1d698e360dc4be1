"""/undo, /retry and /fork: they go through LangGraph checkpoints, and the model sees the result.

What a thread holds is checked the way a user would notice it: through the history the
next request sends to the (fake) model.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from chatcli.errors import ModelError, UsageError
from tests.fakeserver import Fault, Reply
from tests.helpers import eventually_async
from tests.test_commands import Chat, chat
from tests.test_prompt_pty import assistant_messages, user_messages


async def two_turns(c: Chat) -> None:
    await c.ask("first question")
    await c.ask("second question")


# ------------------------------------------------------------------------------------ /undo


async def test_undo_removes_the_last_exchange_from_what_the_model_is_sent(settings, server):
    async with chat(settings) as c:
        await two_turns(c)
        shown = await c.run("/undo")
        assert "undone: second question" in shown
        await c.ask("another question")
    body = server.requests[-1]
    assert user_messages(body) == ["first question", "another question"]
    assert assistant_messages(body) == ["You said: first question"]


async def test_undo_twice_then_nothing_left_to_undo(settings, server):
    async with chat(settings) as c:
        await two_turns(c)
        await c.run("/undo")
        await c.run("/undo")
        assert await c.conversation.messages() == []
        assert "nothing to undo" in await c.run("/undo")
        assert (await c.conversation.store.index.get("t1")).message_count == 0
    async with chat(settings) as c:  # a new process sees the same
        assert await c.conversation.messages() == []
        await c.ask("fresh start")
    assert user_messages(server.requests[-1]) == ["fresh start"]


async def test_undo_takes_back_a_question_that_failed(settings, server):
    server.queue(Reply("fine too"), Fault(status=500))

    async with chat(settings) as c:
        await c.ask("fine")
        try:
            await c.ask("this one fails")
        except ModelError:
            pass
        assert "undone: this one fails" in await c.run("/undo")
        await c.ask("and now?")
    assert user_messages(server.requests[-1]) == ["fine", "and now?"]


# ------------------------------------------------------------------------------------ /retry


async def test_retry_resends_the_same_history_and_replaces_the_answer(settings, server):
    async with chat(settings) as c:
        await two_turns(c)
        original = server.requests[-1]["messages"]
        server.queue(Reply("a better second answer"))
        shown = await c.run("/retry")
        assert "a better second answer" in shown
        assert server.requests[-1]["messages"] == original  # the same history, ending on the question
        assert original[-1] == {"role": "user", "content": "second question"}
        await c.ask("third question")
        assert (await c.conversation.store.index.get("t1")).message_count == 6
    body = server.requests[-1]
    assert assistant_messages(body) == ["You said: first question", "a better second answer"]
    assert user_messages(body) == ["first question", "second question", "third question"]


async def test_retry_is_kept_for_the_next_process(settings, server):
    async with chat(settings) as c:
        await two_turns(c)
        server.queue(Reply("retried"))
        await c.run("/retry")
    async with chat(settings) as c:
        assert [m.text for m in await c.conversation.messages()][-1] == "retried"
        await c.ask("next")
    assert assistant_messages(server.requests[-1])[-1] == "retried"


async def test_retry_after_undo_answers_the_earlier_question_again(settings, server):
    async with chat(settings) as c:
        await two_turns(c)
        await c.run("/undo")
        server.queue(Reply("first, retried"))
        await c.run("/retry")
        assert user_messages(server.requests[-1]) == ["first question"]
        assert [m.text for m in await c.conversation.messages()] == ["first question", "first, retried"]


async def test_retry_after_a_failed_answer_sends_the_question_once(settings, server):
    server.queue(Reply("ok"), Fault(status=500))

    async with chat(settings) as c:
        await c.ask("one")
        try:
            await c.ask("two")
        except ModelError:
            pass
        server.queue(Reply("two, at last"))
        await c.run("/retry")
        assert user_messages(server.requests[-1]) == ["one", "two"]
        await c.ask("three")
    assert user_messages(server.requests[-1]) == ["one", "two", "three"]
    assert assistant_messages(server.requests[-1]) == ["ok", "two, at last"]


async def test_retry_uses_the_system_prompt_set_since(settings, server):
    async with chat(settings) as c:
        await two_turns(c)
        await c.run("/system Answer in French.")
        await c.run("/retry")
        sent = server.requests[-1]["messages"]
        assert sent[0] == {"role": "system", "content": "Answer in French."}
        assert user_messages(server.requests[-1]) == ["first question", "second question"]


async def test_retry_on_a_forked_thread_replaces_the_copied_answer(settings, server):
    async with chat(settings) as c:
        await two_turns(c)
        await c.run("/fork")  # the copy has no checkpoint from before its last answer
        server.queue(Reply("a fresh answer in the fork"))
        await c.run("/retry")
        assert user_messages(server.requests[-1]) == ["first question", "second question"]
        assert assistant_messages(server.requests[-1]) == ["You said: first question"]
        await c.ask("third")
    assert assistant_messages(server.requests[-1])[-1] == "a fresh answer in the fork"


async def test_retry_with_nothing_to_retry(settings, server):
    async with chat(settings) as c:
        try:
            await c.run("/retry")
        except UsageError as exc:
            assert "nothing to retry" in str(exc)
        else:
            raise AssertionError("no error")
    assert not server.requests


async def test_stopping_a_retry_keeps_the_part_that_arrived(settings, server):
    words = " ".join(f"w{i:02d}" for i in range(1, 41))

    async with chat(settings) as c:
        await two_turns(c)
        server.queue(Reply(words, delay=0.05))
        task = asyncio.create_task(c.run("/retry"))
        await eventually_async(lambda: "w03" in c.out.getvalue(), "w03 to be shown")
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert "stopped: the partial answer is kept" in c.err.getvalue()
        await c.ask("go on")
    partial = assistant_messages(server.requests[-1])[-1]
    assert partial.startswith("w01 w02 w03") and "w40" not in partial
    assert user_messages(server.requests[-1]) == ["first question", "second question", "go on"]


@pytest.mark.e2e
def test_ctrl_c_during_retry_in_the_terminal(start, server):
    repl = start("--thread", "again")
    at = repl.say("count slowly")
    repl.wait_for("You said: count slowly", after=at)
    repl.wait_prompt()
    server.queue(Reply(" ".join(f"w{i:02d}" for i in range(1, 41)), delay=0.2))
    at = repl.say("/retry")
    repl.wait_for("w03", after=at)
    repl.child.sendintr()
    repl.wait_for("stopped", after=at, timeout=5)
    repl.wait_prompt(timeout=5)
    assert repl.child.isalive()
    at = repl.say("next")
    repl.wait_for("You said: next", after=at)
    repl.wait_prompt()
    partial = assistant_messages(server.requests[-1])
    assert len(partial) == 1 and partial[0].startswith("w01 w02 w03") and "w40" not in partial[0]


# ------------------------------------------------------------------------------------ /fork


async def test_fork_continues_in_a_copy_and_leaves_the_original_alone(settings, server):
    async with chat(settings, "origin") as c:
        await two_turns(c)
        shown = await c.run("/fork")
        fork_id = c.thread_id
        assert fork_id != "origin" and f"chat --thread {fork_id}" in shown
        await c.ask("only in the fork")
        assert user_messages(server.requests[-1]) == ["first question", "second question", "only in the fork"]
        await c.run("/switch origin")
        await c.ask("back in the original")
        assert user_messages(server.requests[-1]) == ["first question", "second question", "back in the original"]
    async with chat(settings, "origin") as c:  # resumed later: still without the fork's turn
        await c.ask("resumed")
    assert "only in the fork" not in json.dumps(server.requests[-1])
    async with chat(settings, fork_id) as c:
        await c.ask("fork resumed")
    assert user_messages(server.requests[-1]) == [
        "first question",
        "second question",
        "only in the fork",
        "fork resumed",
    ]


async def test_fork_at_a_node_under_a_name_given(settings, server):
    """/fork --at NODE --as NEW_ID, as chat fork ID --at NODE --as NEW_ID: the branch to that node, under that id."""
    async with chat(settings, "origin") as c:
        await two_turns(c)
        with pytest.raises(UsageError, match="takes --at NODE and --as NEW_ID"):
            await c.run("/fork --at")
        assert "forked origin at node 1 into thread first-only" in await c.run("/fork --at 1 --as first-only")
        assert c.thread_id == "first-only"
        await c.ask("only in the fork")
        assert user_messages(server.requests[-1]) == ["first question", "only in the fork"]
        with pytest.raises(UsageError, match="already exists"):
            await c.run("/fork --as origin")


async def test_fork_of_an_empty_thread_is_refused(settings, server):
    async with chat(settings) as c:
        try:
            await c.run("/fork")
        except UsageError as exc:
            assert "empty" in str(exc)
        else:
            raise AssertionError("no error")
        assert c.thread_id == "t1"


async def test_search_finds_only_what_is_still_in_the_thread(settings, server):
    """An undone exchange and a replaced answer are kept as nodes, but search does not show them."""
    from chatcli.threads.operations import Threads

    async with chat(settings) as c:
        await c.ask("tell me about giraffes")
        await c.ask("now about okapis")
        await c.run("/undo")
        server.queue(Reply("zebras have stripes"))
        await c.ask("what about zebras?")
        server.queue(Reply("horses gallop"))
        await c.run("/retry")
        threads = Threads(c.conversation.app, c.conversation.store)
        found = {
            w: [(h.turn, h.role) for h in await threads.search(w)] for w in ("giraffes", "okapis", "stripes", "gallop")
        }
    assert found == {"giraffes": [(1, "human"), (1, "ai")], "okapis": [], "stripes": [], "gallop": [(2, "ai")]}
