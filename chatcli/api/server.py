"""The HTTP API of `chat serve`: threads, their export and compaction, and turns as ``--json`` objects or ``--jsonl``
events.

FastAPI on uvicorn (a kept ASGI stack with the OpenAPI document at /openapi.json). One engine (the
store, the model, the graph) serves every request; turns on one thread queue up on the thread's
lock, across processes too (several servers may share one PostgreSQL database).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping

from fastapi import Body, FastAPI, Query, Request
from pydantic import BaseModel, Field

from chatcli.api.apps import ViewPort, apps_routes
from chatcli.api.errors import JSONResponse, Strict
from chatcli.api.guard import Addresses, Guard
from chatcli.api.page import page_routes
from chatcli.api.turns import answer, connected, reading
from chatcli.api.waiting import waiting_routes
from chatcli.config import Settings
from chatcli.content.attachments import MAX_FILES, MAX_FILES_BYTES
from chatcli.core.answer import Answer, Failure, Refusal
from chatcli.core.events import Logged
from chatcli.errors import UsageError
from chatcli.service.answerer import OWN, Answerer
from chatcli.service.inbox import Answers

if TYPE_CHECKING:
    from chatcli.service.chat import Chat
    from chatcli.service.thread import Thread


class Attached(Strict):
    """A file sent with the question: an image (vision models) or a text file, as base64."""

    name: str
    data_base64: str


class Message(Strict):
    """A question, as `chat` takes it: the text and, optionally, the flags of one run."""

    content: str = Field(description="The question.")
    model: str | None = Field(None, description="As -m: wins over the thread's role's model for this turn.")
    system: str | None = Field(None, description="As --system: the thread's system prompt from this turn on.")
    role: str | None = Field(None, description="As --role: a role from the server's roles directory.")
    attachments: list[Attached] = Field(
        default_factory=list,
        description=f"As -a FILE: at most {MAX_FILES} files, {MAX_FILES_BYTES // (1024 * 1024)} MB together, with "
        "one question (the MCP resources its content mentions as @SERVER:URI count with them).",
    )
    at: str | None = Field(
        None,
        description="As --at: ask from this node of the thread's tree, its number or label (GET "
        "/v1/threads/ID/tree); the branch it was on stays whole.",
    )


class Approval(Strict):
    """The answers about what a thread waits on: its calls (``approval_required``), by call id, or a tool's
    question (in ``interrupts``), by interrupt id."""

    decisions: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='{"CALL_ID": {"action": "yes" | "no", "args": {...edited...}, "reason": "for the model"}}, or '
        '{"action": "respond", "reason": "the answer"} where the call allows it (its "allowed" says so); a call left '
        "out is not run.",
    )
    answers: dict[str, Any] = Field(
        default_factory=dict,
        description='{"INTERRUPT_ID": {"action": "accept", "content": {...}} | {"action": "decline"} | '
        '{"action": "cancel"}}: the answer to a tool\'s question (an interrupt whose value has "type": '
        '"elicitation"), its content checked against the question\'s requested_schema; with --graph or '
        '--remote, {"INTERRUPT_ID": VALUE}: the value the graph\'s interrupt resumes with.',
    )


class CommandRequest(Strict):
    """A command of the thread's, as an editor runs it: its name (``undo`` or ``/undo``) and the text after it."""

    command: str = Field(description="The command's name, as `GET /v1/commands` lists it.")
    input: str = Field("", description="The text after it (a model's name for `model`, a focus for `compact`).")


class Offered(BaseModel):
    """A command a thread here runs (the same list an editor is offered)."""

    name: str
    description: str
    input: str | None = Field(description="What it takes after its name (None: nothing).")
    answers: bool = Field(description="It runs a turn: its answer is the object (or events) a message's is.")


class CommandDone(BaseModel):
    """What a command that runs no turn did: the line it says, the model it chose, the thread it forked, the
    background reply it started (``chat jobs`` lists it), what it did as one object (compact's: as ``chat compact
    --json`` prints it)."""

    thread_id: str
    command: str
    said: str
    model: str | None = None
    forked: str | None = None
    job: str | None = None
    data: dict[str, Any] | None = None


ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": Answer, "content": {"text/event-stream": {}}, "description": "The answer (or its events)."},
    400: {"model": Failure | Refusal, "description": "A usage error: the error object (with the part that arrived)."},
    402: {
        "model": Failure,
        "description": "A spending limit refused a model call before it was sent (the error object's exit_code 6, "
        "its limit the setting's name); the question is kept in the thread.",
    },
    502: {
        "model": Failure,
        "description": "The model's endpoint failed (the error object, with the part that arrived).",
    },
}


def create_app(
    settings: Settings,
    allowed: Addresses,
    token: str | None = None,
    owner: int | None = None,
    proxies: tuple[str, ...] = (),
    answerer: Answerer = OWN,
    environ: Mapping[str, str] | None = None,
    views: ViewPort | None = None,
) -> FastAPI:
    """The API on ``settings``' store and endpoint, for requests to the ``allowed`` addresses (chatcli.api.guard);
    with ``token``, every request needs it (``Authorization: Bearer TOKEN``); with ``owner``, a caller on this
    machine must be that user's process; ``proxies``: the reverse proxies whose forwarding headers are read.
    ``answerer``: what answers the threads (chatcli.service.answerer): chat's own graph by default, a graph
    of the user's (``--graph``) or an assistant on a LangGraph server (``--remote``). ``environ``: the variables of
    the run (the background replies it starts get them)."""
    from chatcli import __version__
    from chatcli.api.errors import install
    from chatcli.service.chat import Chat

    # This app's: its stop stops its turns, no other's; what a thread says beside a request's answer, on the console.
    chat = Chat(settings, answerer, Logged("chat serve"), environ)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with chat:  # stopping: the answers still running end as on Ctrl-C, kept, before the store closes
            # MCP servers start when used, and stop after worker_idle seconds without a call.
            await chat.open(idle=settings.worker_idle)
            yield

    app = FastAPI(
        title="chatcli",
        summary="The threads of chat, over HTTP",
        version=__version__,
        lifespan=lifespan,
        default_response_class=JSONResponse,
    )
    app.add_middleware(Guard, allowed=allowed, token=token, owner=owner, proxies=proxies)
    install(app, settings)
    _thread_routes(app, chat)
    _turn_routes(app, chat)
    _command_routes(app, chat)
    waiting_routes(app, chat)
    apps_routes(app, chat, views)
    page_routes(app, token, environ if environ is not None else os.environ, views.proxy if views else None)
    return app


def _thread_routes(app: FastAPI, chat: Chat) -> None:
    """The routes that read, delete and compact threads (the requests come once ``chat`` is open)."""

    @app.get("/v1/threads", summary="The threads, most recently used first: the records of `chat threads --json`")
    async def list_threads() -> list[dict[str, Any]]:
        return [row.as_dict() for row in await chat.threads().list()]

    @app.get("/v1/search", summary="Full-text search over every thread: the hits of `chat search TEXT --json`")
    async def search(q: str, limit: int = Query(20, ge=1, le=200)) -> list[dict[str, Any]]:
        from chatcli.threads.records import hit_record

        threads: Any = chat.threads()
        if not hasattr(threads, "search"):  # an Agent Server's threads (--remote): it searches nothing of theirs
            raise UsageError("an Agent Server's threads are not searched here", hint="search them where they are kept")
        return [hit_record(hit) for hit in await threads.search(q, limit)]

    @app.get(
        "/v1/inbox",
        summary="What waits for the user in every thread (`chat inbox --json`): calls to approve, tools' questions, "
        "graphs' interrupts; POST /v1/threads/ID/approvals answers them",
    )
    async def inbox() -> list[dict[str, Any]]:
        threads: Any = chat.threads()
        return [row.as_dict() for row in await threads.waiting()]

    @app.get("/v1/threads/{thread_id}", summary="A thread whole: `chat export ID --format json`")
    async def export_thread(thread_id: str, request: Request) -> dict[str, Any]:
        exported = await chat.threads().export_json((await chat.find(thread_id, exists=True)).thread_id)
        reading(request, exported["messages"], "content")
        return exported

    @app.get(
        "/v1/threads/{thread_id}/tree",
        summary="A thread's tree: every question and answer it had, as `chat tree ID --json` gives it",
    )
    async def thread_tree(thread_id: str, request: Request) -> dict[str, Any]:
        tree = (await (await chat.thread(thread_id, exists=True)).tree()).json()
        reading(request, tree["nodes"], "answer")
        return tree

    @app.delete("/v1/threads/{thread_id}", status_code=204, summary="Delete a thread: `chat rm ID`")
    async def delete_thread(thread_id: str) -> None:
        # an answer running on it here ends first
        await chat.delete((await chat.find(thread_id, exists=True)).thread_id)


def _turn_routes(app: FastAPI, chat: Chat) -> None:
    """The routes that ask in a thread and answer what it waits on."""

    @app.post(
        "/v1/threads/{thread_id}/messages",
        summary="Ask in a thread (a new id starts one): the `--json` object, or `--jsonl` events with Accept: "
        "text/event-stream",
        responses=ANSWERS,
    )
    async def post_message(thread_id: str, request: Request, message: Message = Body()) -> Any:
        from chatcli.backends.own.roles import read_role
        from chatcli.content.attachments import check_count, from_bytes
        from chatcli.service.opening import ThreadSetup

        check_count(len(message.attachments))  # before any is decoded (the service checks them whole)
        files = tuple(from_bytes(item.name, _base64(item)) for item in message.attachments)
        role = read_role(chat.settings.roles_dir, message.role)
        setup = ThreadSetup(
            system=message.system, role=role, model=message.model or None, attachments=files, at=message.at
        )
        asked = lambda thread: thread.send(message.content, list(files), mentions=message.content)  # noqa: E731
        return await answer(chat, request, await chat.find(thread_id, setup=setup), asked, setup)

    @app.post(
        "/v1/threads/{thread_id}/approvals",
        summary="Answer what a thread waits on (its last answer's `approval_required`, or a tool's question in its "
        "`interrupts`), and go on with the turn",
        responses=ANSWERS,
    )
    async def post_approval(thread_id: str, request: Request, approval: Approval = Body()) -> Any:
        from chatcli.service.answering import as_asked
        from chatcli.service.outcome import waits_on

        given = Answers(approval.decisions, approval.answers)

        async def resumed(thread: Thread) -> Any:
            waiting = await waits_on(thread, approval.decisions)
            for pending in waiting:  # first: an answer that does not fit changes nothing
                if pending.elicitation is not None:
                    given.elicited(pending.elicitation)
            if await as_asked(thread, waiting, chat.environ, given) is None:  # (a background reply's: as it asked)
                return await thread.resume()

        return await answer(chat, request, await chat.find(thread_id), resumed, given=given)


def _command_routes(app: FastAPI, chat: Chat) -> None:
    """The commands a thread here runs (chatcli.service.commands: the list an editor is offered), listed and run."""

    @app.get("/v1/commands", summary="The commands a thread here runs: what an editor is offered", response_model=None)
    async def list_commands() -> list[Offered]:
        return [
            Offered(name=c.name.removeprefix("/"), description=c.description, input=c.hint, answers=c.answers)
            for c in chat.commands().offered(chat.backend.can, chat.toolbox)
        ]

    @app.post(
        "/v1/threads/{thread_id}/commands",
        summary="Run a command on a thread (`GET /v1/commands` lists them): a command that answers (retry) gives the "
        "answer as a message does; the others what they did",
        responses={**ANSWERS, 200: {"model": CommandDone | Answer, "description": "What it did, or the answer."}},
    )
    async def post_command(thread_id: str, request: Request, asked: CommandRequest = Body()) -> Any:
        from chatcli.service.commands import run_offered

        name = asked.command.strip()
        command = chat.commands().get("/" + name.removeprefix("/"), chat.toolbox) if name.isprintable() else None
        if command is None or command.run is None:
            raise UsageError(f"no command {name[:40]!r} here", hint="GET /v1/commands lists them")
        opening, given = await chat.find(thread_id, exists=True), asked.input.strip()
        if command.answers:
            return await answer(chat, request, opening, lambda thread: run_offered(chat, thread, command, given))

        async def said() -> CommandDone:
            done: Any = await run_offered(chat, await chat.thread(opening), command, given)
            fields = dict(model=done.model, forked=done.forked, job=done.job and done.job.id, data=done.data)
            return CommandDone(thread_id=opening.thread_id, command=command.name, said=done.line, **fields)

        # a delete of the thread, or the server's stop, stops it
        return await connected(chat, request, said(), opening.thread_id)


def _base64(item: Attached) -> bytes:
    import base64

    try:
        return base64.b64decode(item.data_base64, validate=True)
    except ValueError:  # binascii.Error is one
        raise UsageError(f"attachment {item.name!r}: data_base64 is not base64") from None
