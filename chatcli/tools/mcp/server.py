"""One MCP server: known from its cached listing, started when it is used, kept while the session lasts.

A server whose listing is cached (chatcli.tools.mcp.cache) is ``idle``: its tools are offered
and nothing runs until one of them is called, or one of its prompts or resources is used. A
server with no cached listing is started at once (in the background) and listed; so is one
``chat tools --refresh`` lists again. Starting lists it again: a listing that changed since it
was cached is said in one line and the next request offers the new one. A server that stops
answering (or whose process exits) goes back to idle, said in one line, and starts again when
it is next used; after three times in a session it is marked failed. A call stopped by the user
(Ctrl-C, a time limit) is cancelled at the server too (``notifications/cancelled``); a server
that still does not answer after a short grace is started again, said in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Awaitable, Callable

from chatcli.tools.listing import Gathering, Listing, Refused
from chatcli.tools.mcp.calls import CALLING, Calls, Unavailable
from chatcli.tools.mcp.config import ServerSpec
from chatcli.tools.mcp.transport import Connection, describe, preload
from chatcli.tools.skills import EXTENSION

__all__ = ["IDLE", "STARTING", "READY", "FAILED", "STOPPED", "McpServer", "Unavailable"]

IDLE, STARTING, READY, FAILED, STOPPED = "idle", "starting", "ready", "failed", "stopped"
MAX_DEATHS = 3  # a server that stops answering this often in a session is given up


def preloading() -> Awaitable[Any]:
    """The MCP client's import, started in a thread now (a future: the prompt stays responsive meanwhile)."""
    return asyncio.ensure_future(asyncio.to_thread(preload))


class McpServer(Calls):
    """A configured server, its state (idle, starting, ready, failed, stopped) and what it offers."""

    def __init__(
        self,
        spec: ServerSpec,
        log_dir: Path | None,
        start_timeout: float = 30.0,
        note: Callable[[str], None] | None = None,
        cache: Any = None,
        loader: Callable[[], Awaitable[Any]] = preloading,
        link: Any = None,
        data: Path | None = None,
        on_fail: Callable[[McpServer], None] | None = None,  # hears that the server was given up
    ):
        note = note or (lambda _text: None)  # (nobody to tell)
        # link: through the MCP host (chatcli.tools.mcp.link); data: in the host, its caller's data directory (logins)
        super().__init__(spec, Connection(spec, log_dir, note, link, data), note, start_timeout)
        self.cache = cache  # a chatcli.tools.mcp.cache.ListCache, or None
        self.loader = loader  # the MCP client's import, shared by the servers of a session
        self.state, self.detail = IDLE, ""
        self.listed_at: float | None = None  # when the listing was taken (epoch seconds)
        self.ready = asyncio.Event()  # set whenever the server is not starting
        self.ready.set()
        self.starts = self.deaths = 0  # times started, and times it stopped answering, in this session
        self._task: asyncio.Task[None] | None = None
        self.on_fail = on_fail
        self._built: tuple[Listing | None, list[Any]] = (None, [])
        self._spoken: tuple[Any, Any] = (None, "")  # what the running server offered at start, and its revision
        self._relisting: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def log_path(self) -> Path | None:
        return self.connection.log_path

    @property
    def offers(self) -> bool:
        """True while its tools, prompts and resources can be offered (known, and not given up)."""
        return self.listing is not None and self.state in (IDLE, STARTING, READY)

    @property
    def tools(self) -> list[Any]:
        """Its tools as LangChain tools (for their names, descriptions and schemas; calls go through ``call_tool``):
        those it offers to run as a call (one that runs only as an MCP task is ``held``)."""
        if self._built[0] is not self.listing:
            listed = self.listing.tools if self.listing else ()
            built = [stand_in(i.name, i.description, i.schema, i.annotations) for i in listed if i.offered]
            self._built = (self.listing, built)
        return self._built[1] if self.offers else []

    @property
    def held(self) -> list[Any]:
        """Its tools that are not offered to the model, and why: those whose schema cannot be offered, and those that
        run only as an MCP task (chat does not run tasks yet) or only for their App, as ``(ToolInfo, why)``."""
        listed = self.listing.tools if self.listing is not None and self.offers else ()
        held = (NOT_A_TASK_RUNNER, APP_ONLY)  # (one for the model, that runs as a task only; one for its App only)
        return [(i, f"{i.refused}: left out" if i.refused else held[not i.for_model]) for i in listed if not i.offered]

    # What it offers of each (none while it offers nothing).
    prompts = property(lambda self: list(self.listing.prompts) if self.offers else [])
    resources = property(lambda self: list(self.listing.resources) if self.offers else [])

    # ---- lifetime ----------------------------------------------------------------------------

    def adopt(self, listing: Listing, listed_at: float) -> None:
        """Know the server by ``listing`` (from the cache) without starting it."""
        self.listing, self.listed_at, self.state = listing, listed_at, IDLE

    @property
    def stale(self) -> bool:
        """True when the listing is older than the server said its lists stay fresh (2026-07-28's ``ttlMs``)."""
        return self.listing is not None and self.listed_at is not None and not self.listing.fresh(self.listed_at)

    def freshen(self) -> None:
        """List the server again, in the background, if its listing is stale: an idle one is started (which lists
        it), a running one asked. What is offered meanwhile is the listing known; a change is said in one line and
        offered from the next request."""
        if self.stale and self.state == IDLE:
            self.start()
        elif self.stale and self.state == READY and (self._relisting is None or self._relisting.done()):
            self._relisting = self._chore(self.relist())

    async def relist(self) -> None:
        """List the running server again (its listing kept as it was if it cannot be listed now: logged; one past a
        bound of a whole listing is given up, said in one line)."""
        session = self.session
        if session is None or isinstance(getattr(session, "listing", None), dict):  # (the host's: it lists there)
            return
        try:
            listing = await self._list(session, *self._spoken)
        except Refused as exc:  # past a bound of a whole listing: given up, as it would be at its start
            if session is self.session:
                self.fail(exc.detail)
            return
        except Exception as exc:  # noqa: BLE001 - a server that stops answering is found out by its next call
            self.connection.logged(f"could not list it again: {describe(exc, self.spec, self.start_timeout)}")
            return
        if session is self.session:
            self._listed(listing)

    async def reroot(self, roots: tuple[str, ...]) -> None:
        """The directories chat works in for this server changed: its next ``roots/list`` is answered with ``roots``,
        and a running server of an era that has the notification is told (``notifications/roots/list_changed``)."""
        if roots == self.spec.roots:
            return
        self.spec = self.connection.spec = replace(self.spec, roots=roots)
        session = self.session
        if session is not None and hasattr(session, "roots_changed") and not session.modern:
            try:
                await session.roots_changed()
            except Exception as exc:  # noqa: BLE001 - a server gone is found out by its next call
                self.connection.logged(f"could not tell it that its roots changed: {exc!s:.200}")

    def start(self) -> None:
        """Start the server in the background (nothing if it runs, or was given up or stopped)."""
        if self.state != IDLE:
            return
        self.state, self.detail, self._halting = STARTING, "", False
        self.ready.clear()
        self._stop = asyncio.Event()
        self.starts += 1
        self._task = asyncio.create_task(self._run(self._stop), name=f"mcp:{self.name}")

    async def ensure(self) -> Any:
        """The open session, the server started first if it is idle; ``Unavailable`` if it cannot be had."""
        await self._checked.wait()  # a call cancelled just now: the server answers again, or is started again
        if self._halting and (run := self._task) is not None and not run.done():
            await asyncio.wait({run})  # being stopped (idle): its session is closing, the call waits to start it again
        if self.state == IDLE:
            self.start()
        await self.ready.wait()
        if self.state != READY or self.session is None:
            raise Unavailable(f"MCP server {self.name} is {self.state}" + (f": {self.detail}" if self.detail else ""))
        return self.session

    async def halt(self, final: bool = False) -> None:
        """Stop the server's process: idle again (it starts when next used), or ``final``ly stopped. One being
        started only to be listed again (its tools known) is not waited for at the end: nobody uses it."""
        if final and self._chores:  # a cancellation being sent: a moment to reach the server
            await asyncio.wait(list(self._chores), timeout=0.5)
        self._halting = True
        self._stop.set()
        task = self._task
        if final and task is not None and self.state == STARTING and self.listing is not None:
            task.cancel()
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 5.0)
            except Exception:  # (out of time, or it failed)
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if not final and self._task is not task:  # a call started it again meanwhile: that run is not this stop's
            return
        if final:
            for chore in list(self._chores):
                chore.cancel()
        if self.state != FAILED:
            self.state = STOPPED if final else IDLE
        self.ready.set()

    def fail(self, detail: str) -> None:
        """Give the server up for the session (it could not start, or stopped answering too often), told once."""
        if self.state in (FAILED, STOPPED):
            return
        self.state, self.detail, self.session = FAILED, detail, None
        self.ready.set()
        self._stop.set()
        if self.on_fail is not None:
            self.on_fail(self)

    async def _run(self, stop: asyncio.Event) -> None:
        exited = False

        def on_exit() -> None:  # a call running now fails with the closed connection, and says so
            nonlocal exited
            exited = True
            if not self.calls:
                stop.set()

        CALLING.set(None)  # (started from within a call, maybe: the server's own tasks are no call's)
        try:
            await self.loader()
            era = self.listing.revision if self.listing is not None else ""
            async with self.connection.open(on_exit, self.elicit, era) as session:
                started = await asyncio.wait_for(session.initialize(), self.start_timeout)
                self._spoken = (started.capabilities, getattr(started, "protocolVersion", ""))
                listing = await self._list(session, *self._spoken)
                if self.state == STARTING:
                    self._listed(listing)
                    self.session, self.state = session, READY
                    self.ready.set()
                await stop.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - anyio raises groups; every failure is one line
            if stop is self._stop and self.state == STARTING:
                self.fail(self.connection.describe(exc, self.start_timeout))
            elif stop is self._stop and self.state == READY and not self._halting:
                self._died(self.connection.describe(exc, self.start_timeout))
        else:
            if exited and not self._halting and self.state == READY and stop is self._stop:
                self._died("its process exited")
        finally:
            if stop is self._stop:  # (not when a later run has begun meanwhile)
                self.session = None
                if self.state in (STARTING, READY):
                    self.state = IDLE if self.listing is not None else STOPPED
                self.ready.set()

    async def _list(self, session: Any, offered: Any, revision: Any = "") -> Listing:
        """What the server offers now: its tools, its prompts and resources if it has them (every page of each), and
        how long the server said these lists stay fresh (the shortest). Bounded as a whole as the pages arrive
        (chatcli.tools.listing.Gathering: items, bytes, pages and one deadline): past a bound, ``Refused``."""
        if isinstance(getattr(session, "listing", None), dict):  # the MCP host's: listed there already
            return Listing.from_json(self.name, session.listing)
        gathering = Gathering()
        deadline = asyncio.timeout(gathering.seconds)
        try:
            async with deadline:
                wanted = [what for what in ("prompts", "resources") if getattr(offered, what)]
                if EXTENSION in (getattr(offered, "extensions", None) or {}):  # its skills (chatcli.tools.skills)
                    wanted.append("skills")
                for what in ("tools", *wanted):
                    await self._pages(session, what, gathering)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise gathering.late() from None
        return gathering.listing(self.name, revision)

    async def _pages(self, session: Any, what: str, gathering: Gathering) -> None:
        """Every page of one list (``what``: tools, prompts or resources), into ``gathering``. A list the server cannot
        give whole (prompts, resources) is left out, with a line in its log; its tools still work without it."""
        listing, cursor = getattr(session, f"list_{what}"), None
        while True:
            gathering.asking(what)
            try:
                page = await asyncio.wait_for(listing(cursor=cursor), self.start_timeout)
            except Exception as exc:  # noqa: BLE001 - its tools still work without its prompts or resources
                if what == "tools":
                    raise
                self.connection.logged(f"could not list its {what}: {describe(exc, self.spec, self.start_timeout)}")
                gathering.drop(what)
                return
            ttl = session.ttl_of(page) if hasattr(session, "ttl_of") else None
            if (cursor := gathering.add(what, page, ttl)) is None:
                return

    def _listed(self, listing: Listing) -> None:
        """The server listed what it offers: kept, cached, and said if it differs from what was known."""
        before, self.listing, self.listed_at = self.listing, listing, time.time()
        if self.cache is not None:
            self.cache.keep(self.spec, listing)
        said = {(t.name, t.refused) for t in before.tools} if before is not None else set()
        for tool in listing.tools:
            if tool.refused and (tool.name, tool.refused) not in said:
                self.note(f"MCP server {self.name} offers {tool.name}, which chat leaves out: {tool.refused}")
        if before is not None and before != listing:
            now = f"({listing.summary()} now); the model gets the new list from its next request"
            self.note(f"MCP server {self.name} offers other tools than when it was last listed {now}")

    def _died(self, why: str) -> None:
        """The server stopped answering: idle again (started when next used), or given up the third time."""
        self.deaths += 1
        self.session = None
        self._stop.set()
        if self.deaths >= MAX_DEATHS:
            self.fail(f"stopped answering {self.deaths} times ({why})")
            return
        self.state = IDLE
        self.ready.set()
        self.note(f"MCP server {self.name} stopped answering ({why}); it starts again when it is next used")


# Why a tool that runs only as an MCP task is not offered to the model.
APP_ONLY = "only its MCP App calls it (chat serve's page shows the App): not offered to the model"
NOT_A_TASK_RUNNER = "runs only as an MCP task, which chat does not run yet: not offered to the model"


def stand_in(name: str, description: str, schema: dict[str, Any], hints: dict[str, Any] | None) -> Any:
    """A tool of a server as a LangChain tool: its name, description and schema (calls go through the server)."""
    from langchain_core.tools import StructuredTool

    async def not_here(**_: Any) -> Any:
        raise RuntimeError("an MCP server's tool is called through its server")

    return StructuredTool(name=name, description=description, args_schema=schema, coroutine=not_here, metadata=hints)
