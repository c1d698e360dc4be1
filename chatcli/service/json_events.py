"""A turn as JSON objects (chatcli.core.answer): the ``--json`` object at its end, or with ``lines`` the
``--jsonl`` events as it happens. Where the objects go is the subclass's (``_write``): stdout for the
command line (chatcli.ui.jsonout), a request's response for ``chat serve`` (chatcli.api.turns).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from chatcli.backends.own.failures import describe
from chatcli.config import Settings
from chatcli.core.elicitation import Elicitation, Elicited
from chatcli.core.events import Progress, Question, Reply, Start, ToolCall, ToolResult, TurnResult
from chatcli.core.routing import Router

if TYPE_CHECKING:
    from chatcli.service.inbox import Answers


def usage_object(result: TurnResult | None) -> dict[str, int] | None:
    """The server's token counts in OpenAI's names, or None when it sent none."""
    usage = result.usage if result else None
    if not usage:
        return None
    prompt = int(usage.get("input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    total = int(usage.get("total_tokens") or prompt + completion)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def _plain(value: Any) -> Any:
    """``value`` as JSON has it (what JSON cannot hold, as text)."""
    return json.loads(json.dumps(value, default=str))


def _call(call: ToolCall) -> dict[str, Any]:
    return {k: v for k, v in call.record().items() if k != "type"}


class JsonEvents(Router):
    """``lines=False``: one object at the end (chatcli.core.answer.Answer or Failure); ``lines``: an event per
    piece, then "done" or "error". ``thread_id`` and ``model`` (the configured model) are filled in once known."""

    says_the_result = True  # turns_compacted and turns_left_out are in the object: no line on stderr says them

    names_nodes = True  # each answer's node of the thread's tree is in its object (chatcli.core.events.names_nodes)

    def __init__(self, *, lines: bool = False):
        self.lines = lines
        self.thread_id: str | None = None
        self.node: int | None = None  # the node of the thread's tree the answer is
        self.model: str | None = None
        self._parts: list[str] = []
        self._result: TurnResult | None = None
        self._started: float | None = None
        self._first: float | None = None
        self._ended: float | None = None
        self._finished = False  # the final object (done or error) is out
        self._calls: list[dict[str, Any]] = []  # tool calls of the answer, with their results
        self._reasoning: list[str] = []  # a reasoning model's thinking
        self._asides: list[dict[str, str]] = []  # what the graph's subgraphs said, a run of words each
        self.given: Answers | None = None  # answers given ahead (serve's approvals request, chat inbox answer)

    def _write(self, obj: dict[str, Any]) -> None:
        """Hand one object on (where to is the subclass's)."""
        raise NotImplementedError

    def refused(self, result: ToolResult) -> None:
        """A call was refused: said apart from the JSON (stderr, the server's log)."""

    def _event(self, shape: str, **fields: Any) -> None:
        """One ``--jsonl`` event, as chatcli.core.answer's model ``shape`` defines it; none without ``lines``."""
        if self.lines:
            from chatcli.core import answer  # (pydantic: loaded once a turn runs, never at start-up)

            self._write(answer.dumped(getattr(answer, shape), **fields))

    # ---- a turn's events ---------------------------------------------------------------------

    def start_reply(self, start: Start) -> None:
        self.thread_id, self.node = start.thread_id, start.node
        self._calls, self._reasoning, self._parts, self._asides, self._result = [], [], [], [], None
        self._started = time.monotonic()
        self._first = self._ended = None

    def token(self, text: str) -> None:
        if self._first is None:
            self._first = time.monotonic()
        self._parts.append(text)
        self._event("TokenEvent", text=text)

    def thinking(self, text: str) -> None:
        self._reasoning.append(text)
        self._event("ReasoningEvent", text=text)

    def aside(self, source: str, text: str) -> None:
        if self._asides and self._asides[-1]["namespace"] == source:
            self._asides[-1]["text"] += text
        else:
            self._asides.append({"namespace": source, "text": text})
        self._event("SubgraphEvent", namespace=source, text=text)

    def tool_call(self, call: ToolCall) -> None:
        self._event("ToolCallEvent", **_call(call))

    def progress(self, event: Progress) -> None:
        self._event("ProgressEvent", **event.record())  # --jsonl and chat serve's event stream; --json has no place

    def tool_result(self, result: ToolResult) -> None:
        if result.status == "refused":
            self.refused(result)
        call = _call(result.call)
        self._calls.append({**call, "status": result.status, "result": result.content, "seconds": result.seconds})
        view = getattr(result.message, "response_metadata", {}).get("view")  # (an MCP App's: chatcli.tools.mcp.apps)
        fields = dict(status=result.status, content=result.content, seconds=result.seconds, view=view)
        self._event("ToolResultEvent", **call, **fields)

    def approval(self, call: ToolCall) -> None:
        """A call waits for an approval request (``chat serve``), or for ``--resume`` (``chat --graph``)."""
        self._event("ApprovalEvent", **_call(call))

    async def answer(self, question: Question) -> Reply | None:
        """The answer given ahead (``given``), else nobody answers here: the thread waits at the question (the object
        says so; ``--resume`` answers it)."""
        given = self.given.reply(question) if self.given is not None else None
        if given is None:
            self.interrupt(question)
        return given

    async def elicit(self, question: Elicitation) -> Elicited | None:
        """The answer given ahead (``given``; one that does not fit is a UsageError), else a tool's question waits
        for its answer: reported with the turn's interrupts (``--resume`` answers it, or a request to ``chat
        serve``)."""
        given = self.given.elicited(question) if self.given is not None else None
        if given is None:
            self.interrupt(Question(question.value(), question.id))
        return given

    def interrupt(self, question: Question) -> None:
        """The graph waits on an interrupt that is no approval, for ``--resume``."""
        self._event("InterruptEvent", id=question.id, value=_plain(question.value))

    def speaker(self, name: str) -> None:
        self._event("NodeEvent", name=name)

    def end_reply(self, result: TurnResult) -> None:
        from chatcli.core.answer import Answer, DoneEvent, dumped

        self._ended = time.monotonic()
        self._result = result
        if result.interrupted and not (result.waiting or result.interrupts):
            return  # ask() raises the matching error next, and fail() reports it with the partial reply
        done = dict(
            self._told(result),
            usage=usage_object(result),
            cost_usd=result.known_cost,
            timing=self._timing(),
            turns_compacted=result.turns_compacted,
            memories=list(result.memories),
            approval_required=[_call(call) for call in result.waiting] if result.waiting else None,
            interrupts=[{"id": p.id, "value": _plain(p.value)} for p in result.interrupts] or None,
        )
        obj = dumped(DoneEvent, **done) if self.lines else dumped(Answer, **done)
        for waiting in ("approval_required", "interrupts"):
            if obj[waiting] is None:
                del obj[waiting]  # present only when calls or interrupts wait (chat serve, chat --graph)
        self._final(obj)

    def abort(self, reason: str | None) -> None:
        self._ended = time.monotonic()
        if reason == "cancelled":
            self.warn(self._stopped())

    def fail(self, exc: BaseException, settings: Settings | None = None) -> None:
        """Report a failure as the final object: the part that arrived, the message and exit code of stderr's line."""
        from chatcli.core.answer import ErrorEvent, Failure, dumped

        obj = dict(self._told(self._result), error=describe(exc, settings).object())
        final = dumped(ErrorEvent, **obj) if self.lines else dumped(Failure, **obj)
        if final["error"]["limit"] is None:
            del final["error"]["limit"]  # present only when a spending limit refused the call
        self._final(final)

    def _told(self, result: TurnResult | None) -> dict[str, Any]:
        """What the final object says of the answer however it ended (``result`` None: it got no end of its own)."""
        return dict(
            thread_id=self.thread_id,
            node=self.node,
            reply=result.text if result else "".join(self._parts),
            model=(result.model if result else None) or self.model,
            finish_reason=result.finish_reason if result else None,
            tool_calls=self._calls,
            reasoning="".join(self._reasoning) or None,
            subgraphs=self._asides,
            turns_left_out=result.turns_left_out if result else 0,
        )

    def _timing(self) -> dict[str, float | None]:
        start = self._started
        if start is None:
            return {"total_s": None, "first_token_s": None}
        end = self._ended if self._ended is not None else time.monotonic()
        first = None if self._first is None else round(self._first - start, 3)
        return {"total_s": round(end - start, 3), "first_token_s": first}

    def _final(self, obj: dict[str, Any]) -> None:
        if self._finished:
            return  # one final object per run
        self._finished = True
        self._write(obj)
