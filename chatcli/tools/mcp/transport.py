"""How chat reaches one MCP server: a process over stdio (its stderr to a log file) or streamable HTTP.

``Connection.open()`` yields an initialised-to-be ``mcp.ClientSession``; a stdio server's lines on
stdout that are not JSON-RPC go to its log (one note says so), a result over 10 MB is dropped
with a note (see chatcli.tools.stdio), and ``on_exit`` hears when its process ends.
``describe`` says why a server failed in a few words.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any, AsyncIterator, Callable

from chatcli.errors import ListenerRefused
from chatcli.paths import private_dir
from chatcli.tools.asking import SAMPLING, Ask
from chatcli.tools.listing import MODERN
from chatcli.tools.mcp.config import ServerSpec

# What a server of the HTTP+SSE transport (2024-11-05) answers a streamable HTTP client's POST to its URL.
OLD_TRANSPORT = (404, 405)


class OldTransport(Exception):
    """A server that refused streamable HTTP as one of the older HTTP+SSE transport does; ``detail`` says what to
    change (as chatcli.tools.mcp.calls.Unavailable's says why)."""

    def __init__(self, answered: str):
        change = 'give it "type": "sse" in mcp.json'
        self.detail = f"{answered}: if it is a server of the older HTTP+SSE transport, {change}"
        super().__init__(self.detail)


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside exception groups (anyio wraps what its tasks raise)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException, spec: ServerSpec, timeout: float) -> str:
    """Why a server failed, in a few words (never a header value)."""
    exc = _leaf(exc)
    if (listener := ListenerRefused.within(exc)) is not None:  # chatcli.local.loopback
        return f"{listener}: nothing was sent there (the address is not in your mcp.json)"
    name = type(exc).__name__
    if detail := getattr(exc, "detail", None):  # chatcli.tools.mcp.calls.Unavailable: the reason as it was said
        return str(detail)
    if isinstance(exc, FileNotFoundError) and spec.cwd and not Path(spec.cwd).is_dir():
        return f"its directory does not exist: {spec.cwd} (cwd in mcp.json)"
    if isinstance(exc, FileNotFoundError) and spec.command:
        return f"command not found: {spec.command}"
    if isinstance(exc, PermissionError) and spec.command:
        return f"cannot run {spec.command}: permission denied"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return f"no answer within {timeout:g} s"
    if name in ("ConnectError", "ConnectTimeout"):
        return f"cannot connect to {spec.url}"
    if name == "HTTPStatusError":
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        if status == 401:  # it asks for a login (OAuth, WWW-Authenticate) that chat does not have
            return f"needs a login: run chat mcp login {spec.name}"
        return f"{spec.url} answered HTTP {status}"
    if name in ("LoginRefused", "LoginTimedOut"):  # chat mcp login's own
        return str(exc)
    if name in ("OAuthFlowError", "OAuthTokenError", "OAuthRegistrationError"):
        return f"its sign-in failed ({' '.join(str(exc).split())[:160]}): run chat mcp login {spec.name}"
    text = " ".join(str(exc).split())[:200]
    if name in ("McpError", "MCPError") and "closed" in text.lower():
        return "the server closed the connection" + (" (it exited)" if spec.command else "")
    return f"{name}: {text}" if text else name


def is_transport_error(exc: BaseException) -> bool:
    """True if the server itself is gone (a closed connection), not just the call failing."""
    import anyio

    exc, closed = _leaf(exc), (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError)
    return isinstance(exc, closed) or "connection closed" in str(exc).lower()


def preload() -> None:
    """Import the MCP client (about half a second): call off the event loop."""
    import mcp.client.client  # noqa: F401
    import mcp.client.streamable_http  # noqa: F401
    import mcp.types  # noqa: F401

    import chatcli.tools.stdio  # noqa: F401


def _callbacks(elicit: Ask | None) -> tuple[Any, Any]:
    """``elicit`` as the mcp client's elicitation and sampling callbacks (none: chat says it cannot). A question goes
    in as JSON, its answer comes out as mcp's result; a request to use the model (JSON, ``{"sampling": params}``)
    goes where the server's questions go, its answer MCP's result, else error -1 (the user rejected it) with why."""
    if elicit is None:
        return None, None

    async def answer(_context: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        asked = params.model_dump(mode="json", by_alias=True, exclude_none=True)
        return ElicitResult.model_validate(await elicit(asked))

    async def sample(_context: Any, params: Any) -> Any:
        from mcp.types import CreateMessageResult, ErrorData

        asked = params.model_dump(mode="json", by_alias=True, exclude_none=True)
        answer = await elicit({SAMPLING: asked})
        found = answer.get("result") if isinstance(answer, dict) else None
        if isinstance(found, dict):
            with contextlib.suppress(ValueError):
                return CreateMessageResult.model_validate(found)
        why = answer.get("error") if isinstance(answer, dict) else None
        return ErrorData(code=-1, message=" ".join(str(why or "the user declined the request").split())[:500])

    return answer, sample


class Session:
    """A server's session as chatcli.tools.mcp.server uses it, over mcp's ``Client`` (either era of the protocol:
    the 2026-07-28 revision, discovered; an earlier one, initialised). The client is connected already:
    ``initialize`` says what it agreed on."""

    def __init__(self, client: Any):
        self.client = client

    def __getattr__(self, name: str) -> Any:
        """mcp's own ``list_tools``, ``call_tool``, ``get_prompt``, ``read_resource`` (cancelling a call's task
        cancels it at the server: the client tells it)."""
        return getattr(self.client, name)

    async def initialize(self) -> Any:
        client = self.client
        return SimpleNamespace(capabilities=client.server_capabilities, protocolVersion=client.protocol_version)

    @property
    def modern(self) -> bool:
        """True when the server speaks the stateless revision (no ping there: a discover answers instead)."""
        return getattr(self.client.session, "discover_result", None) is not None

    def ttl_of(self, result: Any) -> int | None:
        """How long the server said a list ``result`` stays fresh (ms); None when it said nothing (every server of
        an earlier revision: a ``ttlMs`` there is no word of the protocol)."""
        said = self.modern and "ttl_ms" in getattr(result, "model_fields_set", ())
        return int(result.ttl_ms) if said else None

    async def list_tools(self, cursor: str | None = None) -> Any:
        """A page of the server's tools as it sent them. mcp is told of those chat offers (it puts their
        ``x-mcp-header`` parameters in ``Mcp-Param-*`` headers); one chat leaves out (chatcli.tools.listing.unfit)
        stays in the page, for chat to say why."""
        from mcp.types import ListToolsRequest, ListToolsResult, PaginatedRequestParams

        from chatcli.tools.listing import unfit

        session = self.client.session
        request = ListToolsRequest(params=PaginatedRequestParams(cursor=cursor))
        page = await session.send_request(request, ListToolsResult)
        kept = page.model_copy(update={"tools": [t for t in page.tools if not unfit(t.input_schema, self.modern)]})
        session._absorb_tool_listing(kept, complete=not cursor and not page.next_cursor)
        return page

    async def list_skills(self, cursor: str | None = None) -> Any:
        """A page of the skills extension's ``skills/list``: its entries as sent (chatcli.tools.skills reads them)."""
        from mcp.types import PaginatedRequestParams, Request
        from pydantic import TypeAdapter

        request = Request(method="skills/list", params=PaginatedRequestParams(cursor=cursor))
        page = await self.client.session.send_request(request, TypeAdapter(dict[str, Any]))
        if not isinstance(page.get("skills"), list):
            raise ValueError("its answer to skills/list has no list of skills")
        return SimpleNamespace(skills=page["skills"], next_cursor=page.get("nextCursor"))

    async def complete(self, prompt: str, argument: str, value: str, context: dict[str, str]) -> Any:
        """MCP's completion/complete for an argument of ``prompt``: what ``value`` may become."""
        from mcp.types import PromptReference

        reference = PromptReference(type="ref/prompt", name=prompt)
        return await self.client.complete(reference, {"name": argument, "value": value}, context or None)

    async def roots_changed(self) -> None:
        """Tell the server the client's roots changed (2025's ``notifications/roots/list_changed``; the 2026 revision
        has none: a server asks for them with each request that needs them)."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (mcp marks the roots capability deprecated as of 2026-07-28)
            await self.client.session.send_roots_list_changed()

    async def send_ping(self) -> Any:
        """Whether the server still answers: a ping, or (the 2026 revision has none) a discover."""
        session = self.client.session
        return await session.send_discover(self.client.protocol_version) if self.modern else await session.send_ping()


@dataclass(eq=False)
class Connection:
    """The way to one server, and its log (``log_dir``/NAME.log for a stdio server)."""

    spec: ServerSpec
    log_dir: Path | None
    note: Callable[[str], None]  # tells the user of what the server did wrong, short of failing
    link: Any = None  # a chatcli.tools.mcp.link.HostLink: the server is the MCP host's (the warm worker's runs)
    data: Path | None = None  # whose logins: in the MCP host, its caller's data directory (None: this process's)
    _log: IO[str] | None = None
    _strays: int = 0  # stdout lines that were not JSON-RPC
    refused: int | None = None  # an HTTP server's 401 or 403 while connecting
    login_needed: Any = None  # the sign-in a request ended with (chatcli.tools.mcp.oauth.LoginNeeded)

    @property
    def name(self) -> str:
        return self.spec.name

    def describe(self, exc: BaseException, timeout: float) -> str:
        """Why the server failed (``describe``), a request it refused with 401 after the session opened (a server
        that lets ``initialize`` through unsigned) said as the login it wants."""
        if self.login_needed is not None:
            return str(self.login_needed.detail)
        if self.refused == 401 and getattr(_leaf(exc), "detail", None) is None:
            return f"needs a login: run chat mcp login {self.name}"
        return describe(exc, self.spec, timeout)

    @property
    def log_path(self) -> Path | None:
        """The server's log: a stdio server's stderr, and what any server logs (``notifications/message``)."""
        if self.log_dir is None:
            return None
        path = self.log_dir / f"{self.name}.log"
        return path if self.spec.command or path.exists() else None

    async def _roots(self, context: Any) -> Any:
        """MCP's roots/list: the directories chat works in (the session's, else the server's or chat's own)."""
        from mcp.types import ListRootsResult, Root

        found = self.spec.roots or (self.spec.cwd or os.getcwd(),)
        return ListRootsResult(roots=[Root(uri=Path(d).as_uri(), name=Path(d).name or d) for d in found])  # type: ignore[arg-type]

    async def heard(self, params: Any) -> None:
        """A log message of the server's (MCP's ``notifications/message``): a line of its log, never on the screen
        (``chat tools --log NAME`` shows the log)."""
        import json

        from chatcli.text import neutralise

        data, logger = params.data, params.logger
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
        line = f"[{str(params.level)[:20]}{' ' + str(logger)[:100] if logger else ''}] {' '.join(text.split())[:4000]}"
        self._line(neutralise(line))  # a server's text: its escapes shown, never obeyed where the log is read

    @contextlib.asynccontextmanager
    async def open(self, on_exit: Callable[[], None], elicit: Ask | None, era: str) -> AsyncIterator[Any]:
        """A session with the server; ``on_exit``: a stdio server's process ended; ``elicit``: answers the server's
        questions to the user (JSON in and out; none: chat says it cannot); ``era``: the revision it spoke when last
        listed. A server known to speak an earlier revision than 2026-07-28 is initialised at once (asking it
        ``server/discover`` first costs an error in its log, and a session on an HTTP one); any other is asked which
        it speaks (mcp's "auto"). One that no longer answers as it did is asked anew."""
        if self.link is not None:
            try:
                channel = await self.link.connect()
            except OSError as exc:  # no host to be had (no private directory, it would not start): chat's own
                self.logged(f"the MCP host could not be reached ({exc}): the server runs for this run only")
            else:
                async with self.link.session(self, channel, on_exit, elicit) as session:
                    yield session
                return
        from mcp import Client
        from mcp.client.extension import advertise
        from mcp.types import Implementation

        from chatcli import __version__
        from chatcli.tools.asking import MAX_QUESTIONS
        from chatcli.tools.mcp import apps
        from chatcli.tools.skills import EXTENSION

        answering, sampling = _callbacks(elicit)  # (the model lent where the user is asked)
        # The directories chat works in; its log messages to its log (a 2026-07-28 server logs only what a request asks
        # for); cache=None: chat keeps the one cache of its lists (chatcli.tools.mcp.cache), by their lifetimes; the
        # skills it serves listed (chatcli.tools.skills), its tools' views (chatcli.tools.mcp.apps); a round more than
        # the questions chat answers in one call: its own limit says it first.
        options: dict[str, Any] = dict(elicitation_callback=answering, sampling_callback=sampling, cache=None)
        options |= dict(list_roots_callback=self._roots, logging_callback=self.heard, log_level="info")
        options |= dict(extensions=[advertise(EXTENSION), advertise(apps.EXTENSION, {"mimeTypes": [apps.MIME]})])
        options |= dict(client_info=Implementation(name="chatcli", version=__version__))
        options |= dict(input_required_max_rounds=MAX_QUESTIONS + 1)
        self.refused = self.login_needed = None
        modes = ["legacy", "auto"] if era and era < MODERN else ["auto"]
        modes = ["legacy"] if self.spec.sse else modes  # no server of that transport speaks the 2026 revision
        connected: list[object] = []  # the connection that succeeded: the exit of a process tried before is not told

        def exited(attempt: object) -> Callable[[], None]:
            return lambda: on_exit() if connected and connected[0] is attempt else None

        async with contextlib.AsyncExitStack() as stack:
            for mode in modes:
                attempt = object()
                try:
                    streams = self.spec.in_memory() if self.spec.in_memory else self._streams(exited(attempt))
                    client = Client(streams, mode=mode, **options)
                    await stack.enter_async_context(client)
                    connected.append(attempt)
                    break
                except Exception as exc:
                    if self.refused == 401:  # mcp says only "an error response": its status says a login is wanted
                        from chatcli.tools.mcp.oauth import LoginNeeded

                        raise LoginNeeded(self.name) from exc
                    if self.refused in OLD_TRANSPORT:  # what an HTTP+SSE server answers a streamable HTTP client
                        raise OldTransport(f"{self.spec.url} answered HTTP {self.refused}") from exc
                    if mode == modes[-1]:
                        raise
                    self.logged(f"it no longer answers as a server of {era} does: asked which revision it speaks")
            yield Session(client)

    @contextlib.asynccontextmanager
    async def _streams(self, on_exit: Callable[[], None]) -> AsyncIterator[tuple[Any, Any]]:
        spec = self.spec
        if spec.command:
            from chatcli.tools.stdio import stdio_streams

            # Its stderr: its log file, the user's only (or nowhere if none can be opened).
            with self._opened(os.O_TRUNC) or open(os.devnull, "w", encoding="utf-8") as errlog:  # noqa: SIM115
                self._log = errlog
                run = (spec.command, list(spec.args), dict(spec.env), spec.cwd, errlog)
                async with stdio_streams(*run, self._stray, self._dropped, on_exit) as pair:
                    yield pair
            return
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        from chatcli.local import loopback
        from chatcli.tools.mcp.oauth import auth_for

        # A server chat is signed in to (chat mcp login) gets its token, for its URL only: the caller's login.
        auth = auth_for(spec, self.data, lambda needed: setattr(self, "login_needed", needed))

        async def seen(response: Any) -> None:  # the status mcp's errors no longer carry
            if response.status_code in (401, 403) or (response.status_code in OLD_TRANSPORT and not spec.sse):
                self.refused = response.status_code

        def watched(headers: Any = None, timeout: Any = None, auth: Any = None) -> Any:
            client = create_mcp_http_client(headers=headers, timeout=timeout, auth=auth)
            client.event_hooks["response"].append(seen)
            return client

        headers = dict(spec.headers) or None
        with loopback.Allowed([spec.url]):  # its address is the user's (mcp.json, their editor's), while open
            if spec.sse:  # the HTTP+SSE transport of the 2024-11-05 revision (mcp.json's "type": "sse")
                from mcp.client.sse import sse_client

                async with sse_client(spec.url or "", headers, auth=auth, httpx_client_factory=watched) as pair:
                    yield pair
                return
            async with watched(headers, auth=auth) as client:
                async with streamable_http_client(spec.url or "", http_client=client) as pair:
                    yield pair

    def _opened(self, flag: int) -> IO[str] | None:
        """The server's log file, the user's only, opened with ``flag``; None (and no log to point to) if it cannot
        be."""
        try:
            if self.log_dir is None:
                raise OSError
            path = self.log_dir / f"{self.name}.log"
            private_dir(path.parent)
            return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | flag, 0o600), "a", encoding="utf-8")
        except OSError:
            self.log_dir = None
            return None

    def logged(self, text: str) -> str:
        """Add a line to the server's log; where to read it, for a note."""
        self._line(f"[chat] {text}")
        return f"(see {self.log_path})" if self.log_path is not None else "(not kept: no log file)"

    def _line(self, text: str) -> None:
        """One line of the server's log (a server of HTTP's log is opened when it first has one)."""
        if self._log is None and self.log_dir is not None and not self.spec.command:
            self._log = self._opened(os.O_APPEND)
        if self._log is not None and not self._log.closed:
            self._log.write(text + "\n")
            self._log.flush()

    def _stray(self, line: bytes) -> None:
        """A line on stdout that is not JSON-RPC (a banner, a print): logged, told once."""
        shown = line.decode("utf-8", "replace")
        where = self.logged(f"a line on stdout that is not JSON-RPC (ignored): {shown[:2000]}")
        self._strays += 1
        if self._strays == 1:
            self.note(f"MCP server {self.name} wrote a line that is not JSON-RPC to stdout {where}; it is ignored")

    def _dropped(self, size: int) -> None:
        """A message over the size limit: dropped (the call it answered gets an error), told each time."""
        from chatcli.tools.stdio import MAX_LINE, size_text

        where = self.logged(f"a message of {size:,} bytes, over the {MAX_LINE:,}-byte limit, was dropped")
        limit = f"over the {MAX_LINE // (1024 * 1024)} MB limit: dropped {where}"
        self.note(f"MCP server {self.name} sent a result of {size_text(size)}, {limit}")
