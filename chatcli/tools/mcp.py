"""One MCP server for the length of a session: started in the background, its tools loaded once.

Each server runs in a task of its own that opens the session (a process over stdio, or
streamable HTTP), loads the tools through langchain-mcp-adapters and keeps the session open
until chat stops it. A server that cannot start, or stops answering, is marked failed with
one line saying why; chat goes on without its tools. A stdio server's stderr goes to a log
file, never to the terminal, and so do lines it writes to stdout that are not JSON-RPC (one
note says so); a result over 10 MB is dropped with a note (see chatcli.tools.stdio).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import IO, Any, AsyncIterator, Awaitable, Callable

from chatcli.tools.mcp_config import ServerSpec

STARTING, READY, FAILED, STOPPED = "starting", "ready", "failed", "stopped"


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside exception groups (anyio wraps what its tasks raise)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException, spec: ServerSpec, timeout: float) -> str:
    """Why a server failed, in a few words (never a header value)."""
    exc = _leaf(exc)
    name = type(exc).__name__
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
        response = getattr(exc, "response", None)
        return f"{spec.url} answered HTTP {getattr(response, 'status_code', '?')}"
    text = " ".join(str(exc).split())[:200]
    if name == "McpError" and "closed" in text.lower():
        return "the server closed the connection" + (" (it exited)" if spec.command else "")
    return f"{name}: {text}" if text else name


def preload() -> None:
    """Import the MCP client and the adapters (about half a second): call off the event loop."""
    import langchain_mcp_adapters.tools  # noqa: F401
    import mcp.client.stdio  # noqa: F401
    import mcp.client.streamable_http  # noqa: F401


class McpServer:
    """A configured server, its state ("starting", "ready", "failed", "stopped") and its tools."""

    def __init__(
        self,
        spec: ServerSpec,
        log_dir: Path | None,
        start_timeout: float = 30.0,
        note: Callable[[str], None] | None = None,
    ):
        self.spec = spec
        self.note = note  # tells the user of what the server did wrong, short of failing
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self.state = STARTING
        self.detail = ""
        self.tools: list[Any] = []
        self.prompts: list[Any] = []  # mcp.types.Prompt, when the server offers prompts
        self.resources: list[Any] = []  # mcp.types.Resource, when it offers resources
        self.session: Any = None  # the open ClientSession, once ready
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._on_fail: Callable[["McpServer"], None] | None = None
        self._log: IO[str] | None = None  # the open log of a stdio server
        self._strays = 0  # stdout lines that were not JSON-RPC

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def log_path(self) -> Path | None:
        return self.log_dir / f"{self.name}.log" if self.log_dir is not None and self.spec.command else None

    def start(self, loaded: Awaitable[Any], on_fail: Callable[["McpServer"], None] | None = None) -> None:
        """Start the server in the background; ``on_fail`` hears of a failure (once).

        ``loaded`` (awaitable) is the MCP client's import, shared by the servers of a session.
        """
        self._on_fail = on_fail
        self._task = asyncio.create_task(self._run(loaded), name=f"mcp:{self.name}")

    async def stop(self) -> None:
        """Close the session (a stdio server's process ends with it)."""
        self._stop.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 5.0)
        except (asyncio.TimeoutError, Exception):
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self.state == READY:
            self.state = STOPPED

    def fail(self, detail: str) -> None:
        """Mark the server failed (it could not start, or stopped answering) and tell, once."""
        if self.state in (FAILED, STOPPED):
            return
        self.state, self.detail, self.tools, self.prompts, self.resources, self.session = (
            FAILED,
            detail,
            [],
            [],
            [],
            None,
        )
        self.ready.set()
        self._stop.set()
        if self._on_fail is not None:
            self._on_fail(self)

    async def _run(self, loaded: Awaitable[Any]) -> None:
        try:
            await loaded  # the MCP client, imported off the event loop
            from langchain_mcp_adapters.tools import load_mcp_tools

            async with self._session() as session:
                started = await asyncio.wait_for(session.initialize(), self.start_timeout)
                tools = await asyncio.wait_for(load_mcp_tools(session, server_name=self.name), self.start_timeout)
                offered = started.capabilities
                prompts = await self._listed(session.list_prompts, "prompts") if offered.prompts else []
                resources = await self._listed(session.list_resources, "resources") if offered.resources else []
                if self.state == STARTING:
                    self.tools, self.prompts, self.resources, self.session, self.state = (
                        tools,
                        prompts,
                        resources,
                        session,
                        READY,
                    )
                    self.ready.set()
                await self._stop.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - anyio raises groups; every failure is one line
            self.fail(describe(exc, self.spec, self.start_timeout))
        finally:
            self.ready.set()

    async def _listed(self, listing: Callable[[], Awaitable[Any]], what: str) -> list[Any]:
        """The server's prompts or resources; none (and a line in its log) if it cannot list them."""
        try:
            return list(getattr(await asyncio.wait_for(listing(), self.start_timeout), what))
        except Exception as exc:  # noqa: BLE001 - its tools still work without them
            self._logged(f"could not list its {what}: {describe(exc, self.spec, self.start_timeout)}")
            return []

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        from mcp import ClientSession

        async with self._streams() as (read, write), ClientSession(read, write) as session:
            yield session

    @contextlib.asynccontextmanager
    async def _streams(self) -> AsyncIterator[tuple[Any, Any]]:
        spec = self.spec
        if spec.command:
            from chatcli.tools.stdio import stdio_streams

            with self._errlog() as errlog:
                self._log = errlog
                streams = stdio_streams(
                    spec.command, list(spec.args), dict(spec.env), spec.cwd, errlog, self._stray, self._dropped
                )
                async with streams as (read, write):
                    yield read, write
        else:
            try:
                from mcp.client.streamable_http import streamable_http_client
                from mcp.shared._httpx_utils import create_mcp_http_client
            except ImportError:  # an older mcp release
                from mcp.client.streamable_http import streamablehttp_client

                async with streamablehttp_client(spec.url or "", headers=dict(spec.headers) or None) as (
                    read,
                    write,
                    _,
                ):
                    yield read, write
                return
            async with create_mcp_http_client(headers=dict(spec.headers) or None) as client:
                async with streamable_http_client(spec.url or "", http_client=client) as (read, write, _):
                    yield read, write

    @contextlib.contextmanager
    def _errlog(self) -> AsyncIterator[IO[str]]:
        """Where a stdio server's stderr goes: its log file, the user's only (or nowhere if none can be opened)."""
        import os

        path = self.log_path
        try:
            if path is None:
                raise OSError
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8")
        except OSError:
            self.log_dir = None  # no log to point to
            handle = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        try:
            yield handle
        finally:
            handle.close()

    def _logged(self, text: str) -> str:
        """Add a line to the server's log; where to read it, for a note."""
        if self._log is not None and not self._log.closed:
            self._log.write(f"[chat] {text}\n")
            self._log.flush()
        return f"(see {self.log_path})" if self.log_path is not None else "(not kept: no log file)"

    def _stray(self, line: bytes) -> None:
        """A line on stdout that is not JSON-RPC (a banner, a print): logged, told once."""
        shown = line.decode("utf-8", "replace")
        where = self._logged(f"a line on stdout that is not JSON-RPC (ignored): {shown[:2000]}")
        self._strays += 1
        if self._strays == 1 and self.note is not None:
            self.note(f"MCP server {self.name} wrote a line that is not JSON-RPC to stdout {where}; it is ignored")

    def _dropped(self, size: int) -> None:
        """A message over the size limit: dropped (the call it answered gets an error), told each time."""
        from chatcli.tools.stdio import MAX_LINE, size_text

        where = self._logged(f"a message of {size:,} bytes, over the {MAX_LINE:,}-byte limit, was dropped")
        if self.note is not None:
            self.note(
                f"MCP server {self.name} sent a result of {size_text(size)}, over the {MAX_LINE // (1024 * 1024)} MB limit: dropped {where}"
            )
