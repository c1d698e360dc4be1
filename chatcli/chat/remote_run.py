"""One run of a graph on a LangGraph Agent Server, streamed to a turn's listener (chatcli.chat.events).

The run streams ``messages-tuple`` (the tokens, from whichever node emits them) and ``updates`` (tool
calls and their results as the nodes store them, and the interrupts). It is created resumable and
goes on when the connection drops: the stream is rejoined (``runs.join_stream`` from the last event
seen) instead of starting the run again. Stopped (Ctrl-C), the run is cancelled on the server and the
part that arrived is kept in the thread, marked as interrupted, as chat keeps it in its own threads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping

from chatcli.chat.events import Listener, Notice, Start, Thinking, Token, ToolCall, ToolResult, TurnResult, Usage
from chatcli.chat.remote import MissingAssistant, Remote, message_text, translated
from chatcli.errors import ModelError

STREAM_MODES = ["messages-tuple", "updates"]
# Times a dropped stream is rejoined in one run (langgraph-sdk tries a few times itself first).
REJOINS = 3
# Seconds a stopped run is given to stop on the server before what arrived is kept.
CANCEL_WAIT = 5.0
INTERRUPT = "__interrupt__"


@dataclass
class Streamed:
    """What a turn's runs have shown so far: the text, and where it comes from."""

    result: TurnResult
    parts: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    message_id: str | None = None  # the AI message streaming now
    node: str | None = None  # the node it streams from
    current: list[str] = field(default_factory=list)  # that message's text so far
    calls: dict[str, ToolCall] = field(default_factory=dict)  # calls made, by id (their results follow)
    opening: Start | None = None  # the turn's Start, told once the server has taken the first run

    def open(self, listener: Listener) -> None:
        if self.opening is not None:
            listener.hear(self.opening)
            self.opening = None


class RemoteRun:
    """A run on ``thread_id`` of ``remote``'s assistant; ``stream`` runs it and returns the interrupts it stopped at."""

    def __init__(self, remote: Remote, thread_id: str, listener: Listener, streamed: Streamed):
        self.remote, self.thread_id, self.listener, self.streamed = remote, thread_id, listener, streamed
        self.run_id: str | None = None
        self.last_event: str | None = None

    async def stream(self, **request: Any) -> list[Mapping[str, Any]]:
        """Create the run (``input=`` or ``command=``) and stream it to its end; the interrupts it stopped at."""
        runs = self.remote.client.runs
        interrupts: list[Mapping[str, Any]] = []
        first = runs.stream(
            self.thread_id, self.remote.assistant_id, stream_mode=STREAM_MODES, stream_resumable=True,
            on_disconnect="continue", **request,
        )  # fmt: skip
        try:
            with translated(self.remote.spec):
                async for part in self._rejoined(first):
                    interrupts += self._hear(part.event.partition("|")[0], part.data)
        except asyncio.CancelledError:
            await asyncio.shield(self._stop())
            raise
        except MissingAssistant:
            raise await self.remote.missing() from None
        return interrupts

    async def _rejoined(self, first: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The run's events; after a dropped connection, those of the same run, joined again after the last seen."""
        import httpx

        source, rejoins = first, 0
        while True:
            try:
                async for part in source:
                    self.last_event = part.id or self.last_event
                    yield part
                return
            except httpx.TransportError:
                if self.run_id is None or rejoins == REJOINS:
                    raise
                rejoins += 1
                self.listener.hear(Notice("the connection to the server dropped: joining the run again"))
                source = self.remote.client.runs.join_stream(
                    self.thread_id, self.run_id, stream_mode=STREAM_MODES, last_event_id=self.last_event
                )

    def _hear(self, event: str, data: Any) -> list[Mapping[str, Any]]:
        """One event of the run: told to the listener; the interrupts it carries returned."""
        if event == "metadata" and isinstance(data, dict):
            self.run_id = data.get("run_id") or self.run_id
            self.streamed.open(self.listener)
        elif event == "messages" and isinstance(data, list) and len(data) == 2:
            self._message(data[0], data[1] or {})
        elif event == "updates" and isinstance(data, dict):
            for node, update in data.items():
                if node == INTERRUPT:
                    return [i for i in update if isinstance(i, dict)] if isinstance(update, list) else []
                self._stored(update)
        elif event == "error":
            said = data if isinstance(data, dict) else {"message": str(data)}
            what = ": ".join(str(said[k]) for k in ("error", "message") if said.get(k))
            raise ModelError(f"the graph failed on the server: {what or 'no reason given'}")
        return []

    def _message(self, message: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        """A streamed piece of a message: an AI message's text and thinking are shown, the rest is not."""
        from chatcli.chat.request_history import add_usage
        from chatcli.chat.thinking import REASONING_KEY

        if message.get("type") not in ("ai", "AIMessageChunk"):
            return
        shown, result = self.streamed, self.streamed.result
        thought = (message.get("additional_kwargs") or {}).get(REASONING_KEY)
        blocks = message.get("content") if isinstance(message.get("content"), list) else []
        thought = (thought if isinstance(thought, str) else "") + "".join(
            str(b.get("thinking") or b.get("reasoning") or "") for b in blocks if isinstance(b, dict)
        )
        if thought:
            shown.reasoning.append(thought)
            self.listener.hear(Thinking(thought))
        piece = message_text(message)
        if piece:
            if message.get("id") != shown.message_id:
                if shown.parts:
                    self._say("\n\n")  # another message: a paragraph of its own
                shown.message_id, shown.node, shown.current = message.get("id"), meta.get("langgraph_node"), []
            shown.current.append(piece)
            self._say(piece)
        used = message.get("usage_metadata")
        if isinstance(used, dict) and used:
            result.usage = add_usage(result.usage, used)
            counts = [int(used.get(k) or 0) for k in ("input_tokens", "output_tokens", "total_tokens")]
            self.listener.hear(Usage(*counts, (message.get("response_metadata") or {}).get("model_name")))
        said = message.get("response_metadata") or {}
        result.finish_reason = said.get("finish_reason") or result.finish_reason
        result.model = said.get("model_name") or result.model

    def _say(self, text: str) -> None:
        self.streamed.parts.append(text)
        self.listener.hear(Token(text))

    def _stored(self, update: Any) -> None:
        """A node's update: the tool calls of its AI messages, then the results of its tool messages."""
        messages = update.get("messages") if isinstance(update, dict) else None
        for message in messages if isinstance(messages, list) else [messages]:
            if not isinstance(message, dict):
                continue
            if message.get("type") == "ai":
                for call in message.get("tool_calls") or []:
                    name = str(call.get("name") or "?")
                    self.streamed.calls[str(call.get("id"))] = ToolCall(
                        str(call.get("id")), name, name, None, call.get("args")
                    )
            elif message.get("type") == "tool":
                key = str(message.get("tool_call_id"))
                name = str(message.get("name") or "tool")
                call = self.streamed.calls.pop(key, None) or ToolCall(key, name, name, None, {})
                status = "error" if message.get("status") == "error" else "ok"
                self.listener.hear(call)
                self.listener.hear(ToolResult(call, status, message_text(message)))

    async def _stop(self) -> None:
        """Cancel the run on the server, then keep what it streamed in the thread, marked as interrupted."""
        if self.run_id is None:
            return
        runs, shown = self.remote.client.runs, self.streamed
        try:
            async with asyncio.timeout(CANCEL_WAIT):
                await runs.cancel(self.thread_id, self.run_id, wait=True, action="interrupt")
                text = "".join(shown.current)
                if text and shown.node:
                    kept = {"type": "ai", "content": text, "id": shown.message_id}
                    kept["response_metadata"] = {"interrupted": "cancelled"}
                    await self.remote.client.threads.update_state(
                        self.thread_id, {"messages": [kept]}, as_node=shown.node
                    )
        except Exception:  # noqa: BLE001 - stopping goes on: what arrived is on the screen, the server may be gone
            pass
