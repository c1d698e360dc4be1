"""Using a running MCP server: its tools called, its prompts and resources read; a stopped call cancelled there.

A call the user stops (Ctrl-C, a time limit) is cancelled at the server with the protocol's
``notifications/cancelled``; then the server must answer a ping within ``CANCEL_GRACE``
seconds, or it is started again (said in one line). Calls wait for that check. A call still
running when its server is stopped ends with an error (never waits for an answer that cannot
come).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from chatcli.tools.asking import SAMPLING, Ask
from chatcli.tools.mcp.transport import describe, is_transport_error

if TYPE_CHECKING:
    from chatcli.tools.listing import Listing
    from chatcli.tools.mcp.config import ServerSpec
    from chatcli.tools.mcp.transport import Connection

# The call whose task runs now (set by call_tool): a 2026-07-28 question, asked from within its call, is its own.
CALLING: ContextVar[object | None] = ContextVar("chatcli_mcp_call", default=None)
CANCEL_GRACE = 3.0  # seconds a server has to take a cancellation before it is started again
Progress = Callable[[float, "float | None", "str | None"], Awaitable[None]]


class Unavailable(Exception):
    """The server cannot be used (it could not start, or was given up): one line saying why;
    ``detail`` is why alone (without the server's name)."""

    def __init__(self, text: str, detail: str = ""):
        super().__init__(text)
        self.detail = detail


class Calls:
    """What is done with a server once it runs (a part of chatcli.tools.mcp.server.McpServer)."""

    # McpServer's lifetime: started, stopped, given up
    ensure: Callable[[], Awaitable[Any]]
    halt: Callable[[], Awaitable[None]]
    start: Callable[[], None]
    _died: Callable[[str], None]
    fail: Callable[[str], None]

    def __init__(self, spec: ServerSpec, connection: Connection, note: Callable[[str], None], start_timeout: float):
        self.spec, self.connection, self.note, self.start_timeout = spec, connection, note, start_timeout
        self.listing: Listing | None = None
        self.session: Any = None  # the open ClientSession, while ready
        self._stop = asyncio.Event()
        self._halting = False
        self.calls = 0  # calls running now
        self.used = time.monotonic()  # when a call last ended (the idle clock)
        self._asking: dict[object, Ask | None] = {}  # who answers the questions of each call running now
        self._chores: set[asyncio.Task[object]] = set()  # started and left to run: their results are not read
        self._checked = asyncio.Event()  # clear while a cancelled call is being checked on
        self._checked.set()

    async def call_tool(
        self, name: str, arguments: dict[str, Any], progress: Progress | None = None, ask: Ask | None = None
    ) -> Any:
        """Call tool ``name`` (the server started first if need be): the mcp CallToolResult.

        ``ask`` answers the questions the server asks the user while the call runs (``elicit``; none: declined).
        A stopped call (cancelled, or out of time) is cancelled at the server too.
        """
        self.calls += 1  # from the moment it asks for its server: one started for it is in use, not idle (stop_idle)
        try:
            return await self._call(name, arguments, progress, ask)
        finally:
            self.calls -= 1
            self.used = time.monotonic()

    async def _call(self, name: str, arguments: dict[str, Any], progress: Progress | None, ask: Ask | None) -> Any:
        session = await self.ensure()
        if self.listing is None or self.listing.tool(name) is None:
            new = "(the next request has its new list)"
            raise Unavailable(f"MCP server {self.spec.name} no longer offers a tool named {name!r} {new}")
        sent: list[Any] = []  # the ids of the requests made (the MCP host's stand-in numbers them; mcp's: None)
        answered: dict[str, dict[str, Any]] = {}  # the answers given in this call, by their question

        def send() -> Any:
            sent.append(getattr(session, "_request_id", None))  # the id this request gets (no await before it)
            return session.call_tool(name, arguments, progress_callback=progress)

        async def call() -> Any:
            try:
                return await send()
            except Exception as exc:
                addresses = url_elicitations(exc)
                if addresses is not None:  # -32042: the user opens an address first (a sign-in), then it runs
                    await self._opened(name, addresses)
                    return await send()
                if not state_refused(exc):
                    raise
            # At 2026-07-28 the server seals where a call got to (its requestState) with a key of its own process,
            # for a time: started again since, or answered after that time, it refuses it. Made again from the
            # start; a question asked again as it was asked before gets the answer given then.
            why = "(it was started again, or the answer came after its time): the call is made again"
            self.note(f"MCP server {self.spec.name} no longer knew where {name} had got to {why}")
            self._asking[token] = _answering(ask, answered, again=True) if ask is not None else None
            return await send()

        token = object()
        self._asking[token] = _answering(ask, answered) if ask is not None else None
        calling = CALLING.set(token)  # (the call's task, made now, and mcp's questions of its rounds see it)
        try:
            return await self._until_stopped(call())
        except asyncio.CancelledError:
            if sent:  # (an id: the MCP host's stand-in tells the server; None: mcp's client told it itself)
                self._chore(self._cancel(session, sent[-1]))
            raise
        except Exception as exc:
            needed = self.connection.login_needed  # a step-up nobody here can sign in for: said once, given up
            if needed is not None and session is self.session:
                self.fail(needed.detail)
                raise needed from exc
            if is_transport_error(exc) and session is self.session:
                self._died(describe(exc, self.spec, self.start_timeout))
            raise
        finally:
            CALLING.reset(calling)
            self._asking.pop(token, None)

    async def elicit(self, params: dict[str, Any]) -> dict[str, Any]:
        """The server asks the user something (``elicitation/create``, as JSON): the answer of the call that asks.

        At 2026-07-28 a question comes with its call's answer, so it is that call's. Before, the protocol does
        not say which call asks: the one running now. With none running, or several (two threads of chat serve
        calling the same server), nobody can tell whose user to ask: declined, logged.
        """
        mine = CALLING.get()
        askers = [self._asking[mine]] if mine is not None and mine in self._asking else list(self._asking.values())
        ask = askers[0] if len(askers) == 1 else None
        sampling = SAMPLING in params  # a request to use the model: answered {"result"} or {"error"}
        if ask is None:
            why = "no call of it runs" if not askers else f"{len(askers)} of its calls run at once"
            what = "request to use the model" if sampling else "question"
            self.connection.logged(f"a {what} of the server was declined: {why}, so nobody could be asked")
            return {"error": "nobody could be asked"} if sampling else {"action": "decline"}
        answer = await ask(params)
        if sampling:
            return answer if isinstance(answer, dict) else {"error": "no answer"}
        action = answer.get("action") if isinstance(answer, dict) else None
        if action not in ("accept", "decline", "cancel"):
            return {"action": "cancel"}
        content = answer.get("content") if action == "accept" else None
        return {"action": action, **({"content": content} if isinstance(content, dict) else {})}

    async def _opened(self, tool: str, addresses: list[dict[str, Any]]) -> None:
        """Ask the user to open each address a call needs opened first (MCP's URL elicitation, sent as the call's
        error -32042), as the server's own URL question is asked; ``NotOpened`` unless every one is accepted."""
        for params in addresses:
            answer = await self.elicit({**params, "mode": "url"})
            if answer.get("action") != "accept":
                said = "declined" if answer.get("action") == "decline" else "cancelled"
                url, why = params.get("url") or "an address", params.get("message") or "the server asked"
                raise NotOpened(f"{tool} needs {url} opened first ({why}): {said}, so it did not run")

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> Any:
        return await self._until_stopped((await self.ensure()).get_prompt(name, arguments))

    async def read_resource(self, uri: str) -> Any:
        return await self._until_stopped((await self.ensure()).read_resource(uri))

    async def complete(self, prompt: str, argument: str, value: str, context: dict[str, str]) -> Any:
        return await self._until_stopped((await self.ensure()).complete(prompt, argument, value, context))

    async def _until_stopped(self, work: Awaitable[Any]) -> Any:
        """``work``'s result; ``Unavailable`` if the server is stopped first (its answer could never come)."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # cancelled, or stopped first: its request is forgotten (before its id is told, when cancelled)
            stopped.cancel()
            late = not task.done()
            if late:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if late:
            raise Unavailable(f"MCP server {self.spec.name} stopped before it answered")
        return task.result()

    def _chore(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """``work`` started and left to run (its result not read), waited for a moment when the server stops."""
        task = asyncio.ensure_future(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)
        return task

    async def _cancel(self, session: Any, request_id: int | None) -> None:
        """Tell the server the call ``request_id`` is cancelled; start it again if it does not answer within the
        grace."""
        self._checked.clear()
        try:
            with contextlib.suppress(Exception):  # no answer (or no connection): started again below
                if request_id is not None:  # the MCP host's stand-in tells the server (mcp's client has told it)
                    await asyncio.wait_for(session.cancel(request_id), CANCEL_GRACE)
                await asyncio.wait_for(session.send_ping(), CANCEL_GRACE)
                return
            if session is not self.session or self._halting:
                return
            late = f"did not stop the cancelled call within {CANCEL_GRACE:g} s: restarted"
            self.note(f"MCP server {self.spec.name} {late}")
            await self.halt()
            self.start()
        finally:
            self._checked.set()


class NotOpened(Unavailable):
    """A call that needs an address opened first (a sign-in) was not: the user declined, or nobody could be asked
    (the call's result says so, as a server that cannot be used is said)."""


# MCP's error for a call that needs the user to open addresses first (URL_ELICITATION_REQUIRED).
URL_ELICITATION_REQUIRED = -32042


def url_elicitations(exc: BaseException) -> list[dict[str, Any]] | None:
    """The addresses a call's error -32042 asks the user to open first (each ``{"url", "message",
    "elicitationId"}``), or None for any other error."""
    data = getattr(exc, "data", None)
    wanted = data.get("elicitations") if isinstance(data, dict) else None
    if getattr(exc, "code", None) != URL_ELICITATION_REQUIRED or not isinstance(wanted, list):
        return None
    return [e for e in wanted[:5] if isinstance(e, dict) and isinstance(e.get("url"), str)] or None


def state_refused(exc: BaseException) -> bool:
    """True when a 2026-07-28 server refused the ``requestState`` it had sealed (mcp's wire error for it)."""
    data = getattr(exc, "data", None)
    reason = data.get("reason") if isinstance(data, dict) else None
    return getattr(exc, "code", None) == -32602 and reason == "invalid_request_state"


def _answering(ask: Ask, answered: dict[str, dict[str, Any]], again: bool = False) -> Ask:
    """``ask`` for one call: its questions asked one after the other (at 2026-07-28 one round may hold several),
    each answer kept by its question in ``answered``; for the call made ``again``, a question asked exactly as before
    gets the answer given then (once)."""
    lock = asyncio.Lock()

    async def asked(params: dict[str, Any]) -> dict[str, Any]:
        key = json.dumps(params, sort_keys=True, ensure_ascii=False)
        async with lock:
            if again and key in answered:
                return answered.pop(key)
            answer = await ask(params)
            if not again:
                answered[key] = answer
            return answer

    return asked
