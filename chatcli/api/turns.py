"""One turn over HTTP: the same JSON as ``--json`` (one object) or ``--jsonl`` (server-sent events); with
``?reading=true`` (the page's), an answer's Markdown read too, as the terminal draws it (``Reading``).

The listener is the command line's own JSON output (chatcli.service.json_events.JsonEvents), handing its
objects to a queue instead of writing them to stdout: the objects are the same by construction, and
they travel as objects, serialized once for the response (never written as text and read back). A call that needs
approval ends the turn with the calls in ``approval_required``; the thread waits at the question
until a request answers it (any server of the same database may take that request).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Coroutine

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from chatcli.api.errors import JSONResponse, failed, status_of
from chatcli.backends.own.failures import describe
from chatcli.content.markdown import Reader, read
from chatcli.core.events import Decision, Review, ToolCall, ToolResult
from chatcli.errors import ChatError
from chatcli.service.inbox import Answers
from chatcli.service.json_events import JsonEvents
from chatcli.text import json_text, say

if TYPE_CHECKING:
    from chatcli.service.chat import Chat
    from chatcli.service.opening import Opening, ThreadSetup
    from chatcli.service.thread import Thread

EVENT_STREAM = "text/event-stream"
NO_DECISION = "not run: the request that answered the approval question sent no decision for this call"
Work = Callable[["Thread"], Awaitable[Any]]
Objects = asyncio.Queue[dict[str, Any] | None]  # a turn's JSON objects (None ends them)
Event = dict[str, Any]


def reads(request: Request) -> bool:
    """Whether a request asks for answers' Markdown read (``?reading=true``)."""
    return request.query_params.get("reading") == "true"


def reading(request: Request, records: list[dict[str, Any]], key: str) -> None:
    """For a request that ``reads``: the Markdown of each answer's ``key`` read, as ``read``, a list of
    chatcli.content.markdown's lines (``Line.json``) for each of its lines."""
    for record in records if reads(request) else ():
        if record.get(key) and record.get("role", "assistant") == "assistant":
            record["read"] = [line.json() for line in read(record[key])]


class Reading:
    """For a request that ``reads``, an answer's Markdown read as its events come: a token's event gets in ``read``
    the lines its text completed, the event that ends the text (a tool call, done, error) the rest."""

    def __init__(self) -> None:
        self.reader, self.partial = Reader(), ""

    def __call__(self, event: Event) -> Event:
        ends = event.get("type") in ("tool_call", "done", "error")  # the text's end: its last line is complete
        added = event.get("text", "") if event.get("type") == "token" else "\n" if ends and self.partial else ""
        *complete, self.partial = (self.partial + added).split("\n")
        lines = [line for source in complete for line in self.reader.line(source)]
        lines += self.reader.close() if ends else []
        return {**event, "read": [line.json() for line in lines]} if lines else event


def sse(request: Request) -> Callable[[Event], str]:
    """An event as a server-sent event for ``request`` (one line: line breaks in text are escaped), read if it
    ``reads``."""
    shown: Callable[[Event], Event] = Reading() if reads(request) else lambda event: event
    return lambda event: f"data: {json_text(shown(event), ensure_ascii=False)}\n\n"


class HttpListener(JsonEvents):
    """``--json``/``--jsonl`` for one request, its objects put on ``out`` (None ends them); calls that need approval
    are answered from ``given`` (the approval request's), or later (the turn ends and says which calls wait)."""

    def __init__(self, out: Objects, *, lines: bool, given: Answers | None = None):
        super().__init__(lines=lines)
        # given: the approvals request's answers (None: a message, whose questions are answered later)
        self.objects, self.given = out, given

    def _write(self, obj: dict[str, Any]) -> None:
        self.objects.put_nowait(obj)

    def note(self, text: str) -> None:  # what the command line says on stderr: the server's console
        say(sys.stderr, f"chat serve: {text}\n")

    warn = note

    def refused(self, result: ToolResult) -> None:
        self.note(f"not run: {result.call.label or result.call.name} ({result.content[:200]})")

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        if self.given is None:  # the client answers with an approvals request: the turn ends here
            self.approval(call)
            return Decision("later")
        return self.given.decision(call) or Decision("no", by=NO_DECISION)


async def answer(
    chat: Chat,
    request: Request,
    opening: Opening,
    work: Work,
    setup: ThreadSetup | None = None,
    given: Answers | None = None,
) -> Any:
    """The turn ``work`` does on the thread ``opening`` names (set up with ``setup``, its questions answered from
    ``given``), answered as the request asks: the final object, or one server-sent event per ``--jsonl`` line. A
    client that leaves stops it, its partial kept as on Ctrl-C; every failure is the JSON error object."""
    stream = EVENT_STREAM in request.headers.get("accept", "")
    objects: Objects = asyncio.Queue()
    status = 200

    async def run() -> None:
        nonlocal status
        output = HttpListener(objects, lines=stream, given=given)
        try:
            thread = await chat.thread(opening, setup=setup, listener=output)
            output.model, output.thread_id = thread.model_name, thread.thread_id
            await work(thread)
        except Exception as exc:  # noqa: BLE001 - every failure is the JSON error object, as with --json
            status = status_of(exc, describe(exc, chat.settings).exit_status)
            output.fail(exc, chat.settings)
        finally:
            objects.put_nowait(None)

    if stream:
        events = _events(chat, run(), opening.thread_id, objects, sse(request))
        return StreamingResponse(events, media_type=EVENT_STREAM, headers={"Cache-Control": "no-store"})
    left = await connected(chat, request, run(), opening.thread_id)
    if left is not None:
        return left  # the client left: nobody reads it
    final: dict[str, Any] = {}
    while (obj := objects.get_nowait()) is not None:
        final = obj
    return JSONResponse(final, status)


async def _events(
    chat: Chat, turn: Coroutine[Any, Any, None], thread_id: str, objects: Objects, written: Callable[[Event], str]
) -> AsyncIterator[str]:
    """``turn`` run for an event-stream request: a client that leaves cancels the stream here, which stops it."""
    import anyio

    task = chat.running.start(turn, thread_id)
    try:
        while (obj := await objects.get()) is not None:
            yield written(obj)
    finally:
        chat.running.stop(task)
        with anyio.CancelScope(shield=True):  # the partial is saved before the request ends
            await asyncio.wait({task})


async def connected(chat: Chat, request: Request, work: Coroutine[Any, Any, Any], thread_id: str) -> Any:
    """``work`` on thread ``thread_id``, asking four times a second whether the client is still there: one that
    left stops it (a turn keeps its partial, as on Ctrl-C; a compaction folds nothing), and nobody reads what it
    did (499)."""
    task = chat.running.start(work, thread_id)
    while not task.done():
        done, _ = await asyncio.wait({task}, timeout=0.25)
        if not done and await request.is_disconnected():
            chat.running.stop(task)
            await asyncio.wait({task})
    if task.cancelled():
        return Response(status_code=499)
    failure = task.exception()
    if failure is not None and not isinstance(failure, ChatError):  # the error object all the same (500)
        return failed(failure, chat.settings)
    return task.result()
