"""Streaming one run of the graph: the reply's text, tool events, approvals, and what is kept when it stops."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable


def incomplete_reason(result: "TurnResult") -> str | None:
    """Why a reply that streamed to its end is still not a whole answer, or None."""
    if result.finish_reason is None:
        return "truncated"  # the stream ended without saying why: a cut the server hid
    if result.finish_reason in ("length", "content_filter"):
        return result.finish_reason
    if not result.text.strip():
        return "empty"
    return None


@dataclass
class TurnResult:
    """What one turn produced: the reply text and what is known about how it ended."""

    text: str
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    # Why the reply is not a whole answer: "cancelled", "error", "truncated" (no finish reason),
    # "length" (the model's output limit), "content_filter", or "empty" (no text at all);
    # None when complete.
    interrupted: str | None = None
    # The model that answered, as the server named it (None if it did not say).
    model: str | None = None
    # Estimated tokens of what was sent (system prompt, summary, history, question), and the budget.
    prompt_tokens_est: int | None = None
    context_tokens: int | None = None
    # Earlier questions (with their answers) the budget left out of the request.
    turns_left_out: int = 0
    # What a reasoning model thought before (or between) its answers; "" if it said nothing of it.
    reasoning: str = ""


class Turns:
    """What a conversation does while a turn runs (mixed into chatcli.chat.conversation.Conversation).

    Uses the conversation's ``app``, ``config``, ``context_tokens``, ``stall_timeout``,
    ``toolbox``, ``approve`` and ``on_event``.
    """

    app: Any
    context_tokens: int | None
    stall_timeout: float | None
    approve: Callable[[list[dict[str, Any]]], Awaitable[dict[str, Any]]] | None
    on_event: Callable[[dict[str, Any]], None] | None
    toolbox: Any  # None: the graph has no tools step, so no run ever waits for approval

    @property
    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    async def messages(self) -> list[Any]:
        raise NotImplementedError

    async def pending_calls(self) -> list[dict[str, Any]]:
        """The tool calls this thread is waiting to have approved (asked before chat stopped), if any."""
        state = await self.app.aget_state(self.config)
        for pending in state.interrupts:
            value = pending.value
            if isinstance(value, dict) and value.get("calls"):
                return list(value["calls"])
        return []

    async def _stream(self, payload: Any, config: dict[str, Any], on_token: Callable[[str], None]) -> TurnResult:
        """Run the graph from ``config`` (a new message, or None to resume) and stream the reply.

        Shared by a turn and a retry; the thread's head is where a stopped reply is kept. Tool
        calls that need approval stop the run (a LangGraph interrupt): ``approve`` is asked and
        the run resumed with its answer, as often as the model calls tools.
        """
        from langgraph.types import Command

        result = TurnResult(text="", context_tokens=self.context_tokens)
        progress = _Progress()
        try:
            while True:
                await self._run(payload, config, on_token, result, progress)
                calls = await self.pending_calls() if self.toolbox is not None else []
                if not calls:
                    break
                decisions = await self._decide(calls)
                payload, config = Command(resume=decisions), self.config
        except asyncio.CancelledError:
            await asyncio.shield(self._keep_partial(progress.current(), "cancelled", progress.done, progress.thought()))
            raise
        except Exception:
            await asyncio.shield(self._keep_partial(progress.current(), "error", progress.done, progress.thought()))
            raise
        result.text = "".join(progress.parts)
        result.reasoning = "".join(progress.reasoning)
        result.interrupted = incomplete_reason(result)
        if result.interrupted:
            await self._mark_last_reply(result.interrupted)
        return result

    async def _decide(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        """The user's answer about ``calls``; with nobody to ask, each is refused."""
        from chatcli.chat.toolcalls import NO_TERMINAL

        if self.approve is None:
            return {call["id"]: {"action": "no", "by": NO_TERMINAL} for call in calls}
        return await self.approve(calls)

    async def _run(self, payload: Any, config: dict[str, Any], on_token: Callable[[str], None], result: TurnResult, progress: "_Progress") -> None:
        """One run of the graph until it ends or waits for approval: text to ``on_token``, tool events on."""
        from langchain_core.messages import AIMessageChunk

        from chatcli.chat.graph import MODEL_NODE, PROMPT_ESTIMATE, SUMMARY_TAG, TURNS_LEFT_OUT
        from chatcli.chat.history import _add_usage
        from chatcli.chat.thinking import REASONING_KEY
        from chatcli.chat.toolcalls import result_message

        loop = asyncio.get_running_loop()
        # A stall: once the reply has begun, no text for longer than stall_timeout (a server
        # that sends SSE keep-alive comments forever never trips the HTTP read timeout).
        async with asyncio.timeout(None) as stall:
            async for mode, data in self.app.astream(payload, config, stream_mode=["messages", "custom"]):
                if mode == "custom":
                    if not isinstance(data, dict):
                        continue
                    stall.reschedule(None)  # a tool may take its time (it has its own limit)
                    progress.round = len(progress.parts)
                    progress.reasoning_round = len(progress.reasoning)
                    if data.get("type") == "tool_result":
                        meta = {k: data.get(k) for k in ("server", "seconds", "label", "arguments")}
                        progress.done[data["id"]] = result_message(data, data["content"], data["status"], **meta)
                    if self.on_event is not None:
                        self.on_event(data)
                    continue
                chunk, meta = data
                if meta.get("langgraph_node") != MODEL_NODE or not isinstance(chunk, AIMessageChunk):
                    continue
                if SUMMARY_TAG in (meta.get("tags") or ()):
                    continue  # the summariser's own call (memory "summary"), not the reply
                thought = chunk.additional_kwargs.get(REASONING_KEY)
                if isinstance(thought, str) and thought:
                    progress.reasoning.append(thought)
                    if self.on_event is not None:
                        self.on_event({"type": "reasoning", "text": thought})
                    if self.stall_timeout:  # thinking is progress: a long think is no stall
                        stall.reschedule(loop.time() + self.stall_timeout)
                piece = str(chunk.text)
                if piece:
                    if progress.round and progress.round == len(progress.parts):
                        progress.parts.append("\n\n")  # the answer goes on after tool calls
                        on_token("\n\n")
                    progress.parts.append(piece)
                    on_token(piece)
                if self.stall_timeout and (piece or stall.when() is None):
                    stall.reschedule(loop.time() + self.stall_timeout)
                result.usage = _add_usage(result.usage, chunk.usage_metadata)  # each model call (tool round) adds its own
                result.finish_reason = chunk.response_metadata.get("finish_reason") or result.finish_reason
                result.model = chunk.response_metadata.get("model_name") or result.model
                result.prompt_tokens_est = meta.get(PROMPT_ESTIMATE) or result.prompt_tokens_est
                result.turns_left_out = meta.get(TURNS_LEFT_OUT, result.turns_left_out)

    async def _keep_partial(self, text: str, reason: str, done: dict[str, Any] | None = None, thought: str = "") -> None:
        """Save a reply that stopped early, as the answer of the pending turn.

        Stopped during tool calls, the calls that finished keep their results and the others
        are closed as cancelled, so the thread stays valid.
        """
        from langchain_core.messages import AIMessage

        from chatcli.chat.graph import MODEL_NODE, now_iso
        from chatcli.chat.thinking import REASONING_KEY
        from chatcli.chat.toolcalls import CANCELLED, INTERRUPTED, TOOLS_NODE, closing_results, open_calls

        state = await self.app.aget_state(self.config)
        if TOOLS_NODE in state.next:
            calls = open_calls(state.values.get("messages") or [])
            closed = closing_results(calls, CANCELLED if reason == "cancelled" else INTERRUPTED, reason, done)
            if closed:
                await self.app.aupdate_state(self.config, {"messages": closed}, as_node=TOOLS_NODE)
            return
        if not text and not thought:
            return
        if MODEL_NODE not in state.next:
            return  # the model node already finished: the reply is saved as it arrived
        kept = {REASONING_KEY: thought} if thought else {}  # stopped while it thought: the thinking is the partial
        message = AIMessage(text, additional_kwargs=kept, response_metadata={"interrupted": reason, "created_at": now_iso()})
        await self.app.aupdate_state(self.config, {"messages": [message]}, as_node=MODEL_NODE)

    async def _mark_last_reply(self, reason: str) -> None:
        """Flag the saved last reply as incomplete, keeping its text and id."""
        from langchain_core.messages import AIMessage

        from chatcli.chat.graph import MODEL_NODE

        history = await self.messages()
        if not history or not isinstance(history[-1], AIMessage):
            return
        last = history[-1]
        marked = last.model_copy(update={"response_metadata": {**last.response_metadata, "interrupted": reason}})
        await self.app.aupdate_state(self.config, {"messages": [marked]}, as_node=MODEL_NODE)


@dataclass
class _Progress:
    """How far a turn got: its text so far, the results of the calls that finished."""

    parts: list[str] = field(default_factory=list)
    # parts[round:] is the text of the model call streaming now (earlier ones are stored).
    round: int = 0
    done: dict[str, Any] = field(default_factory=dict)  # results of finished calls, by call id
    reasoning: list[str] = field(default_factory=list)  # the thinking, as it arrived
    reasoning_round: int = 0

    def current(self) -> str:
        return "".join(self.parts[self.round :]).strip("\n") if self.round else "".join(self.parts)

    def thought(self) -> str:
        """The thinking of the model call streaming now."""
        return "".join(self.reasoning[self.reasoning_round :])
