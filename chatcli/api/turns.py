"""One turn over HTTP: the same JSON as ``--json`` (one object) or ``--jsonl`` (server-sent events).

The listener is the command line's own JSON output (chatcli.service.json_events.JsonEvents), handing its
objects to a queue instead of writing them to stdout: the objects are the same by construction, and
they travel as objects, serialized once for the response (never written as text and read back). A call that needs
approval ends the turn with the calls in ``approval_required``; the thread waits at the question
until a request answers it (any server of the same database may take that request).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

from chatcli.backends.own.failures import describe
from chatcli.config import Settings
from chatcli.core.events import Decision, Review, ToolCall, ToolResult
from chatcli.service.inbox import Answers
from chatcli.service.json_events import JsonEvents
from chatcli.service.running import Running
from chatcli.service.thread import Thread
from chatcli.text import json_text, say

T = TypeVar("T")

NO_DECISION = "not run: the request that answered the approval question sent no decision for this call"


# Where a turn's JSON objects go (``None`` ends them).
Objects = asyncio.Queue[dict[str, Any] | None]


class HttpListener(JsonEvents):
    """``--json``/``--jsonl`` for one request; calls that need approval are answered from ``decisions``
    (the approval request's), or later (the turn ends and says which calls wait)."""

    def __init__(self, out: Objects, *, lines: bool, given: Answers | None = None):
        super().__init__(lines=lines)
        self.objects = out
        self.given = given  # the approvals request's answers (None: a message, whose questions are answered later)

    def _write(self, obj: dict[str, Any]) -> None:
        self.objects.put_nowait(obj)

    def note(self, text: str) -> None:  # what the command line says on stderr: the server's console
        say(sys.stderr, f"chat serve: {text}\n")

    def warn(self, text: str) -> None:
        self.note(text)

    def refused(self, result: ToolResult) -> None:
        self.note(f"not run: {result.call.label or result.call.name} ({result.content[:200]})")

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        if self.given is None:  # the client answers with an approvals request: the turn ends here
            self.approval(call)
            return Decision("later")
        return self.given.decision(call) or Decision("no", by=NO_DECISION)


Opened = Callable[[HttpListener], Awaitable[Thread]]  # a turn's thread, heard by the listener
Work = Callable[[Thread], Awaitable[Any]]


@dataclass
class Turn:
    """A turn to run for a request: how to open its conversation and what to do in it."""

    open: Opened
    work: Work
    settings: Settings
    stream: bool
    given: Answers | None = None  # an approvals request's answers
    thread_id: str = ""  # the thread it runs on: a delete of that thread stops it first (``stop_thread``)
    status: int = 200
    _objects: Objects = field(default_factory=Objects)

    async def run(self) -> None:
        """Run the turn; its JSON lines (the last one the final object) go to the queue, then None."""
        output = HttpListener(self._objects, lines=self.stream, given=self.given)
        try:
            conversation = await self.open(output)
            output.model, output.thread_id = conversation.model_name, conversation.thread_id
            await self.work(conversation)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is the JSON error object, as with --json
            from chatcli.api.errors import status_of

            self.status = status_of(exc, describe(exc, self.settings).exit_status)
            output.fail(exc, self.settings)
        finally:
            self._objects.put_nowait(None)

    async def objects(self) -> AsyncIterator[dict[str, Any]]:
        while (obj := await self._objects.get()) is not None:
            yield obj


async def while_connected(
    running: Running, task: asyncio.Task[Any], disconnected: Callable[[], Awaitable[bool]]
) -> None:
    """Wait for ``task``, asking four times a second whether the client is still there: one that left cancels it
    (a turn keeps its partial, as on Ctrl-C; a compaction folds nothing)."""
    while not task.done():
        done, _ = await asyncio.wait({task}, timeout=0.25)
        if not done and await disconnected():
            running.stop(task)
            await asyncio.wait({task})
            return


async def run_to_end(
    running: Running, turn: Turn, disconnected: Callable[[], Awaitable[bool]]
) -> tuple[int, dict[str, Any]]:
    """Run ``turn`` for a plain JSON request: its final object and status; a client that leaves stops it."""
    await while_connected(running, running.start(turn.run(), turn.thread_id), disconnected)
    final: dict[str, Any] = {}
    async for obj in turn.objects():
        final = obj
    return turn.status, final


async def stream_events(running: Running, turn: Turn) -> AsyncIterator[str]:
    """Run ``turn`` for an event-stream request: one SSE event per ``--jsonl`` line. A client that
    leaves cancels the stream here: the turn is stopped and its partial answer kept, as on Ctrl-C."""
    import anyio

    task = running.start(turn.run(), turn.thread_id)
    try:
        async for obj in turn.objects():
            yield f"data: {json_text(obj, ensure_ascii=False)}\n\n"  # one line: line breaks in text are escaped
    finally:
        running.stop(task)
        with anyio.CancelScope(shield=True):  # the partial is saved before the request ends
            await asyncio.wait({task})
