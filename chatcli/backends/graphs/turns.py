"""One turn on a graph that is not chat's own (``chat --graph``, a deployed graph): its AI messages' tokens from
whichever node emits them, its tool calls and results, and its interrupts asked of the listener; each model
call's token counts (``usage_metadata``) summed into the turn's usage and priced as chat prices its own
(chatcli.backends.own.pricing).

The graph is any compiled LangGraph app (its ``astream``, ``aget_state`` and ``aupdate_state``). It is
streamed in LangGraph's "messages" mode (tokens, and the messages a node returns whole) and "updates" mode
(what each node returned: the calls an AI message asks for, the tool messages that answer them), from its
subgraphs too. An interrupt stops the run: an approval in LangChain's human-in-the-loop shape gets chat's
approval question (``Listener.approve`` with its ``Review``), any other value ``Listener.answer``; the
graph is resumed with ``Command(resume=...)`` (chatcli.core.interrupts), as often as it asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any, ClassVar, cast

from chatcli.backends.graphs.messages import as_message, messages_of, speaking_nodes
from chatcli.core.chunks import add_usage
from chatcli.core.events import Aside, Listener, Notice, Speaker, ToolCall, ToolResult, TurnResult
from chatcli.core.graph_app import GraphApp, RunningGraph
from chatcli.core.interrupts import Pending, pending_of
from chatcli.core.turn import Config, Progress, tell_chunk, tell_usage

if TYPE_CHECKING:
    from chatcli.backends.own.spending import Guard

# Seconds a stopped turn's kept reply may take to be written (a server that is gone keeps the question alone).
KEEP_WAIT = 5.0
# An answer's metadata: the token counts of the model calls its turn's subgraphs made (subagents), kept in no message
# of the thread (chat stats counts them: chatcli.threads.spending).
SUBGRAPH_USAGE = "chatcli_subgraph_usage"


def _fresh(chunk: Any, whole: set[str]) -> Any:
    """A token (or a whole AI message a node returned) of the "messages" stream as LangChain's, None when it is no
    AI message (tool results are told from the updates; a human message is the user's own) or a whole one told
    already."""
    from langchain_core.messages import AIMessage, AIMessageChunk

    chunk = as_message(chunk)
    if not isinstance(chunk, AIMessage) or (not isinstance(chunk, AIMessageChunk) and chunk.id in whole):
        return None
    if not isinstance(chunk, AIMessageChunk):
        whole.add(chunk.id or "")
    return chunk


def _shown(call: Any) -> ToolCall:
    """A call of the graph's AI message as chat shows one (no server, its name its label)."""
    return ToolCall(call.get("id") or "", call["name"], call["name"], None, call.get("args") or {})


def _thread_of(config: Config) -> str:
    return str((config.get("configurable") or {}).get("thread_id") or "")


def _last_reply(state: Any) -> Any:
    """The last AI message of a thread's ``state`` (None: it has none)."""
    from langchain_core.messages import AIMessage

    messages = [as_message(m) for m in (state.values or {}).get("messages") or []]
    return next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)


def _last_calls(state: Any) -> list[Any]:
    """The calls of the last AI message of a thread's ``state`` (those a resumed run answers)."""
    return list(getattr(_last_reply(state), "tool_calls", None) or [])


class GraphSource:
    """A graph of the user's as a turn's source (chatcli.core.turn). A node's name is said (``Speaker``) before
    its text when the graph has several nodes that may speak (not its tool nodes), or once more than one node
    has spoken in the session."""

    reviews: ClassVar[bool] = True
    context_tokens: int | None = None  # the graph keeps its own history

    def __init__(self, app: GraphApp, pricer: Any = None, guard: "Guard | None" = None):
        self.app = app
        self.pricer = pricer  # a chatcli.backends.own.pricing.Pricer: each model call's cost, as chat's own are priced
        # The spending limits (chatcli.backends.own.spending): each LangChain chat model call the graph makes, held
        # before it is sent and watched as it streams, as chat's own graph's are; None: no limit is set.
        self.guard = guard
        self.speakers: list[str] = []  # the nodes that have spoken, in order
        self.many = len(speaking_nodes(app)) > 1  # several nodes may speak: each one's text is named
        self._speaking: str | None = None
        self._calls: dict[str, ToolCall] = {}  # the calls the turn's AI messages asked for, by id
        self._asked_at: dict[str, float] = {}  # when each was asked for (or its run resumed): its result's seconds
        self._progress = Progress()
        self._models: dict[str, str] = {}  # the model each streamed AI message's call named, by its id
        self._asides: dict[str, Any] | None = None  # the turn's subgraphs' token counts
        self._whole: set[str] = set()  # the run's AI messages whose text was told (streamed, or returned whole)

    async def begin(self, payload: Any, head: Config, progress: Progress) -> None:
        self._speaking, self._calls, self._asked_at, self._progress, self._asides = None, {}, {}, progress, None
        if self.guard is not None and isinstance(payload, dict):  # a question: its answer's limit starts again
            await self.guard.new_question(_thread_of(head))
        if not isinstance(payload, dict):  # resumed: the calls it goes on with were asked for before
            for call in map(_shown, _last_calls(progress.ended or await self.app.aget_state(head))):
                self._asked_at[call.id] = time.monotonic()
                self._calls[call.id] = call

    def pending(self, state: Any) -> list[Pending]:
        """The interrupts the thread waits on in ``state``; a call an approval names without an id is named as the
        model's message names it (as the turn shows it), so an answer given ahead (chat inbox answer, a request)
        finds the call it answers by the id every door shows."""
        from dataclasses import replace

        found = pending_of(getattr(state, "interrupts", ()) or ())
        asked = [c for c in _last_calls(state) if c.get("id")]

        def named(call: ToolCall) -> ToolCall:
            same = (c["id"] for c in asked if (c["name"], c.get("args") or {}) == (call.name, call.arguments))
            return replace(call, id=next(same, call.id))

        return [replace(p, calls=tuple(map(named, p.calls))) if p.calls and not p.keyed else p for p in found]

    def resumed(self, value: Any) -> Any:
        """What the graph is run with to resume from its interrupts with ``value``: ``Command(resume=value)``;
        the calls it goes on with count their time from now."""
        from langgraph.types import Command

        self._resuming()
        return Command(resume=value)

    def _resuming(self) -> None:
        self._asked_at.update((i, time.monotonic()) for i in self._calls if i not in self._progress.done)

    async def ended(
        self, head: Config, state: Any, result: TurnResult, waiting: list[Pending], progress: Progress
    ) -> None:
        if waiting:
            result.interrupts = waiting
            result.waiting = [self.shown_as(c, progress) for p in waiting if p.is_approval for c in p.calls]
        result.interrupted = "interrupt" if result.interrupts else None
        # The subgraphs' counts kept with the answer, where chat stats finds them.
        if self._asides and not waiting and (last := _last_reply(state)) is not None:
            noted = {**last.response_metadata, SUBGRAPH_USAGE: self._asides}
            await self._write(head, last.model_copy(update={"response_metadata": noted}))

    def shown_as(self, call: ToolCall, progress: Progress) -> ToolCall:
        """The call of the turn that ``call`` (asked about) is: the same name and arguments, no result yet."""
        same = (c for c in self._calls.values() if (c.name, c.arguments) == (call.name, call.arguments))
        return next((c for c in same if c.id not in progress.done), call)

    async def stream(
        self, payload: Any, config: Config, listener: Listener, result: TurnResult, progress: Progress
    ) -> None:
        """One run of the graph until it ends or an interrupt stops it."""
        graph = cast("RunningGraph", self.app)  # a deployed graph's run streams its own way (RemoteSource)
        meter = None
        if self.guard is not None:  # the graph's model calls inherit the run's callbacks, the meter among them
            from langchain_core.runnables.config import merge_configs

            from chatcli.backends.own.meter import Meter

            meter = Meter(self.guard, _thread_of(config), lambda text: listener.hear(Notice(text)))
            config = cast(Config, merge_configs(cast(Any, config), {"callbacks": [meter]}))
        self._whole = set()
        try:
            async for namespace, mode, data in graph.astream(
                payload, config, stream_mode=["messages", "updates"], subgraphs=True
            ):
                if mode == "updates":
                    for node, output in (data or {}).items():
                        if node != "__interrupt__":
                            self._updates(messages_of(output), listener, progress)
                elif mode == "messages":
                    self._message(data, namespace, listener, result, progress)
        finally:  # cancelled, a call still open settles at what it sent and what came
            if meter is not None:
                await asyncio.shield(meter.close())

    def _message(
        self, data: Any, namespace: tuple[str, ...], listener: Listener, result: TurnResult, progress: Progress
    ) -> None:
        """A token (or a whole AI message a node returned) of the "messages" stream, ``data`` its (chunk, metadata)
        pair: told as the answer's, or (``namespace``: a subgraph's, a subagent's) as the subgraph's own words
        (``Aside``, its thinking with them), its call's tokens and cost counted in the turn's either way."""
        from chatcli.core.chunks import thinking_of

        chunk = _fresh(data[0], self._whole)
        if chunk is None:
            return
        if not namespace:
            node = str((data[1] or {}).get("langgraph_node") or "")
            tell_chunk(chunk, listener, result, progress, before=lambda: self._speaker(node, listener))
        else:
            if said := thinking_of(chunk) + str(chunk.text):
                listener.hear(Aside("/".join(namespace), said))
            tell_usage(chunk, listener, result)
            self._asides = add_usage(self._asides, chunk.usage_metadata)
        self._price(chunk, result)

    def _price(self, chunk: Any, result: TurnResult) -> None:
        """The cost of the model call whose counts ``chunk`` carries (the run's answer sums them, as chat's own
        turn does); a call without counts adds nothing, and a run of none has no usage and no cost: unknown."""
        name = chunk.response_metadata.get("model_name")
        if name:  # (a streamed call names its model on one chunk, its counts on another: the same message id)
            self._models[chunk.id or ""] = name
        used = chunk.usage_metadata
        if used and self.pricer is not None:
            name = name or self._models.get(chunk.id or "") or result.model
            priced = self.pricer.priced(used, name)
            result.add_cost(priced.usd, name, priced.local)

    def _speaker(self, node: str, listener: Listener) -> None:
        """Say which node speaks, when it is not the one speaking and more than one has spoken."""
        if not node or node == self._speaking:
            return
        if node not in self.speakers:
            self.speakers.append(node)
        self._speaking = node
        if self.many or len(self.speakers) > 1:
            listener.hear(Speaker(node))

    def _updates(self, messages: list[Any], listener: Listener, progress: Progress) -> None:
        """The calls an AI message asks for, and the tool messages that answer them, as chat shows its own."""
        from langchain_core.messages import AIMessage, ToolMessage

        calls = self._calls
        for message in messages:
            if isinstance(message, AIMessage):
                for call in message.tool_calls:
                    if call.get("id") not in calls:
                        shown = calls[call.get("id") or ""] = _shown(call)
                        self._asked_at[shown.id] = time.monotonic()
                        progress.next_round()
                        listener.hear(shown)
            elif isinstance(message, ToolMessage) and message.tool_call_id not in progress.done:
                progress.done[message.tool_call_id] = message
                name = message.name or "tool"
                answered = calls.get(message.tool_call_id) or ToolCall(message.tool_call_id, name, name, None, {})
                status = "error" if message.status == "error" else "ok"
                seconds = round(time.monotonic() - self._asked_at.get(answered.id, time.monotonic()), 3)
                listener.hear(ToolResult(answered, status, str(message.text), seconds, message))
                progress.next_round()

    async def keep(self, head: Config, progress: Progress, reason: str) -> None:
        """Keep a reply that stopped early as the answer of its turn, marked, written as the node that spoke it
        (when that node is the graph's own); then nothing is left to run."""
        from langchain_core.messages import AIMessage

        from chatcli.backends.own.request_history import now_iso

        if text := progress.current():
            await self._write(head, AIMessage(text, response_metadata={"interrupted": reason, "created_at": now_iso()}))

    async def _write(self, head: Config, message: Any) -> None:
        """Write ``message`` to the thread at ``head`` as the node that spoke last (when that node is the graph's
        own), the turn over; a graph (a server) that cannot take it is left as it is."""
        if self._speaking is None or not self._knows(self._speaking):
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(KEEP_WAIT):
                written = await self.app.aupdate_state(head, {"messages": [message]}, as_node=self._speaking)
                await self.app.aupdate_state(written, None, as_node="__end__")

    def _knows(self, node: str) -> bool:
        """True when ``node`` is one of the graph's own nodes (a subgraph's is not written as the graph's)."""
        return node in (getattr(self.app, "nodes", None) or {})
