"""/compact, /summary (and /summary edit), /pin and /unpin at the prompt, and compaction before a request would not
fit: what the model is sent changes, the thread keeps every message, /undo takes a compaction back.

Handlers run as the prompt runs them on a ``session`` (tests/session.py: chat's service over the test's store and a
fake model at LangChain's level); what only the command line or a terminal shows runs against the fake
OpenAI-compatible server. The summariser's requests are told apart by their system prompt.
"""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from chatcli.config import load_settings
from chatcli.errors import UsageError
from tests.fakeserver import Fault, Reply
from tests.helpers import HANG, eventually_async
from tests.test_commands import chat

SUMMARISER = "You keep a running summary"
SUMMARY = "Summary of the earlier conversation"


def summarised(model: Any) -> list[dict]:
    """The requests the summariser made of ``model`` (the fake server, or a session's fake model)."""
    return [r for r in model.requests if str(r["messages"][0]["content"]).startswith(SUMMARISER)]


def answered(model: Any) -> list[dict]:
    """The requests for answers made of ``model``."""
    return [r for r in model.requests if not str(r["messages"][0]["content"]).startswith(SUMMARISER)]


def texts(request: dict) -> list[str]:
    return [str(m["content"]) for m in request["messages"]]


FACTS = ["my locker code is 4417", "the standup moved to 10:15", "the cat is called Biscuit", "ship on Friday"]


async def four_turns(c: Any) -> None:
    for fact in FACTS:
        await c.ask(f"Please note: {fact}.")


async def test_compact_folds_the_earlier_turns_and_only_what_is_sent_changes(session):
    async with chat(session) as c:
        await four_turns(c)
        session.model.queue(
            Reply("S: locker 4417; standup 10:15; cat Biscuit.", usage={"prompt_tokens": 90, "completion_tokens": 12})
        )
        shown = await c.run("/compact the decisions and numbers")
        # One summariser call, steered by the focus, sent the turns it folds (not the last one).
        [call] = summarised(session.model)
        assert "the decisions and numbers" in texts(call)[0]
        assert all(f in texts(call)[1] for f in FACTS[:3]) and FACTS[3] not in texts(call)[1]
        assert "compacted 3 earlier turns: ~" in shown and "90 in · 12 out" in shown, shown
        assert "/undo takes it back" in shown
        # The next request: the system prompt, the summary, the first question whole, the last exchange, the question.
        await c.ask("What is my locker code?")
        sent = texts(answered(session.model)[-1])
        assert sent[1].startswith(SUMMARY) and "locker 4417" in sent[1]
        assert sent[2] == f"Please note: {FACTS[0]}."
        assert sent[3:] == [f"Please note: {FACTS[3]}.", sent[4], "What is my locker code?"]
        # The thread keeps every message.
        assert len(await c.conversation.messages()) == 10
        view = await c.run("/summary")
        assert "sent in place of turns 1-3 of 5" in view and "made by /compact" in view and "locker 4417" in view
        assert "turn 1 (the first question) is sent whole" in view


async def test_the_summary_of_one_folded_turn_says_turn_1(session):
    async with chat(session) as c:
        for fact in FACTS[:2]:
            await c.ask(f"Please note: {fact}.")
        await c.run("/compact")
        view = await c.run("/summary")
        assert "sent in place of turn 1 of 2" in view and "1-1" not in view, view


async def test_undo_takes_back_a_compaction_then_the_exchange_before_it(session):
    async with chat(session) as c:
        await four_turns(c)
        await c.run("/compact")
        assert "undone: the compaction" in await c.run("/undo")
        assert not (await c.conversation.own("memory").summary()).text
        await c.ask("and now?")
        assert not any(t.startswith(SUMMARY) for t in texts(answered(session.model)[-1])), (
            "the turns are sent whole again"
        )
        shown = await c.run("/undo")
        assert "undone: and now?" in shown  # then /undo takes back exchanges, as before


@pytest.mark.e2e  # the user's editor, a process
async def test_summary_edit_keeps_the_correction_and_undo_takes_it_back(session, tmp_path, monkeypatch):
    editor = tmp_path / "fix-summary"
    editor.write_text('#!/bin/sh\nsed -i "s/4417/4471/" "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("VISUAL", str(editor))
    async with chat(session) as c:
        await four_turns(c)
        session.model.queue(Reply("locker 4417"))
        await c.run("/compact")
        shown = await c.run("/summary edit")
        assert "summary saved" in shown, shown
        await c.ask("code?")
        assert "locker 4471" in texts(answered(session.model)[-1])[1]
        assert "undone: code?" in await c.run("/undo")  # the exchange since, then the edit
        assert "undone: the summary edit" in await c.run("/undo")
        assert (await c.conversation.own("memory").summary()).text == "locker 4417"


async def test_a_pinned_turn_is_sent_whole_through_a_compaction(session):
    async with chat(session) as c:
        await four_turns(c)
        assert "turn 2 pinned" in await c.run("/pin 2")
        await c.run("/compact")
        await c.ask("next?")
        sent = texts(answered(session.model)[-1])
        assert f"Please note: {FACTS[1]}." in sent, "the pinned question"
        assert any(t.startswith("You said: Please note: " + FACTS[1]) for t in sent), "and its answer"
        assert f"Please note: {FACTS[2]}." not in sent, "an unpinned folded turn is not"
        assert "pinned, always sent whole: turn 2" in await c.run("/summary")
        await c.run("/unpin 2")
        assert (await c.conversation.own("memory").summary()).pinned == []


async def test_a_retry_keeps_the_pins_made_after_the_answer_it_replaces(session):
    async with chat(session) as c:
        await four_turns(c)
        assert "turn 2 pinned" in await c.run("/pin 2")
        assert "turn 4 pinned" in await c.run("/pin 4")  # the very turn the retry answers again
        await c.run("/retry")
        assert (await c.conversation.own("memory").summary()).pinned == [2, 4]
        assert "pinned, always sent whole: turns 2, 4" in await c.run("/summary")


@pytest.mark.parametrize("line", ["/pin 9", "/pin two", "/unpin 0"])
async def test_pin_takes_a_turn_of_the_thread(session, line):
    async with chat(session) as c:
        await c.ask("one")
        with pytest.raises(UsageError):
            await c.run(line)


async def test_nothing_to_compact_is_one_line_and_sends_nothing(session):
    async with chat(session) as c:
        with pytest.raises(UsageError, match="nothing to compact"):
            await c.run("/compact")
        await c.ask("only one turn")
        with pytest.raises(UsageError, match="nothing to compact"):
            await c.run("/compact")
        assert not summarised(session.model)


async def test_a_compaction_stopped_midway_changes_nothing(session):
    async with chat(session) as c:
        await four_turns(c)
        session.model.queue(Reply("never", delay=HANG))  # the summariser's answer never comes
        before = len(session.model.requests)
        task = asyncio.ensure_future(c.run("/compact"))
        await eventually_async(lambda: len(session.model.requests) > before, "the summariser's request")
        task.cancel()  # Ctrl-C
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not (await c.conversation.own("memory").summary()).text
        assert len(await c.conversation.messages()) == 8
        await c.ask("still here?")
        assert not texts(answered(session.model)[-1])[1].startswith(SUMMARY)


LONG = "the lighthouse keeper wrote down every ship that passed in the long winter nights " * 4  # ~85 tokens


async def test_the_default_memory_compacts_before_a_request_would_not_fit(session, monkeypatch):
    monkeypatch.setenv("CHATCLI_CONTEXT_TOKENS", "400")
    settings = load_settings({})
    assert settings.memory == "compact"
    async with chat(settings) as c:
        notes = []
        for i in range(8):
            shown = await c.ask(f"note {i}: {LONG}")
            notes += [line for line in shown.splitlines() if line.startswith("compacted ")]
        assert notes and all("/summary shows it" in n for n in notes), notes
        # Every request stayed within the budget, and none lost a turn: folded or sent.
        from langchain_core.messages.utils import count_tokens_approximately

        last = answered(session.model)[-1]
        assert texts(last)[1].startswith(SUMMARY)
        assert count_tokens_approximately([(m["role"], m["content"]) for m in last["messages"]]) <= 400
        assert len(notes) < 8, "compacts now and then, not every turn"
        assert (await c.conversation.own("memory").summary()).made["kind"] == "auto"


async def test_trim_memory_never_compacts_by_itself(session, monkeypatch):
    monkeypatch.setenv("CHATCLI_CONTEXT_TOKENS", "400")
    monkeypatch.setenv("CHATCLI_MEMORY", "trim")
    async with chat(load_settings({})) as c:
        for i in range(6):
            await c.ask(f"note {i}: {LONG}")
        assert not summarised(session.model)


async def test_a_graphs_thread_refuses_compaction_in_one_line(settings, server, tmp_path):
    from chatcli.backends.graphs.load import GraphFile
    from tests.helpers import a_thread

    graph = Path(__file__).resolve().parent.parent / "examples" / "graphs" / "agent.py"
    async with a_thread(settings, "g1", graph=GraphFile(f"{graph}:graph", tmp_path)) as conversation:
        assert conversation.prompt is None  # compaction, the summary and pins are chat's own graph's
        with pytest.raises(UsageError, match="compaction is for chat's own threads"):
            conversation.own("memory")


async def test_a_failed_or_empty_summary_is_one_line_and_changes_nothing(session):
    from chatcli.errors import ModelError

    async with chat(session) as c:
        await four_turns(c)
        session.model.queue(Fault(status=429))
        with pytest.raises(ModelError, match="rate limited"):  # said as a turn's failure is, never "unexpected"
            await c.run("/compact")
        session.model.queue(Reply(""))
        with pytest.raises(ModelError, match="answered the summary request with nothing"):
            await c.run("/compact")
        assert not (await c.conversation.own("memory").summary()).text
        with pytest.raises(UsageError, match="at most 2,000"):
            await c.conversation.own("memory").compact("x" * 2001)


async def test_a_fold_that_fails_before_a_question_leaves_turns_out_and_the_question_goes(session, monkeypatch):
    monkeypatch.setenv("CHATCLI_CONTEXT_TOKENS", "400")
    async with chat(load_settings({})) as c:
        for i in range(3):
            await c.ask(f"note {i}: {LONG}")
        before = (await c.conversation.own("memory").summary()).text
        session.model.queue(Fault(status=500), Reply("still answered"))
        shown = await c.ask(f"note 3: {LONG}")
        assert "could not compact the earlier turns" in shown and "still answered" in shown, shown
        assert (await c.conversation.own("memory").summary()).text == before


def test_scripts_see_an_automatic_compaction_in_the_json_answer(server, chat_env):
    from tests.helpers import chat as run_chat

    small = {**chat_env, "CHATCLI_CONTEXT_TOKENS": "400"}
    counts = []
    for i in range(6):
        run = run_chat(small, "--json", "-t", "j", f"note {i}: {LONG}")
        assert run.code == 0, run
        counts.append(json.loads(run.out)["turns_compacted"])
        assert run.err == "", "--json says nothing on stderr when all is well: the object says it compacted"
    assert counts[0] == 0 and any(counts), counts
    lines = run_chat(small, "--jsonl", "-t", "j", f"more: {LONG}")
    assert "turns_compacted" in json.loads(lines.out.splitlines()[-1]) and lines.err == "", lines
    plain = run_chat(small, "-t", "j", f"and more: {LONG}")  # a plain one-shot says it on stderr, as before
    assert "compacted" in plain.err or "not sent" in plain.err, plain


def test_at_the_real_prompt_compact_summary_and_undo_read_as_lines(server, chat_env):
    """The prompt at a terminal (in this process): /compact's lines, /summary's text, /undo, then a question."""
    from tests.doors.prompt import Typed

    typed = Typed(chat_env, ["--thread", "pty"])
    try:
        for fact in FACTS:
            assert f"You said: Please note: {fact}." in typed.say(f"Please note: {fact}.")[0], typed
        server.queue(Reply("S: locker 4417; standup 10:15."))
        shown = "\n".join(typed.say("/compact numbers"))
        assert "/undo takes it back" in shown, shown
        assert "compacting the earlier turns... (focus: numbers)" in shown and "compacted 3 earlier turns: ~" in shown
        shown = "\n".join(typed.say("/summary"))
        assert "S: locker 4417; standup 10:15." in shown and "sent in place of turns 1-3 of 4" in shown, shown
        assert "undone: the compaction" in "\n".join(typed.say("/undo")), typed
        assert "You said: and now?" in typed.say("and now?")[0], typed
        assert not any(str(m["content"]).startswith(SUMMARY) for m in answered(server)[-1]["messages"])
    finally:
        assert typed.leave() == 0, typed


async def test_a_pinned_turns_attachment_is_sent_whole_through_a_compaction(session):
    from chatcli.content.attachments import from_bytes

    plan = from_bytes("plan.md", b"# Plan\nStep 1: migrate the database on Tuesday.\n")
    session.model.queue(*(Reply("ok") for _ in range(4)))  # answers that do not repeat the file
    async with chat(session) as c:
        await c.ask("Hello.")
        await c.conversation.send("Here is the plan.", attachments=[plan])
        await c.run("/pin")  # the last turn: the one with the file
        await c.ask("Thanks.")
        await c.ask("One more thing.")
        session.model.queue(Reply("S: a plan was shared."))  # a summary without the file's words
        await c.run("/compact")
        await c.ask("What day is the migration?")
        sent = " ".join(texts(answered(session.model)[-1]))
        assert "Step 1: migrate the database on Tuesday." in sent, "the file went whole with its pinned question"


async def test_compact_right_after_model_at_the_prompt_asks_the_model_just_chosen(settings, server):
    """q1, q2, /model other, /compact: the summary is asked of the model /model chose, as the next question would be."""
    from tests.test_prompt_inprocess import prompt_loop

    server.queue(Reply("one"), Reply("two"), Reply("the summary"))
    async with prompt_loop(settings) as chat:
        await chat.say("q1", then="one")
        await chat.say("q2", then="two")
        await chat.say("/model other-model", then="kept with this thread")
        await chat.say("/compact", then="/undo takes it back")
    assert [r["model"] for r in server.requests] == [settings.model, settings.model, "other-model"]
