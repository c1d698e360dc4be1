"""Memory beyond the context budget: trimming, the running summary, and the usage shown after a reply."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field

from chatcli.backends.own.graph import PROMPT_ESTIMATE, SUMMARY_USAGE, build_graph
from chatcli.backends.own.request_history import SUMMARY_PREFIX, select_history
from chatcli.config import DEFAULT_SYSTEM, Settings
from chatcli.core.events import TurnResult
from chatcli.service.backend import Backend
from chatcli.service.thread import Thread as ChatThread
from chatcli.store import open_checkpointer
from chatcli.ui.output import usage_line
from tests.fakeserver import Reply, echo_reply
from tests.helpers import Tokens, chat
from tests.test_graph import RecordingFakeModel, fake_model

SYSTEM = "You are a test assistant."
FACT = re.compile(r"fact\d+")


class SummarisingFakeModel(RecordingFakeModel):
    """The recording fake, which also answers the summariser's calls.

    A summary is every ``factN`` word of the summariser's prompt (the current summary and the
    newly dropped turns), so it proves which turns reached the summariser. It streams in
    pieces like a reply, so a summary leaking into the reply stream would show.
    """

    summary_calls: list[list[BaseMessage]] = Field(default_factory=list)
    summary_usage: dict[str, int] | None = None

    @staticmethod
    def _is_summariser(messages: list[BaseMessage]) -> bool:
        return isinstance(messages[0], SystemMessage) and messages[0].text.startswith("You keep a running summary")

    def _summary_reply(self, messages: list[BaseMessage]) -> AIMessage:
        self.summary_calls.append(list(messages))
        facts = FACT.findall(messages[-1].text)
        return AIMessage("SUMMARY " + " ".join(dict.fromkeys(facts)), response_metadata={"finish_reason": "stop"})

    async def _astream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any):
        if not self._is_summariser(messages):
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
            return
        saved, self.messages = self.messages, iter([self._summary_reply(messages)])
        try:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
            if self.summary_usage:
                yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=self.summary_usage))
        finally:
            self.messages = saved
            self.calls.pop()  # calls holds the reply calls only


def summarising_model(*replies: str) -> SummarisingFakeModel:
    base = fake_model(*replies)
    return SummarisingFakeModel(messages=base.messages)


class Thread:
    """A graph in the given memory mode on a real store (SQLite file or PostgreSQL URL), and one thread of it."""

    def __init__(self, db: Path | str, model: Any, *, memory: str, context_tokens: int = 100, thread: str = "t1"):
        self.db, self.model, self.memory, self.context_tokens, self.thread = db, model, memory, context_tokens, thread

    async def __aenter__(self) -> ChatThread:
        self._cm = open_checkpointer(str(self.db))
        saver = await self._cm.__aenter__()
        app = build_graph(
            self.model, saver, default_system=SYSTEM, context_tokens=self.context_tokens, memory=self.memory
        )
        return ChatThread(Backend(app), self.thread, Settings(), context_tokens=self.context_tokens)

    async def __aexit__(self, *exc: Any) -> None:
        await self._cm.__aexit__(*exc)


def question(i: int) -> str:
    return f"Please remember fact{i}: the box number {i} holds {i * 7} red marbles and one blue stone."


def reply(i: int) -> str:
    return f"Noted: box {i} has {i * 7} red marbles."


async def converse(conv: ChatThread, turns: range, streamed: list[str]) -> list[TurnResult]:
    results = []
    for i in turns:
        pieces: list[str] = []
        conv.listener = Tokens(pieces.append)
        results.append(await conv.send(question(i)))
        streamed.append("".join(pieces))
    return results


def sent_parts(call: list[BaseMessage]) -> tuple[list[SystemMessage], HumanMessage | None, list[BaseMessage]]:
    """A request's leading system messages, the summary after them (a user message that says what it is; None
    without one), and the conversation messages after those."""
    n = 0
    while n < len(call) and isinstance(call[n], SystemMessage):
        n += 1
    rest = list(call[n:])
    if rest and isinstance(rest[0], HumanMessage) and rest[0].text.startswith(SUMMARY_PREFIX):
        return list(call[:n]), rest[0], rest[1:]
    return list(call[:n]), None, rest


# --------------------------------------------------------------------------- summary mode


async def test_summary_mode_folds_dropped_turns_into_a_summary_sent_in_their_place(tmp_path, storage):
    turns = 10
    model = summarising_model(*(reply(i) for i in range(turns)))
    streamed: list[str] = []

    async def go():
        async with Thread(storage.db(tmp_path / "c.db"), model, memory="summary") as conv:
            results = await converse(conv, range(turns), streamed)
            state = await conv.app.aget_state(conv.config)
            return results, state

    results, state = await go()

    # The summariser's text never reaches the reply stream: each turn streamed its reply only.
    assert streamed == [reply(i) for i in range(turns)]
    assert [r.text for r in results] == [reply(i) for i in range(turns)]
    assert all(r.interrupted is None for r in results)

    # The stored history stays whole.
    history = state.values["messages"]
    assert [m.content for m in history] == [text for i in range(turns) for text in (question(i), reply(i))]

    assert model.summary_calls, "with 10 turns and a 100-token budget, older turns were summarised"
    # Each summariser call gets the newly dropped turns (plus the current summary): the dropped
    # turns' text reached it, in full, and every fact is folded in once (incremental).
    folded: list[str] = []
    for call in model.summary_calls:
        prompt = call[-1].text
        current, new = prompt.split("New part of the conversation:", 1)
        new_facts = FACT.findall(new)
        assert new_facts, prompt
        for fact in dict.fromkeys(new_facts):
            i = int(fact[4:])
            assert f"User: {question(i)}" in new and f"Assistant: {reply(i)}" in new
        assert not set(new_facts) & set(folded), "a turn is summarised once"
        assert set(FACT.findall(current)) == set(folded), "the current summary is passed along"
        folded += list(dict.fromkeys(new_facts))
    assert folded == [f"fact{i}" for i in range(len(folded))], "the oldest turns are folded first"

    # The latest request: system prompt, the summary in place of the dropped turns (as context, in a user message:
    # the system prompt is the only system message), then a tail.
    systems, summary, tail = sent_parts(model.calls[-1])
    assert [m.content for m in systems] == [SYSTEM]
    assert summary is not None
    summary_text = summary.text
    assert "fact0" in summary_text, "a fact from the first (dropped) turn reached the request"
    assert isinstance(tail[0], HumanMessage) and tail[-1].content == question(turns - 1)
    assert [m.content for m in tail] == [m.content for m in history[len(history) - 1 - len(tail) : -1]]
    # Nothing lost: every turn is either in the summary or sent as it is.
    sent_facts = set(FACT.findall(" ".join(m.text for m in tail)))
    assert set(FACT.findall(summary_text)) | sent_facts == {f"fact{i}" for i in range(turns)}
    assert count_tokens_approximately(model.calls[-1]) <= 100

    # The summary is kept in the thread's state, with the last message it covers.
    assert state.values["summary"] == summary_text[len(SUMMARY_PREFIX) :]
    through = state.values["summary_through"]
    index = [m.id for m in history].index(through)
    assert f"fact{index // 2}" in state.values["summary"]
    assert history[index + 1].content == tail[0].content, "the summary covers exactly what is not sent"


def test_summary_persists_and_a_thread_continues_from_it(tmp_path, storage):
    db = storage.db(tmp_path / "c.db")
    first = summarising_model(*(reply(i) for i in range(6)))
    second = summarising_model(*(reply(i) for i in range(6, 9)))

    async def go(model: SummarisingFakeModel, turns: range):
        async with Thread(db, model, memory="summary") as conv:
            await converse(conv, turns, [])
            return (await conv.app.aget_state(conv.config)).values

    before = asyncio.run(go(first, range(6)))
    after = asyncio.run(go(second, range(6, 9)))
    assert before["summary"]
    # The new process folds only turns the old summary does not cover, starting from it.
    for call in second.summary_calls:
        current, new = call[-1].text.split("New part of the conversation:", 1)
        assert "fact0" in current and "fact0" not in new
    _, summary, _ = sent_parts(second.calls[-1])
    assert summary is not None and "fact0" in summary.text
    assert len(after["messages"]) == 18


async def test_summary_mode_makes_no_summary_while_everything_fits(tmp_path, storage):
    model = summarising_model("short")

    async def go():
        async with Thread(storage.db(tmp_path / "c.db"), model, memory="summary", context_tokens=6000) as conv:
            await converse(conv, range(4), [])
            return (await conv.app.aget_state(conv.config)).values

    values = await go()
    assert model.summary_calls == []
    assert not values.get("summary")
    systems, summary, tail = sent_parts(model.calls[-1])
    assert [m.content for m in systems] == [SYSTEM] and summary is None
    assert len(tail) == 7


async def test_summariser_usage_is_kept_on_the_reply(tmp_path, storage):
    model = summarising_model(*(reply(i) for i in range(8)))
    model.summary_usage = {"input_tokens": 50, "output_tokens": 5, "total_tokens": 55}

    async def go():
        async with Thread(storage.db(tmp_path / "c.db"), model, memory="summary") as conv:
            await converse(conv, range(8), [])
            return await conv.messages()

    history = await go()
    kept = [m.response_metadata[SUMMARY_USAGE] for m in history if SUMMARY_USAGE in m.response_metadata]
    assert kept and sum(u["input_tokens"] for u in kept) == 50 * len(model.summary_calls)


# --------------------------------------------------------------------------- trim mode


async def test_trim_mode_is_unchanged(tmp_path, storage):
    turns = 10
    model = summarising_model(*(reply(i) for i in range(turns)))

    async def go():
        async with Thread(storage.db(tmp_path / "c.db"), model, memory="trim") as conv:
            await converse(conv, range(turns), [])
            return (await conv.app.aget_state(conv.config)).values

    values = await go()
    assert model.summary_calls == []
    assert not values.get("summary")
    history = values["messages"]
    assert len(history) == 2 * turns
    for n, call in enumerate(model.calls):
        # Exactly what select_history keeps of the history as it stood at that turn.
        expected = select_history(SystemMessage(SYSTEM), history[: 2 * n + 1], 100)
        assert [(type(m), m.content) for m in call] == [(type(m), m.content) for m in expected]
    systems, summary, _ = sent_parts(model.calls[-1])
    assert len(systems) == 1 and summary is None


def test_a_summary_the_thread_has_is_sent_whatever_the_memory(tmp_path, storage):
    """A thread summarised before (a --memory summary thread, or /compact) keeps its summary in trim mode too:
    the turns it covers reach the model through it, none is silently dropped, and trim makes no summary."""
    db = storage.db(tmp_path / "c.db")
    summarising = summarising_model(*(reply(i) for i in range(8)))
    trimming = summarising_model("ok")

    async def go(model: Any, memory: str, turns: range) -> Any:
        async with Thread(db, model, memory=memory) as conv:
            return (await converse(conv, turns, []))[-1]

    asyncio.run(go(summarising, "summary", range(8)))
    last = asyncio.run(go(trimming, "trim", range(8, 9)))
    assert trimming.summary_calls == []
    systems, summary, tail = sent_parts(trimming.calls[-1])
    assert [m.content for m in systems] == [SYSTEM] and summary is not None
    sent_facts = set(FACT.findall(summary.text + " ".join(m.text for m in tail)))
    assert "fact0" in sent_facts, "the oldest turn reaches the model through the summary"
    # What the summary does not cover is trimmed as trim does, and said: nothing goes unaccounted for.
    assert len({f"fact{i}" for i in range(8)} - sent_facts) == last.turns_left_out


# --------------------------------------------------------------------------- usage


async def test_prompt_estimate_reaches_the_result_and_the_stored_reply(tmp_path, storage):
    model = fake_model("an answer")

    async def go():
        async with Thread(storage.db(tmp_path / "c.db"), model, memory="trim", context_tokens=6000) as conv:
            result = await conv.send("how big is this request?")
            return result, await conv.messages()

    result, history = await go()
    expected = count_tokens_approximately(model.calls[-1])
    assert result.prompt_tokens_est == expected
    assert result.context_tokens == 6000
    assert history[-1].response_metadata[PROMPT_ESTIMATE] == expected


def test_usage_line_shows_counts_and_the_share_of_the_budget():
    served = TurnResult(
        "x", usage={"input_tokens": 812, "output_tokens": 64}, context_tokens=6000, prompt_tokens_est=700
    )
    assert usage_line(served) == "812 in · 64 out · context 14% of 6,000"
    estimated = TurnResult("x", usage=None, context_tokens=6000, prompt_tokens_est=1500)
    assert usage_line(estimated) == "~1,500 in · context ~25% of 6,000"
    assert usage_line(TurnResult("x")) is None


# --------------------------------------------------------------------------- through the real CLI


def test_cli_summary_memory_sends_the_summary_in_place_of_dropped_turns(server, chat_env):
    def summarise_or_echo(messages: list[dict]) -> str:
        if messages[0]["content"].startswith("You keep a running summary"):
            return "SUMMARY " + " ".join(dict.fromkeys(FACT.findall(messages[-1]["content"])))
        return echo_reply([m for m in messages if not str(m["content"]).startswith(SUMMARY_PREFIX)])

    server.default_reply = summarise_or_echo
    # The questions ask to remember, which would offer the remember tool, whose schema takes its share of the
    # 150 tokens (their JSON, four characters a token): kept out, so the turns alone share the budget.
    env = {**chat_env, "CHATCLI_CONTEXT_TOKENS": "150", "CHATCLI_MEMORY": "summary", "CHATCLI_MEMORIES": "false"}
    for i in range(6):
        if i == 5:
            env.pop("CHATCLI_MEMORY")  # the flag does the same
        args = ["-t", "mem", question(i)] + (["--memory", "summary"] if i == 5 else [])
        run = chat(env, *args)  # the fake server echoes: "You said: <question> (earlier: ...)"
        assert run.code == 0, run
        # stdout holds the reply only, never the summariser's answer.
        assert run.out.startswith(f"You said: {question(i)}") and run.out.count("You said") == 1, run
        assert "SUMMARY" not in run.out + run.err, run

    summariser = [r for r in server.requests if r["messages"][0]["content"].startswith("You keep a running summary")]
    assert summariser, "older turns were summarised"
    assert "fact0" in summariser[0]["messages"][-1]["content"]
    last = server.requests[-1]["messages"]
    assert last[0] == {"role": "system", "content": DEFAULT_SYSTEM}
    assert last[1]["role"] == "user" and last[1]["content"].startswith(SUMMARY_PREFIX), "context, not instructions"
    assert "fact0" in last[1]["content"], "the dropped first turn reaches the model through the summary"
    # ...and the thread's first question is sent whole beside it, as every compaction keeps it.
    assert last[2] == {"role": "user", "content": question(0)}
    assert "fact1" not in " ".join(m["content"] for m in last[2:])
    assert last[-1] == {"role": "user", "content": question(5)}

    export = chat(chat_env, "export", "mem", "--format", "json")
    assert export.code == 0, export
    records = json.loads(export.out)["messages"]
    assert [r["role"] for r in records] == ["user", "assistant"] * 6, "the stored history is whole"
    assert [r["content"] for r in records[::2]] == [question(i) for i in range(6)]


async def test_stored_reply_keeps_the_servers_usage(server, tmp_path, storage):
    from chatcli.config import Settings
    from tests.helpers import a_thread

    settings = Settings(
        model="gpt-fake", base_url=server.base_url, db=storage.db(tmp_path / "u.db"), timeout=5, max_retries=0
    )
    server.queue(Reply("one two three"))

    async def go():
        async with a_thread(settings, "u") as conv:
            result = await conv.send("count for me please")
            return result, await conv.messages()

    result, history = await go()
    words = sum(len(m["content"].split()) for m in server.requests[-1]["messages"])
    assert result.usage["input_tokens"] == words and result.usage["output_tokens"] == 3
    assert result.model == "gpt-fake"
    stored = history[-1]
    assert stored.usage_metadata["input_tokens"] == words
    assert stored.usage_metadata["output_tokens"] == 3
    assert stored.response_metadata[PROMPT_ESTIMATE] == result.prompt_tokens_est > 0
