"""The chat graph: what history the model sees, the system prompt, and how a turn streams and stops."""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field

from chatcli.backends.own.graph import build_graph, render_system
from chatcli.backends.own.request_history import select_history
from chatcli.config import Settings
from chatcli.errors import ModelError
from chatcli.service.backend import Backend
from chatcli.service.thread import Thread
from chatcli.store import open_checkpointer
from tests.helpers import Tokens

SYSTEM = SystemMessage("You are a test assistant.")


# --------------------------------------------------------------------------- a fake model


class RecordingFakeModel(GenericFakeChatModel):
    """GenericFakeChatModel that streams like a real endpoint and records what it was sent.

    The stock fake drops ``response_metadata`` while streaming, so the product would see no
    finish reason and treat every reply as truncated; this one ends the stream with a chunk
    carrying the reply's metadata, as ChatOpenAI does.  ``delay`` sleeps between chunks;
    ``fail_after`` raises after that many text chunks.
    """

    delay: float = 0.0
    fail_after: int | None = None
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        self.calls.append(list(messages))
        message = next(self.messages)
        if isinstance(message, str):
            message = AIMessage(message, response_metadata={"finish_reason": "stop"})
        pieces = [p for p in re.split(r"(\s)", message.content) if p]
        for index, piece in enumerate(pieces):
            if self.fail_after is not None and index == self.fail_after:
                raise RuntimeError("model exploded mid-stream")
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece, id=message.id))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        last = ChatGenerationChunk(
            message=AIMessageChunk(content="", id=message.id, response_metadata=dict(message.response_metadata))
        )
        if run_manager:
            run_manager.on_llm_new_token("", chunk=last)
        yield last

    async def _astream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any):
        self.calls.append(list(messages))
        message = next(self.messages)
        if isinstance(message, str):
            message = AIMessage(message, response_metadata={"finish_reason": "stop"})
        pieces = [p for p in re.split(r"(\s)", message.content) if p]
        for index, piece in enumerate(pieces):
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail_after is not None and index == self.fail_after:
                raise RuntimeError("model exploded mid-stream")
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece, id=message.id))
            if run_manager:
                await run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        last = ChatGenerationChunk(
            message=AIMessageChunk(content="", id=message.id, response_metadata=dict(message.response_metadata))
        )
        if run_manager:
            await run_manager.on_llm_new_token("", chunk=last)
        yield last


def fake_model(*replies: str | AIMessage, **kwargs: Any) -> RecordingFakeModel:
    items = [
        r if isinstance(r, AIMessage) else AIMessage(r, response_metadata={"finish_reason": "stop"}) for r in replies
    ]
    return RecordingFakeModel(messages=itertools.cycle(items), **kwargs)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class Harness:
    """A compiled graph on a real store, one thread of it, and the fake model behind it."""

    def __init__(self, db: Path | str, model: RecordingFakeModel, *, context_tokens: int = 6000, thread: str = "t1"):
        self.db = db
        self.model = model
        self.context_tokens = context_tokens
        self.thread = thread

    async def __aenter__(self) -> Thread:
        self._cm = open_checkpointer(str(self.db))
        saver = await self._cm.__aenter__()
        app = build_graph(self.model, saver, default_system=SYSTEM.content, context_tokens=self.context_tokens)
        return Thread(Backend(app), self.thread, Settings())

    async def __aexit__(self, *exc: Any) -> None:
        await self._cm.__aexit__(*exc)


# --------------------------------------------------------------------------- select_history


def conversation(n: int, words: int = 6) -> list[BaseMessage]:
    """n messages alternating human/AI, starting with a human one; each has distinct text."""
    out: list[BaseMessage] = []
    for i in range(n):
        text = f"message {i} " + " ".join(f"w{i}x{j}" for j in range(words))
        out.append(HumanMessage(text) if i % 2 == 0 else AIMessage(text))
    return out


def test_select_history_keeps_everything_when_it_fits():
    msgs = conversation(6)
    assert select_history(SYSTEM, msgs, 6000) == [SYSTEM, *msgs]


@pytest.mark.parametrize("budget", [100, 130, 170, 220, 300, 450])
def test_select_history_sends_a_whole_recent_tail_within_budget(budget):
    msgs = conversation(60)
    kept = select_history(SYSTEM, msgs, budget)

    assert kept[0] is SYSTEM or kept[0] == SYSTEM, "the system message is always first"
    tail = kept[1:]
    assert tail, "at least the latest message is sent"
    assert isinstance(tail[0], HumanMessage), "history starts on a human message"
    assert tail[-1] == msgs[-1], "the latest message is sent"
    # Whole messages only, and a contiguous suffix of the thread: nothing cut or skipped.
    assert tail == msgs[len(msgs) - len(tail) :]
    for sent, original in zip(tail, msgs[len(msgs) - len(tail) :]):
        assert sent.content == original.content
    assert count_tokens_approximately(kept) <= budget
    # As much as fits: one more (human-started) pair of messages would go over the budget.
    start = len(msgs) - len(tail)
    if start >= 2:
        assert count_tokens_approximately([SYSTEM, *msgs[start - 2 :]]) > budget


def test_select_history_drops_a_leading_ai_message():
    # Budget fits the last AI+human pair and the last 3 messages, but the 3rd-last is an AI reply.
    msgs = conversation(5)  # H A H A H
    budget = count_tokens_approximately([SYSTEM, *msgs[-4:]])  # A H A H fits exactly
    kept = select_history(SYSTEM, msgs, budget)
    assert isinstance(kept[1], HumanMessage)
    assert kept[1:] == msgs[-3:]


def test_select_history_sends_the_latest_message_even_alone_over_budget():
    msgs = conversation(4) + [HumanMessage("long question " + "word " * 2000)]
    kept = select_history(SYSTEM, msgs, 100)
    assert kept == [SYSTEM, msgs[-1]]
    assert kept[1].content == msgs[-1].content, "the long message is not cut"


def test_select_history_with_only_a_system_and_one_message():
    msgs = [HumanMessage("hello")]
    assert select_history(SYSTEM, msgs, 100) == [SYSTEM, msgs[0]]


# --------------------------------------------------------------------------- render_system


@pytest.mark.parametrize(
    "template, variables, expected",
    [
        ("Answer in {language}.", {"language": "Spanish"}, "Answer in Spanish."),
        ("Hi {name}, meet {name}.", {"name": "Zed"}, "Hi Zed, meet Zed."),
        ("Hi {name}, {unknown} stays.", {"name": "Zed"}, "Hi Zed, {unknown} stays."),
        ("Code: def f(): return {} and {'a': 1}", {"a": "X"}, "Code: def f(): return {} and {'a': 1}"),
        ('JSON {"key": "{name}"}', {"name": "Zed"}, 'JSON {"key": "Zed"}'),
        ("Double {{name}} braces", {}, "Double {{name}} braces"),
        ("Spaced { name } stays", {"name": "Zed"}, "Spaced { name } stays"),
        ("Unclosed {name", {"name": "Zed"}, "Unclosed {name"),
        ("No placeholders at all.", {"x": "y"}, "No placeholders at all."),
        # Values are inserted as written: no second expansion, no regex escapes.
        ("{a}", {"a": "{b}", "b": "B"}, "{b}"),
        ("Path {p}", {"p": r"C:\temp\1 \g<0>"}, r"Path C:\temp\1 \g<0>"),
        ("", {"a": "b"}, ""),
    ],
)
def test_render_system(template, variables, expected):
    assert render_system(template, variables) == expected


# --------------------------------------------------------------------------- Thread.send on SQLite


async def test_send_streams_the_reply_in_pieces_and_keeps_it(tmp_path):
    model = fake_model("Hello there, how are you today?", "Second answer here.")
    pieces: list[str] = []

    async def go():
        async with Harness(tmp_path / "c.db", model) as conv:
            conv.listener = Tokens(pieces.append)
            result = await conv.send("hi")
            conv.listener = Tokens()
            second = await conv.send("and again")
            return result, second, await conv.messages()

    result, second, history = await go()
    assert len(pieces) > 1, "the reply arrives in several pieces"
    assert "".join(pieces) == "Hello there, how are you today?"
    assert result.text == "Hello there, how are you today?"
    assert result.finish_reason == "stop"
    assert result.interrupted is None
    assert second.text == "Second answer here."
    assert [type(m) for m in history] == [HumanMessage, AIMessage, HumanMessage, AIMessage]
    assert [m.content for m in history] == ["hi", "Hello there, how are you today?", "and again", "Second answer here."]
    # The second call saw the system prompt and the first turn.
    sent = model.calls[-1]
    assert isinstance(sent[0], SystemMessage) and sent[0].content == SYSTEM.content
    assert [m.content for m in sent[1:]] == ["hi", "Hello there, how are you today?", "and again"]


def test_history_survives_reopening_the_store(tmp_path, storage):
    db = storage.db(tmp_path / "c.db")

    async def first():
        async with Harness(db, fake_model("I will remember.")) as conv:
            await conv.send("my name is Zed")

    model = fake_model("You are Zed.")

    async def second():
        async with Harness(db, model) as conv:
            await conv.send("what is my name?")
            return await conv.messages()

    run(first())
    history = run(second())
    assert [m.content for m in history] == ["my name is Zed", "I will remember.", "what is my name?", "You are Zed."]
    assert [m.content for m in model.calls[-1][1:]] == ["my name is Zed", "I will remember.", "what is my name?"]


async def test_system_prompt_and_variables_are_kept_with_the_thread(tmp_path):
    model = fake_model("ok")

    async def go():
        async with Harness(tmp_path / "c.db", model) as conv:
            await conv.own("system").set_system("Answer in {language}, {name}.", {"language": "Spanish"})
            await conv.send("one")
            await conv.send("two")
            await conv.own("system").set_system(None, {"name": "Zed"})
            await conv.send("three")
        async with Harness(tmp_path / "c.db", model, thread="other") as conv:
            await conv.send("four")

    await go()
    systems = [call[0].content for call in model.calls]
    assert systems == [
        "Answer in Spanish, {name}.",
        "Answer in Spanish, {name}.",
        "Answer in Spanish, Zed.",  # a new variable merges with the kept ones
        SYSTEM.content,  # another thread gets the default
    ]


async def test_long_thread_sends_only_the_tail_but_keeps_everything(tmp_path):
    model = fake_model("short answer")
    old = conversation(498)

    async def go():
        async with Harness(tmp_path / "c.db", model, context_tokens=400) as conv:
            await conv.app.aupdate_state(conv.config, {"messages": old}, as_node="model")
            await conv.send("the newest question")
            return await conv.messages()

    history = await go()
    assert len(history) == 500, "the stored history stays whole"
    assert [m.content for m in history[:498]] == [m.content for m in old]
    assert history[-2].content == "the newest question"
    sent = model.calls[-1]
    assert isinstance(sent[0], SystemMessage)
    assert 2 <= len(sent) - 1 < 100, "only a tail is sent"
    assert isinstance(sent[1], HumanMessage)
    assert sent[-1].content == "the newest question"
    assert [m.content for m in sent[1:]] == [m.content for m in history[-len(sent) : -1]]
    assert count_tokens_approximately(sent) <= 400


async def test_cancel_mid_stream_keeps_the_partial_answer(tmp_path):
    model = fake_model("one two three four five six seven eight nine ten", delay=0.05)

    async def go():
        async with Harness(tmp_path / "c.db", model) as conv:
            pieces: list[str] = []
            got_two = asyncio.Event()

            def on_token(text: str) -> None:
                pieces.append(text)
                if len(pieces) >= 3:  # "one", " ", "two"
                    got_two.set()

            conv.listener = Tokens(on_token)
            task = asyncio.create_task(conv.send("count to ten"))
            await asyncio.wait_for(got_two.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            partial = "".join(pieces)
            after_cancel = await conv.messages()
            model.delay = 0
            result = await conv.send("go on")
            return partial, after_cancel, result, await conv.messages()

    partial, after_cancel, result, history = await go()
    assert partial.startswith("one two")
    assert not partial.endswith("ten")
    assert [type(m) for m in after_cancel] == [HumanMessage, AIMessage]
    assert after_cancel[1].content == partial
    assert after_cancel[1].response_metadata.get("interrupted") == "cancelled"
    # The next turn works and sees the partial answer.
    assert result.interrupted is None and result.text
    assert [m.content for m in history] == ["count to ten", partial, "go on", result.text]
    assert [m.content for m in model.calls[-1][1:]] == ["count to ten", partial, "go on"]


async def test_model_error_mid_stream_keeps_the_partial_marked_error(tmp_path):
    model = fake_model("alpha beta gamma delta epsilon", fail_after=3)

    async def go():
        async with Harness(tmp_path / "c.db", model) as conv:
            pieces: list[str] = []
            with pytest.raises(RuntimeError, match="exploded"):
                conv.listener = Tokens(pieces.append)
                await conv.send("greek letters please")
            conv.listener = Tokens()
            after = await conv.messages()
            model.fail_after = None
            result = await conv.send("try again")
            return "".join(pieces), after, result, await conv.messages()

    partial, after, result, history = await go()
    assert partial == "alpha beta"
    assert [m.content for m in after] == ["greek letters please", "alpha beta"]
    assert after[1].response_metadata.get("interrupted") == "error"
    assert result.interrupted is None
    assert [m.content for m in history][:3] == ["greek letters please", "alpha beta", "try again"]


async def test_model_error_before_any_text_keeps_the_question(tmp_path):
    model = fake_model("never sent", fail_after=0)

    async def go():
        async with Harness(tmp_path / "c.db", model) as conv:
            with pytest.raises(RuntimeError):
                await conv.send("lost question?")
            model.fail_after = None
            await conv.send("second try")

    await go()
    assert [m.content for m in model.calls[-1][1:]][:1] == ["lost question?"]
    assert model.calls[-1][-1].content == "second try"


async def test_reply_without_finish_reason_is_marked_truncated(tmp_path):
    model = fake_model(AIMessage("cut short", response_metadata={}))

    async def go():
        async with Harness(tmp_path / "c.db", model) as conv:
            with pytest.raises(ModelError, match="the answer ended early: the server sent no finish reason") as said:
                await conv.send("hi")
            conv.whole = ("truncated",)  # a door that says it its own way (an editor's stop reason) gets the result
            result = await conv.send("again")
            return said.value, result, await conv.messages()

    error, result, history = await go()
    assert "kept in the thread, marked as incomplete" in str(error)
    assert result.text == "cut short" and result.interrupted == "truncated"
    assert [m.content for m in history] == ["hi", "cut short", "again", "cut short"]
    assert history[-1].response_metadata.get("interrupted") == "truncated"
