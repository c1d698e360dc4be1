"""Chat's own graph as a turn's source (chatcli.core.turn): its model node's tokens, the tool calls and results
its steps emit, the approvals its tools step asks, and a stopped reply kept as the answer of its turn."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

from chatcli.core.events import Aside, Listener, ToolCall, ToolResult, TurnResult
from chatcli.core.graph_app import RunningGraph
from chatcli.core.interrupts import Pending, pending_of
from chatcli.core.turn import Config, Progress, incomplete_reason, tell_chunk, tell_usage

# A check of the stall clock this late was held up by this process (a loop's own scheduling is milliseconds late).
LATE = 0.5


class StallClock:
    """How long a reply that has begun may go without a sign of progress from its server (``limit`` seconds; None:
    for ever): entered around the stream, it ends it with TimeoutError (asyncio's ``timeout``), and nothing of it
    is left once the stream ends, whatever ended it. Progress handled before the end a check asked for reaches the
    stream takes that end back.

    Only the server's silence counts. Time this process spends holding its event loop (LangChain putting a reply
    of thousands of pieces together after its last one, a machine too busy to run chat) is chat's own: a check that
    comes late (by a tenth of the limit or ``LATE`` seconds, the less) was held up by it, and gives the server the
    whole limit again from then instead of ending the reply."""

    def __init__(self, limit: float | None) -> None:
        self._limit = limit or None
        self._timeout = asyncio.timeout(None)
        self._check: asyncio.TimerHandle | None = None
        self._due = 0.0

    async def __aenter__(self) -> "StallClock":
        await self._timeout.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
        await self._timeout.__aexit__(kind, exc, trace)  # TimeoutError in place of its cancel, if it ended the stream

    @property
    def running(self) -> bool:
        return self._check is not None

    def restart(self) -> None:
        """The reply moved on: it has the whole limit again from now."""
        self.stop()
        if self._limit is not None:
            loop = asyncio.get_running_loop()
            self._due = loop.time() + self._limit
            self._check = loop.call_at(self._due, self._expired)

    def stop(self) -> None:
        """Nothing is awaited of the server (a tool runs): no limit until the next restart."""
        if self._check is not None:
            self._check.cancel()
            self._check = None
        if self._timeout.when() is not None and not self._timeout.expired():
            self._timeout.reschedule(None)  # an end a check asked for, not delivered yet: progress came first

    def _expired(self) -> None:
        self._check = None
        if self._timeout.expired():
            return  # ending already (a check asked for it, and the stream's own clean-up outlasted the limit)
        now = asyncio.get_running_loop().time()
        if self._limit is not None and now - self._due > min(self._limit / 10, LATE):
            self.restart()  # the loop was held past the due time by this process's own work, not the server
        else:
            self._timeout.reschedule(now)


@dataclass(eq=False)
class ChatSource:
    """Chat's compiled graph ``app``; ``stall_timeout`` is how long a reply that has begun may go without text,
    thinking or a call's arguments."""

    reviews: ClassVar[bool] = False
    app: RunningGraph
    stall_timeout: float | None = None
    context_tokens: int | None = None

    async def begin(self, payload: Any, head: Config, progress: Progress) -> None:
        pass

    def pending(self, state: Any) -> list[Pending]:
        """The approval, or the tool's question, the thread waits on (asked before chat stopped, or by a
        request), if any: the tools step asks one at a time."""
        return [p for p in pending_of(state.interrupts) if p.is_approval or p.elicitation is not None][:1]

    def resumed(self, value: Any) -> Any:
        from langgraph.types import Command

        return Command(resume=value)

    def shown_as(self, call: ToolCall, progress: Progress) -> ToolCall:
        return call

    async def ended(
        self, head: Config, state: Any, result: TurnResult, waiting: list[Pending], progress: Progress
    ) -> None:
        from langchain_core.messages import AIMessage

        from chatcli.backends.own.graph import MODEL_NODE

        if waiting:
            result.waiting = [call for pending in waiting for call in pending.calls]
            result.interrupts = [pending for pending in waiting if pending.elicitation is not None]
        result.interrupted = "approval" if result.waiting else "interrupt" if result.interrupts else None
        result.interrupted = result.interrupted or incomplete_reason(result)
        last = (state.values.get("messages") or [None])[-1]
        if result.interrupted and not waiting and isinstance(last, AIMessage):  # the reply stored, marked incomplete
            said = {"response_metadata": {**last.response_metadata, "interrupted": result.interrupted}}
            await self.app.aupdate_state(head, {"messages": [last.model_copy(update=said)]}, as_node=MODEL_NODE)

    async def stream(
        self, payload: Any, config: Config, listener: Listener, result: TurnResult, progress: Progress
    ) -> None:
        """One run of the graph until it ends or waits for approval."""
        from langchain_core.messages import AIMessageChunk
        from langgraph.types import StateSnapshot as Snapshot

        from chatcli.backends.own import graph
        from chatcli.backends.own.compaction import SUMMARY_TAG
        from chatcli.backends.own.pricing import Priced
        from chatcli.backends.own.subagents import AGENT
        from chatcli.core.chunks import thinking_of

        # A stall: once the reply has begun, nothing of it for longer than stall_timeout (a server
        # that sends SSE keep-alive comments forever never trips the HTTP read timeout).
        async with StallClock(self.stall_timeout) as stall:
            streamed = self.app.astream(payload, config, stream_mode=["messages", "custom", "values"], subgraphs=True)
            async for namespace, mode, data in streamed:  # (a namespace: a subagent's run, own.subagents)
                if mode == "values":  # the thread's state after each step, then as it waits: what the turn ends at
                    if not namespace and not (progress.ended and progress.ended.interrupts):
                        progress.ended = Snapshot(data, (), {}, None, None, None, (), data.pop("__interrupt__", ()))
                    continue
                if mode == "custom":  # what the model and tools steps emit
                    if isinstance(data, Priced):  # a model call's cost: the result's, not an event
                        result.add_cost(data.usd, data.model, data.local)
                    elif isinstance(data, graph.CallEnded):  # the server has said all: what follows is ours
                        stall.stop()
                    else:  # chat's events (chatcli.core.events)
                        if isinstance(data, (ToolCall, ToolResult)):
                            stall.stop()  # a tool may take its time (it has its own limit)
                            progress.next_round()
                            if isinstance(data, ToolResult):
                                progress.done[data.call.id] = data.message
                        listener.hear(data)
                    continue
                chunk, meta = data
                if meta.get("langgraph_node") != graph.MODEL_NODE or not isinstance(chunk, AIMessageChunk):
                    continue
                if SUMMARY_TAG in (meta.get("tags") or ()):
                    continue  # the summariser's own call (memory "summary"), not the reply
                if namespace:  # a subagent's words: its own, not the answer's; its tokens the answer's
                    thought, piece = thinking_of(chunk), str(chunk.text)
                    if thought or piece:
                        listener.hear(Aside(str(meta.get(AGENT) or "/".join(namespace)), thought + piece))
                    tell_usage(chunk, listener, result)
                else:
                    thought, piece = tell_chunk(chunk, listener, result, progress)
                if thought or piece or chunk.tool_call_chunks or not stall.running:
                    # Thinking and a call's arguments are progress too (a long think, a long call written out: no
                    # stall); the clock starts with the reply. It runs until the model's call has returned
                    # (CallEnded), not its "last" chunk: a provider may call a chunk its last before its server has
                    # closed the reply (Anthropic's message_delta).
                    stall.restart()
                if namespace:
                    continue
                result.prompt_tokens_est = meta.get(graph.PROMPT_ESTIMATE) or result.prompt_tokens_est
                result.turns_left_out = meta.get(graph.TURNS_LEFT_OUT, result.turns_left_out)
                result.turns_compacted = meta.get(graph.TURNS_COMPACTED, result.turns_compacted)
                result.memories = list(dict.fromkeys([*result.memories, *(meta.get(graph.MEMORIES) or ())]))

    async def keep(self, head: Config, progress: Progress, reason: str) -> None:
        """Save a reply that stopped early, as the answer of the pending turn.

        Stopped during tool calls, the calls that finished keep their results and the others
        are closed as cancelled, so the thread stays valid.
        """
        from langchain_core.messages import AIMessage

        from chatcli.backends.own.graph import MODEL_NODE
        from chatcli.backends.own.request_history import now_iso
        from chatcli.backends.own.toolcalls import CANCELLED, INTERRUPTED, TOOLS_NODE, closing_results, open_calls
        from chatcli.providers.base import REASONING_KEY

        state = await self.app.aget_state(head)
        if TOOLS_NODE in state.next:
            calls = open_calls(state.values.get("messages") or [])
            closed = closing_results(calls, CANCELLED if reason == "cancelled" else INTERRUPTED, reason, progress.done)
            if closed:
                await self.app.aupdate_state(head, {"messages": closed}, as_node=TOOLS_NODE)
            return
        text, thought = progress.current(), progress.thought()
        if not text and not thought:
            return
        if MODEL_NODE not in state.next:
            return  # the model node already finished: the reply is saved as it arrived
        kept = {REASONING_KEY: thought} if thought else {}  # stopped while it thought: the thinking is the partial
        said = {"interrupted": reason, "created_at": now_iso()}
        message = AIMessage(text, additional_kwargs=kept, response_metadata=said)
        await self.app.aupdate_state(head, {"messages": [message]}, as_node=MODEL_NODE)
