"""One turn on a graph that is not chat's own (``chat --graph``, a deployed graph): its AI messages' tokens from
whichever node emits them, its tool calls and results, and its interrupts asked of the listener.

The graph is any compiled LangGraph app (its ``astream``, ``aget_state`` and ``aupdate_state``). It is
streamed in LangGraph's "messages" mode (tokens, and the messages a node returns whole) and "updates" mode
(what each node returned: the calls an AI message asks for, the tool messages that answer them), from its
subgraphs too. An interrupt stops the run: an approval in LangChain's human-in-the-loop shape gets chat's
approval question (``Listener.approve`` with its ``Review``), any other value ``Listener.answer``; the
graph is resumed with ``Command(resume=...)`` (chatcli.chat.interrupts), as often as it asks.
"""

from __future__ import annotations

import time
from typing import Any

from chatcli.chat.chunks import finish_of, thinking_of
from chatcli.chat.events import (
    Decision,
    End,
    Listener,
    Speaker,
    Start,
    Thinking,
    Token,
    ToolCall,
    ToolResult,
    TurnResult,
    Usage,
)
from chatcli.chat.graph_messages import as_message, messages_of, speaking_nodes
from chatcli.chat.interrupts import Pending, approval_answer, pending_of, resume_value
from chatcli.chat.turn import TurnRunner, _Progress


class GraphTurns(TurnRunner):
    """Runs turns on a graph of the user's and tells ``listener`` what happens (chatcli.chat.events).

    ``approve_all`` (--yes) approves every call a human-in-the-loop request allows approving. A tool the
    user approved with "always" is approved for the rest of the session. A node's name is said
    (``Speaker``) before its text when the graph has several nodes that may speak (not its tool nodes),
    or once more than one node has spoken in the session.
    """

    def __init__(self, app: Any, stall_timeout: float | None = None, approve_all: bool = False):
        super().__init__(app, None, stall_timeout, None)
        self.approve_all = approve_all
        self.always: set[str] = set()
        self.speakers: list[str] = []  # the nodes that have spoken, in order
        self.many = len(speaking_nodes(app)) > 1  # several nodes may speak: each one's text is named
        self._speaking: str | None = None
        self._calls: dict[str, ToolCall] = {}  # the calls the turn's AI messages asked for, by id
        self._asked_at: dict[str, float] = {}  # when each was asked for (or its run resumed): its result's seconds

    async def pending(self, head: dict[str, Any]) -> list[Pending]:
        """The interrupts the thread at ``head`` waits on."""
        state = await self.app.aget_state(head)
        return pending_of(getattr(state, "interrupts", ()) or ())

    async def pending_calls(self, head: dict[str, Any]) -> list[ToolCall]:
        return [call for pending in await self.pending(head) if pending.is_approval for call in pending.calls]

    async def run(  # type: ignore[override]
        self,
        payload: Any,
        start: dict[str, Any],
        head: dict[str, Any],
        listener: Listener,
        opening: Start,
        ask_first: bool = False,
    ) -> TurnResult:
        """Run the graph with ``payload`` (input, a Command, or None) from ``start`` (a checkpoint's config) to
        its end, asking its interrupts; ``ask_first``: ask those it waits on before anything runs."""
        result = TurnResult(text="")
        progress = _Progress()
        self.last, self._speaking, self._calls, self._asked_at = result, None, {}, {}
        if not isinstance(payload, dict):  # resumed: the calls it goes on with were asked for before
            await self._asked_before(head)
        listener.hear(opening)
        try:
            while True:
                if not ask_first:
                    await self._stream(payload, start, listener, result, progress)
                ask_first = False
                pending = await self.pending(head)
                if not pending:
                    break
                values = await self._answers(pending, listener, progress)
                if values is None:  # answered later: the thread waits at the question
                    result.interrupts = pending
                    result.waiting = [self._shown_as(c, progress) for p in pending if p.is_approval for c in p.calls]
                    break
                payload, start = self.resumed(resume_value(pending, values)), head
                self._asked_at.update((i, time.monotonic()) for i in self._calls if i not in progress.done)
        except BaseException as exc:
            keep = lambda why: self._keep_graph_partial(head, progress, why)  # noqa: E731
            await self._ended_early(exc, result, progress, listener, keep)
            raise
        result.text, result.reasoning = "".join(progress.parts), "".join(progress.reasoning)
        result.interrupted = "interrupt" if result.interrupts else None
        listener.hear(End(result))
        return result

    def resumed(self, value: Any) -> Any:
        """What the graph is run with to resume from its interrupts with ``value``: ``Command(resume=value)``."""
        from langgraph.types import Command

        return Command(resume=value)

    async def _answers(self, pending: list[Pending], listener: Listener, progress: _Progress) -> list[Any] | None:
        """The value answering each interrupt of ``pending``; None when the listener answers later. A call asked
        about is shown as the call of the turn it is (same name and arguments, no result yet), when there is one."""
        from chatcli.chat.toolcalls import REFUSED_REST

        values = []
        for asked in pending:
            if not asked.is_approval:
                reply = await listener.answer(asked.question())
                if reply is None:
                    return None
                values.append(reply.value)
                continue
            decisions: list[Decision] = []
            for call, review in zip(asked.calls, asked.reviews):
                if "approve" in review.allowed and (self.approve_all or call.name in self.always):
                    decisions.append(Decision("yes"))
                    continue
                decision = await listener.approve(self._shown_as(call, progress), review)
                if decision.action == "later":
                    return None
                if decision.rest:
                    decisions += [Decision("no", by=REFUSED_REST)] * (len(asked.calls) - len(decisions))
                    break
                if decision.always and decision.action == "yes":
                    self.always.add(call.name)
                decisions.append(decision)
            values.append(approval_answer(asked, decisions))
        return values

    def _shown_as(self, call: ToolCall, progress: _Progress) -> ToolCall:
        """The call of the turn that ``call`` (asked about) is: the same name and arguments, no result yet."""
        same = (c for c in self._calls.values() if (c.name, c.arguments) == (call.name, call.arguments))
        return next((c for c in same if c.id not in progress.done), call)

    async def _asked_before(self, head: dict[str, Any]) -> None:
        """Know the calls of the thread's last AI message (those a resumed run answers)."""
        from langchain_core.messages import AIMessage

        state = await self.app.aget_state(head)
        messages = [as_message(m) for m in state.values.get("messages") or []]
        last = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        for call in getattr(last, "tool_calls", None) or []:
            self._asked_at[call.get("id") or ""] = time.monotonic()
            self._calls[call.get("id") or ""] = ToolCall(
                call.get("id") or "", call["name"], call["name"], None, call.get("args") or {}
            )

    async def _stream(  # type: ignore[override]
        self, payload: Any, config: dict[str, Any], listener: Listener, result: TurnResult, progress: _Progress
    ) -> None:
        """One run of the graph until it ends or an interrupt stops it."""
        whole: set[str] = set()  # AI messages whose text was told (streamed, or returned whole)
        async for _namespace, mode, data in self.app.astream(
            payload, config, stream_mode=["messages", "updates"], subgraphs=True
        ):
            if mode == "updates":
                for node, output in (data or {}).items():
                    if node != "__interrupt__":
                        self._updates(messages_of(output), listener, progress)
            elif mode == "messages":
                chunk, meta = data
                self._message(chunk, meta or {}, whole, listener, result, progress)

    def _message(
        self,
        chunk: Any,
        meta: dict[str, Any],
        whole: set[str],
        listener: Listener,
        result: TurnResult,
        progress: _Progress,
    ) -> None:
        """A token (or a whole AI message a node returned) of the "messages" stream."""
        from langchain_core.messages import AIMessage, AIMessageChunk

        chunk = as_message(chunk)
        if not isinstance(chunk, AIMessage):
            return  # tool results are told from the updates; a human message is the user's own
        if not isinstance(chunk, AIMessageChunk):
            if chunk.id in whole:
                return
            whole.add(chunk.id or "")
        thought = thinking_of(chunk)
        if thought:
            progress.reasoning.append(thought)
            listener.hear(Thinking(thought))
        piece = str(chunk.text)
        if piece:
            self._speaker(str(meta.get("langgraph_node") or ""), listener)
            if progress.round and progress.round == len(progress.parts):
                progress.parts.append("\n\n")  # the answer goes on after tool calls
                listener.hear(Token("\n\n"))
            progress.parts.append(piece)
            listener.hear(Token(piece))
        used = chunk.usage_metadata
        if used:
            from chatcli.chat.request_history import add_usage

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

    def _speaker(self, node: str, listener: Listener) -> None:
        """Say which node speaks, when it is not the one speaking and more than one has spoken."""
        if not node or node == self._speaking:
            return
        if node not in self.speakers:
            self.speakers.append(node)
        self._speaking = node
        if self.many or len(self.speakers) > 1:
            listener.hear(Speaker(node))

    def _updates(self, messages: list[Any], listener: Listener, progress: _Progress) -> None:
        """The calls an AI message asks for, and the tool messages that answer them, as chat shows its own."""
        from langchain_core.messages import AIMessage, ToolMessage

        calls = self._calls
        for message in messages:
            if isinstance(message, AIMessage):
                for call in message.tool_calls:
                    if call.get("id") not in calls:
                        shown = ToolCall(call.get("id") or "", call["name"], call["name"], None, call.get("args") or {})
                        calls[shown.id] = shown
                        self._asked_at[shown.id] = time.monotonic()
                        progress.next_round()
                        listener.hear(shown)
            elif isinstance(message, ToolMessage) and message.tool_call_id not in progress.done:
                progress.done[message.tool_call_id] = message
                call = calls.get(message.tool_call_id) or ToolCall(
                    message.tool_call_id, message.name or "tool", message.name or "tool", None, {}
                )
                status = "error" if message.status == "error" else "ok"
                seconds = round(time.monotonic() - self._asked_at.get(call.id, time.monotonic()), 3)
                listener.hear(ToolResult(call, status, str(message.text), seconds, message))
                progress.next_round()

    async def _keep_graph_partial(self, head: dict[str, Any], progress: _Progress, reason: str) -> None:
        """Keep a reply that stopped early, as the answer of its turn, marked (when its node is the graph's own)."""
        from langchain_core.messages import AIMessage
        from langgraph.graph import END

        from chatcli.chat.request_history import now_iso

        text = progress.current()
        if not text or self._speaking is None or self._speaking not in (getattr(self.app, "nodes", None) or {}):
            return
        message = AIMessage(text, response_metadata={"interrupted": reason, "created_at": now_iso()})
        try:
            await self.app.aupdate_state(head, {"messages": [message]}, as_node=self._speaking)
            await self.app.aupdate_state(head, None, as_node=END)  # nothing left to run: the turn is over
        except Exception:  # noqa: BLE001 - a graph that cannot take it keeps the question alone
            pass
