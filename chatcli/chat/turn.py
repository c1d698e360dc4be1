"""One run of the graph for a turn: the events it emits, the approvals it asks, what is kept when it stops."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from chatcli.chat.events import Decision, End, Listener, Start, Thinking, Token, ToolCall, ToolResult, TurnResult, Usage
from chatcli.chat.interrupts import Pending, approval_answer
from chatcli.chat.toolrun import where_it_runs


def incomplete_reason(result: TurnResult) -> str | None:
    """Why a reply that streamed to its end is still not a whole answer, or None."""
    if result.finish_reason is None:
        return "truncated"  # the stream ended without saying why: a cut the server hid
    if result.finish_reason in ("length", "content_filter"):
        return result.finish_reason
    if not result.text.strip():
        return "empty"
    return None


class TurnRunner:
    """Runs a thread's turns on the compiled graph and tells a listener what happens (chatcli.chat.events).

    ``toolbox`` is None when the graph has no tools step (no run then waits for approval);
    ``stall_timeout`` is how long a reply that has begun may go without text; ``last`` is the
    result of the latest turn, partial when it stopped or failed.
    """

    def __init__(
        self, app: Any, toolbox: Any = None, stall_timeout: float | None = None, context_tokens: int | None = None
    ):
        self.app = app
        self.toolbox = toolbox
        self.stall_timeout = stall_timeout
        self.context_tokens = context_tokens
        self.last: TurnResult | None = None

    async def approval(self, head: dict[str, Any]) -> Pending | None:
        """The approval the thread at ``head`` waits on (asked before chat stopped, or by a request), if any."""
        from chatcli.chat.interrupts import pending_of

        state = await self.app.aget_state(head)
        return next((p for p in pending_of(state.interrupts) if p.is_approval), None)

    async def pending_calls(self, head: dict[str, Any]) -> list[ToolCall]:
        """The tool calls the thread at ``head`` waits to have approved, if any."""
        pending = await self.approval(head)
        return list(pending.calls) if pending is not None else []

    async def run(self, start: dict[str, Any], head: dict[str, Any], listener: Listener, opening: Start) -> TurnResult:
        """Run the graph from ``start`` (a checkpoint's config) on to the answer, and stream it to ``listener``.

        ``head`` is the thread's own config, where a stopped reply is kept. Tool calls that need
        approval stop the run (a LangGraph interrupt): the listener is asked, and the run resumed
        with its answers, as often as the model calls tools. ``End`` is emitted however it ends.
        """
        from langgraph.types import Command

        result = TurnResult(text="", context_tokens=self.context_tokens)
        progress = _Progress()
        self.last = result
        payload: Any = None
        listener.hear(opening)
        try:
            while True:
                await self._run(payload, start, listener, result, progress)
                pending = await self.approval(head) if self.toolbox is not None else None
                if pending is None:
                    break
                decisions = await self._decide(list(pending.calls), listener)
                if decisions is None:  # answered later: the thread waits at the question
                    result.waiting = list(pending.calls)
                    break
                payload, start = Command(resume=approval_answer(pending, decisions)), head
        except BaseException as exc:
            await self._ended_early(
                exc, result, progress, listener, lambda why: self._keep_partial(head, progress, why)
            )
            raise
        result.text = "".join(progress.parts)
        result.reasoning = "".join(progress.reasoning)
        result.interrupted = "approval" if result.waiting else incomplete_reason(result)
        if result.interrupted and not result.waiting:
            await self._mark_last_reply(head, result.interrupted)
        listener.hear(End(result))
        return result

    async def _decide(self, calls: list[ToolCall], listener: Listener) -> list[Decision] | None:
        """The decisions about ``calls``, asked one by one: "always" holds for the rest of the batch, "q"
        refuses it; None when the listener answers later."""
        from chatcli.chat.toolcalls import REFUSED_REST

        decisions: list[Decision] = []
        for call in calls:
            entry = self.toolbox.find(call.name, call.id)
            if entry is not None and self.toolbox.preapproved(entry, call.arguments):
                decisions.append(Decision("yes"))  # "always" was chosen for an earlier call
                continue
            decision = await listener.approve(where_it_runs(call, entry))
            if decision.action == "later":
                return None
            if decision.rest:
                return decisions + [Decision("no", by=REFUSED_REST)] * (len(calls) - len(decisions))
            if decision.always and decision.action == "yes" and entry is not None:
                self.toolbox.allow(entry)
            decisions.append(decision)
        return decisions

    async def _ended_early(
        self, exc: BaseException, result: TurnResult, progress: Any, listener: Listener, keep: Any
    ) -> None:
        """The turn stopped before its end (a failure, Ctrl-C): the result holds what arrived, ``keep(reason)``
        saves it in the thread (shielded: a second Ctrl-C never loses it), then the end is told."""
        reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"
        result.text, result.reasoning, result.interrupted = "".join(progress.parts), "".join(progress.reasoning), reason
        if isinstance(exc, Exception | asyncio.CancelledError):
            await asyncio.shield(keep(reason))
            listener.hear(End(result))

    async def _run(
        self, payload: Any, config: dict[str, Any], listener: Listener, result: TurnResult, progress: _Progress
    ) -> None:
        """One run of the graph until it ends or waits for approval."""
        from langchain_core.messages import AIMessageChunk

        from chatcli.chat.chunks import finish_of, thinking_of
        from chatcli.chat.graph import MODEL_NODE, PROMPT_ESTIMATE, TURNS_LEFT_OUT
        from chatcli.chat.pricing import Priced
        from chatcli.chat.request_history import add_usage
        from chatcli.chat.summary import SUMMARY_TAG

        loop = asyncio.get_running_loop()
        # A stall: once the reply has begun, no text for longer than stall_timeout (a server
        # that sends SSE keep-alive comments forever never trips the HTTP read timeout).
        async with asyncio.timeout(None) as stall:
            async for mode, data in self.app.astream(payload, config, stream_mode=["messages", "custom"]):
                if mode == "custom" and isinstance(data, Priced):  # a model call's cost: the result's, not an event
                    result.add_cost(data.usd, data.model, data.local)
                    continue
                if mode == "custom":  # what the model and tools steps emit (chatcli.chat.events)
                    if isinstance(data, (ToolCall, ToolResult)):
                        stall.reschedule(None)  # a tool may take its time (it has its own limit)
                        progress.next_round()
                        if isinstance(data, ToolResult):
                            progress.done[data.call.id] = data.message
                    listener.hear(data)
                    continue
                chunk, meta = data
                if meta.get("langgraph_node") != MODEL_NODE or not isinstance(chunk, AIMessageChunk):
                    continue
                if SUMMARY_TAG in (meta.get("tags") or ()):
                    continue  # the summariser's own call (memory "summary"), not the reply
                thought = thinking_of(chunk)
                if thought:
                    progress.reasoning.append(thought)
                    listener.hear(Thinking(thought))
                    if self.stall_timeout:  # thinking is progress: a long think is no stall
                        stall.reschedule(loop.time() + self.stall_timeout)
                piece = str(chunk.text)
                if piece:
                    if progress.round and progress.round == len(progress.parts):
                        progress.parts.append("\n\n")  # the answer goes on after tool calls
                        listener.hear(Token("\n\n"))
                    progress.parts.append(piece)
                    listener.hear(Token(piece))
                if self.stall_timeout and (piece or stall.when() is None):
                    stall.reschedule(loop.time() + self.stall_timeout)
                used = chunk.usage_metadata
                if used:  # each model call (tool round) counts its own
                    result.usage = add_usage(result.usage, used)
                    name = chunk.response_metadata.get("model_name")
                    listener.hear(
                        Usage(
                            int(used.get("input_tokens") or 0),
                            int(used.get("output_tokens") or 0),
                            int(used.get("total_tokens") or 0),
                            name,
                        )
                    )
                result.finish_reason = finish_of(chunk.response_metadata) or result.finish_reason
                result.model = chunk.response_metadata.get("model_name") or result.model
                result.prompt_tokens_est = meta.get(PROMPT_ESTIMATE) or result.prompt_tokens_est
                result.turns_left_out = meta.get(TURNS_LEFT_OUT, result.turns_left_out)

    async def _keep_partial(self, head: dict[str, Any], progress: _Progress, reason: str) -> None:
        """Save a reply that stopped early, as the answer of the pending turn.

        Stopped during tool calls, the calls that finished keep their results and the others
        are closed as cancelled, so the thread stays valid.
        """
        from langchain_core.messages import AIMessage

        from chatcli.chat.graph import MODEL_NODE
        from chatcli.chat.request_history import now_iso
        from chatcli.chat.toolcalls import CANCELLED, INTERRUPTED, TOOLS_NODE, closing_results, open_calls
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
        message = AIMessage(
            text, additional_kwargs=kept, response_metadata={"interrupted": reason, "created_at": now_iso()}
        )
        await self.app.aupdate_state(head, {"messages": [message]}, as_node=MODEL_NODE)

    async def _mark_last_reply(self, head: dict[str, Any], reason: str) -> None:
        """Flag the saved last reply as incomplete, keeping its text and id."""
        from langchain_core.messages import AIMessage

        from chatcli.chat.graph import MODEL_NODE

        state = await self.app.aget_state(head)
        history = state.values.get("messages") or []
        if not history or not isinstance(history[-1], AIMessage):
            return
        last = history[-1]
        marked = last.model_copy(update={"response_metadata": {**last.response_metadata, "interrupted": reason}})
        await self.app.aupdate_state(head, {"messages": [marked]}, as_node=MODEL_NODE)


@dataclass
class _Progress:
    """How far a turn got: its text so far, the results of the calls that finished."""

    parts: list[str] = field(default_factory=list)
    # parts[round:] is the text of the model call streaming now (earlier ones are stored).
    round: int = 0
    done: dict[str, Any] = field(default_factory=dict)  # results of finished calls (ToolMessages), by call id
    reasoning: list[str] = field(default_factory=list)  # the thinking, as it arrived
    reasoning_round: int = 0

    def next_round(self) -> None:
        """A tool step ran: what streams next belongs to the next model call."""
        self.round = len(self.parts)
        self.reasoning_round = len(self.reasoning)

    def current(self) -> str:
        return "".join(self.parts[self.round :]).strip("\n") if self.round else "".join(self.parts)

    def thought(self) -> str:
        """The thinking of the model call streaming now."""
        return "".join(self.reasoning[self.reasoning_round :])
