"""Every tool of a session in one place: what the model is offered, what needs approval, how a call runs.

Tools come from chat's built-in groups and from the MCP servers in mcp.json (ready ones
only: a server still starting or failed offers nothing). A call runs with a time limit; its
result comes back as text, whatever the tool returned. Approval rules live here too: the
``approve`` patterns of config.toml ("notes:search", "notes:*", "files"), the tools the user
allowed "always" during the session, and ``--yes``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from chatcli.tools import builtin
from chatcli.tools.mcp import FAILED, READY, STARTING, McpServer
from chatcli.tools.mcp_config import ServerSpec


@dataclass(frozen=True)
class ToolEntry:
    """A tool as the model sees it (``name``), where it comes from, and the LangChain tool that runs it."""

    name: str
    server: str
    tool: Any
    group: str | None = None

    @property
    def label(self) -> str:
        """ "notes:search", or "shell (built-in)"."""
        return f"{self.tool.name} (built-in)" if self.server == builtin.SERVER else f"{self.server}:{self.tool.name}"

    @property
    def description(self) -> str:
        return " ".join(str(self.tool.description or "").split())


@dataclass
class Outcome:
    """What a call gave back: its text, how it ended ("ok", "error", "timeout", "cancelled", "refused"), its time."""

    text: str
    status: str = "ok"
    seconds: float = 0.0


@dataclass
class ServerStatus:
    """One line of `chat tools`: a server (or the built-ins), its state and its tools."""

    name: str
    transport: str
    state: str
    detail: str = ""
    where: str = ""
    tools: list[ToolEntry] = field(default_factory=list)
    log: Path | None = None
    prompts: list[Any] = field(default_factory=list)  # chatcli.tools.context.PromptEntry
    resources: list[Any] = field(default_factory=list)  # chatcli.tools.context.ResourceEntry


_NAME = re.compile(r"[^A-Za-z0-9_-]")


def result_text(content: Any) -> str:
    """A tool result as text: text parts joined, other parts (images, files) named."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict):
                parts.append(
                    f"[{part.get('type', 'part')} {part.get('mime_type') or part.get('mimeType') or ''}]".replace(
                        " ]", "]"
                    )
                )
        return "\n".join(parts)
    return "" if content is None else str(content)


class Toolbox:
    """The tools of one session and the rules for calling them."""

    def __init__(
        self,
        *,
        builtin_groups: tuple[str, ...] = (),
        servers: list[ServerSpec] | None = None,
        approve: tuple[str, ...] = (),
        approve_all: bool = False,
        timeout: float = 120.0,
        log_dir: Path | None = None,
        note: Callable[[str], None] | None = None,
        start_timeout: float = 30.0,
    ):
        self.builtin_groups = builtin.check_groups(builtin_groups)
        self._made: list[ToolEntry] | None = None
        self.servers = [McpServer(spec, log_dir, start_timeout, note) for spec in servers or []]
        self.approve = tuple(approve)
        self.approve_all = approve_all
        self.timeout = timeout
        self.note = note
        self.allowed: set[str] = set()  # tools the user allowed "always" this session (labels)
        self._started = False
        self.loaded: Any = None  # the MCP client's import (a future), once started

    @property
    def _builtin(self) -> list[ToolEntry]:
        """The built-in tools, made when first needed (LangChain's tool classes load then)."""
        if self._made is None:
            self._made = [
                ToolEntry(tool.name, builtin.SERVER, tool, group)
                for group in self.builtin_groups
                for tool in builtin.make_tools((group,))
            ]
        return self._made

    # ---- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every MCP server in the background (the caller goes on at once)."""
        if self._started:
            return
        self._started = True
        if self.servers:
            from chatcli.tools.mcp import preload

            # The MCP client is imported once, in a thread: the prompt stays responsive.
            self.loaded = asyncio.ensure_future(asyncio.to_thread(preload))
        for server in self.servers:
            server.start(asyncio.shield(self.loaded), self._failed)

    async def warm(self) -> None:
        """Wait until the MCP client is imported and the servers are being spawned.

        Loading the rest of chat after this, not during it, gets the servers going sooner:
        both imports would share one interpreter lock.
        """
        if self.loaded is not None:
            await asyncio.shield(self.loaded)
            await asyncio.sleep(0)  # let the server tasks spawn their processes

    async def settle(self, timeout: float | None = None) -> None:
        """Wait until no server is still starting, or ``timeout`` seconds (each server has its own start limit too)."""
        self.start()
        waiting = [asyncio.ensure_future(s.ready.wait()) for s in self.servers if s.state == STARTING]
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=timeout)
            for task in late:
                task.cancel()

    async def aclose(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.servers), return_exceptions=True)

    def _failed(self, server: McpServer) -> None:
        if self.note is not None:
            path = server.log_path
            log = f" (its log: {path})" if path is not None and path.exists() and path.stat().st_size else ""
            self.note(f"MCP server {server.name}: {server.detail}{log}; going on without its tools")

    # ---- what is offered ---------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """True if any tool could be offered (built-ins on, or MCP servers configured)."""
        return bool(self.builtin_groups or self.servers)

    def entries(self) -> list[ToolEntry]:
        """The tools the model can call now, each under a unique name fit for the API."""
        found: list[ToolEntry] = list(self._builtin)
        taken = {entry.name for entry in found}
        for server in self.servers:
            if server.state != READY:
                continue
            for tool in server.tools:
                name = _NAME.sub("_", tool.name)[:64] or "tool"
                if name in taken:
                    name = _NAME.sub("_", f"{server.name}_{tool.name}")[:64]
                taken.add(name)
                found.append(ToolEntry(name, server.name, tool))
        return found

    def find(self, name: str) -> ToolEntry | None:
        return next((entry for entry in self.entries() if entry.name == name), None)

    def schemas(self) -> list[dict[str, Any]]:
        """The tools as OpenAI function definitions, under the names ``entries`` gives them."""
        from langchain_core.utils.function_calling import convert_to_openai_tool

        schemas = []
        for entry in self.entries():
            schema = convert_to_openai_tool(entry.tool)
            schema["function"]["name"] = entry.name
            schemas.append(schema)
        return schemas

    def status(self) -> list[ServerStatus]:
        """The built-ins and each server: state, and tools when ready."""
        rows = []
        if self.builtin_groups:
            rows.append(
                ServerStatus(
                    builtin.SERVER, "built-in", READY, where=", ".join(self.builtin_groups), tools=list(self._builtin)
                )
            )
        from chatcli.tools.context import prompts, resources

        entries, offered, readable = self.entries(), prompts(self), resources(self)
        for server in self.servers:
            tools = [e for e in entries if e.server == server.name]
            row = ServerStatus(
                server.name,
                server.spec.transport,
                server.state,
                server.detail,
                server.spec.where,
                tools,
                server.log_path,
            )
            row.prompts = [p for p in offered if p.server == server.name]
            row.resources = [r for r in readable if r.server == server.name]
            rows.append(row)
        return rows

    # ---- approval ----------------------------------------------------------------------------

    def preapproved(self, entry: ToolEntry, arguments: Any = None) -> bool:
        """True if ``entry`` may run without asking: --yes, a config pattern, or "always" this session.

        A files call is let through by a pattern or "always" only for a path inside the working
        directory (resolved, links followed); one outside, or with ``arguments`` unknown, is asked.
        """
        if self.approve_all:
            return True
        if entry.server == builtin.SERVER and entry.group == "files" and not builtin.inside_workdir(arguments):
            return False
        if entry.label in self.allowed:
            return True
        key = f"{entry.server}:{entry.tool.name}"
        for pattern in self.approve:
            if ":" in pattern:
                if fnmatch.fnmatchcase(key, pattern):
                    return True
            elif entry.server == builtin.SERVER and pattern in (entry.group, entry.tool.name):
                return True
        return False

    def allow(self, entry: ToolEntry) -> None:
        """Run ``entry`` without asking for the rest of the session."""
        self.allowed.add(entry.label)

    # ---- calling -----------------------------------------------------------------------------

    async def call(self, entry: ToolEntry, arguments: dict[str, Any], call_id: str = "call") -> Outcome:
        """Run one approved call within the time limit; its result as text.

        A tool that fails gives an error result (the model reads it and can try otherwise); an
        MCP server that stops answering is marked failed. Cancellation goes through (the
        caller records it).
        """
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout or None):
                message = await entry.tool.ainvoke(
                    {"name": entry.tool.name, "args": arguments, "id": call_id, "type": "tool_call"}
                )
        except TimeoutError:
            return Outcome(
                f"error: the call took longer than {self.timeout:g} s and was stopped",
                "timeout",
                time.monotonic() - started,
            )
        except Exception as exc:  # noqa: BLE001 - a failed call is a result the model reads
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
            if entry.server != builtin.SERVER:
                server = next(s for s in self.servers if s.name == entry.server)
                if server.state != FAILED and _is_transport_error(exc):
                    from chatcli.tools.mcp import describe

                    server.fail(f"stopped answering ({describe(exc, server.spec, self.timeout)})")
            return Outcome(f"error: {detail}", "error", time.monotonic() - started)
        content = getattr(message, "content", message)
        status = "error" if getattr(message, "status", "success") == "error" else "ok"
        return Outcome(result_text(content), status, time.monotonic() - started)


def _is_transport_error(exc: BaseException) -> bool:
    """True if the server itself is gone (a closed connection), not just the call failing."""
    import anyio

    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).lower()
    return (
        isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError))
        or "connection closed" in text
    )
