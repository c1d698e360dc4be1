"""Every tool of a session in one place: what the model is offered, what needs approval, how a call runs.

Tools come from chat's built-in groups and from the MCP servers in mcp.json: those whose
listing is known (cached, or listed since the session began), started or not; a server still
starting with nothing cached, or failed, offers nothing. A call runs with a time limit (an MCP
server is started for it first if need be); its result comes back as text, whatever the tool
returned, and its progress (the server's notifications) goes to the caller as it comes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from chatcli.tools import builtin
from chatcli.tools.asking import Ask, KeptCalls
from chatcli.tools.mcp.config import ServerSpec
from chatcli.tools.mcp.server import FAILED, READY, STARTING, STOPPED, McpServer, Unavailable, preloading
from chatcli.tools.results import Outcome, heard, mcp_block, result_media, result_text
from chatcli.tools.sandbox import Policy, describe


@dataclass(frozen=True)
class ToolEntry:
    """A tool as the model sees it (``name``), where it comes from, and the LangChain tool that runs it."""

    name: str
    server: str
    tool: Any
    group: str | None = None
    where: str = ""  # where a built-in shell's commands run, as its toolbox's sandbox says (made with the entry)
    reads: bool = False  # the server's read_resource tool, chat's own (chatcli.tools.reader)

    @property
    def label(self) -> str:
        """ "notes:search", or "shell (built-in)"."""
        return f"{self.tool.name} (built-in)" if self.server == builtin.SERVER else f"{self.server}:{self.tool.name}"

    @property
    def description(self) -> str:
        return " ".join(str(self.tool.description or "").split())

    @property
    def hook_name(self) -> str:
        """The name a hook reads (chatcli.tools.hooks): chat's own tool's as Claude Code names it (``Bash``, with
        chat's own in ``builtin.PEERS``), or ``mcp__SERVER__TOOL``."""
        if self.server == builtin.SERVER:
            return builtin.PEERS.get(self.name, self.name)
        return f"mcp__{self.server}__{self.tool.name}"


_NAME = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 64  # the longest tool name every provider takes (OpenAI's and Gemini's limit)
# The names of chat's own tools, whether their groups are on or not: an MCP tool never takes one (a call of
# ``shell`` is always chat's shell, in this session and in a thread resumed in another).
RESERVED = frozenset(name for names in builtin.GROUPS.values() for name in names)


def fit(name: str) -> str:
    """``name`` as every provider takes it: letters, digits, _ and - only (others become _), starting with a letter
    or _ (Gemini's rule), at most MAX_NAME characters; "tool" for nothing."""
    name = _NAME.sub("_", name) or "tool"
    return (name if name[0].isalpha() or name[0] == "_" else f"_{name}")[:MAX_NAME]


def _key(name: str) -> str:
    """What two names clash on: case and - against _ aside (a model, or a provider, may confuse them)."""
    return name.lower().replace("-", "_")


def offered_names(builtins: list[str], listed: list[tuple[str, str]]) -> list[str]:
    """A unique name for each MCP tool of ``listed`` ((server, tool), in the servers' order), beside the built-in
    tools' ``builtins``: no two names the same, nor alike as ``_key`` sees them.

    A tool keeps its own name (``fit``) when no other tool has it, it names none of chat's own tools (``RESERVED``)
    and it is not the SERVER_TOOL name of a tool that needs one; otherwise it is SERVER_TOOL (every tool of a shared
    name, not only the later ones), and, where that is taken too, SERVER_TOOL_2, _3, ... in the servers' order. The
    names depend only on what is listed and the servers' order, never on which server listed first or fastest.
    """
    own = [fit(tool) for _, tool in listed]
    long = [fit(f"{server}_{tool}") for server, tool in listed]
    held = {_key(name) for name in [*builtins, *RESERVED]}
    by_key: dict[str, list[int]] = {}
    for i, name in enumerate(own):
        by_key.setdefault(_key(name), []).append(i)
    renamed: set[int] = set()
    waiting = [i for same in by_key.values() if len(same) > 1 for i in same]
    waiting += [i for key in held for i in by_key.get(key, ())]
    while waiting:  # a tool named as a renamed one's new name is renamed too, and so on
        i = waiting.pop()
        if i not in renamed:
            renamed.add(i)
            waiting += by_key.get(_key(long[i]), ())
    taken = held | {_key(name) for i, name in enumerate(own) if i not in renamed}
    names, tried = [], Counter[str]()  # (the suffixes tried for each name: a thousand alike cost no more than one)
    for i, name in enumerate(own):
        if i in renamed:
            name = long[i]
            while _key(name) in taken:
                tried[_key(long[i])] += 1
                number = f"_{tried[_key(long[i])] + 1}"
                name = long[i][: MAX_NAME - len(number)] + number
            taken.add(_key(name))
        names.append(name)
    return names


# The built-in tools' definitions (Toolbox.schemas), by name and description (the shell's names where it runs).
_BUILTIN_DEFINITIONS: dict[tuple[str, str], dict[str, Any]] = {}


def _definition(entry: ToolEntry) -> dict[str, Any]:
    """``entry``'s tool as an OpenAI function definition under the entry's name; an MCP server's schema as it is
    (JSON Schema 2020-12 whole: ``$schema``, ``$defs``, ``$ref``; a provider that takes no ``$ref`` inlines it)."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if isinstance(entry.tool.args_schema, dict):
        function = {"name": entry.name, "description": entry.tool.description, "parameters": entry.tool.args_schema}
        return {"type": "function", "function": function}
    schema = convert_to_openai_tool(entry.tool)
    schema["function"]["name"] = entry.name
    return schema


class Toolbox:
    """The tools of one session and the rules for calling them: which run without asking are the ``approve``
    patterns of config.toml ("notes:search", "notes:*", "files"), the tools allowed "always" this session, and
    ``--yes``."""

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
        cache: Any = None,
        link: Any = None,
        sandbox: Policy | None = None,
        host: builtin.Host | None = None,
        kept_most: int = 500,
    ):
        self.builtin_groups = builtin.check_groups(builtin_groups)
        self.host = host if host is not None else builtin.Host()  # where the built-in tools act
        self.sandbox = sandbox if sandbox is not None else Policy()  # where this toolbox's shell runs commands
        self._made: list[ToolEntry] | None = None
        self._readers: dict[str, tuple[Any, Any]] = {}  # each server's read_resource tool, and its listing
        self._defined: dict[tuple[str, int], tuple[Any, dict[str, Any]]] = {}  # each tool's definition (see schemas)
        self.cache = cache  # a chatcli.tools.mcp.cache.ListCache: what each server offers, kept between runs
        self.link = link
        self._start_timeout = start_timeout
        self.loaded: Any = None  # the MCP client's import (a future), once a server starts
        # ``link`` (a chatcli.tools.mcp.link.HostLink): the servers are the MCP host's, kept between runs.
        self.servers = [
            McpServer(spec, log_dir, start_timeout, note, cache, self.load_client, link, on_fail=self._failed)
            for spec in servers or []
        ]
        self.owned = list(self.servers)  # the servers this toolbox starts and stops (a session's: its own)
        self.host.served = lambda: self.servers  # their skills join the folders' (chatcli.tools.skills.served)
        self.approve, self.approve_all, self.timeout = tuple(approve), approve_all, timeout
        self.kept_most = kept_most  # files kept from results, at most (chatcli.tools.kept_files.trim)
        self.note = note or (lambda _text: None)  # (nobody to tell)
        self.allowed: set[str] = set()  # tools the user allowed "always" this session (labels)
        self.granted: dict[str, str] = {}  # built-in tools named by calls a resumed turn waits on (id -> name)
        self.kept = KeptCalls()  # calls whose server's question waits for the user's answer
        self.only: Callable[[ToolEntry], bool] | None = None  # the tools a narrowed view keeps (``narrowed``)
        self.delegating: set[str] = set()  # the Agent calls running here ("THREAD:CALL"), each shown once
        self._started = False
        # Whether listings gone stale are listed again in the background: in a process that lives on, or one whose
        # servers the MCP host keeps (a one-shot of its own would wait at its exit for servers it does not use).
        self.revalidate = True

    def preapproved(self, entry: Any, arguments: Any = None) -> bool:
        """True if ``entry`` may run without asking: --yes, a config pattern, or "always" this session; the
        ``remember`` tool only by a pattern that names it.

        A files call is let through by a pattern or "always" only for a path inside the working
        directory (resolved, links followed); one outside, or with ``arguments`` unknown, is asked.
        """
        own = entry.server == builtin.SERVER
        if own and entry.group == builtin.MEMORY:  # what every thread is told from now on: only a pattern that
            # names it (never --yes, a wildcard written for other tools, nor "always" this session)
            return any(p in (builtin.MEMORY, "remember", f"{builtin.SERVER}:remember") for p in self.approve)
        if self.approve_all:
            return True
        if own and entry.group == "files" and not builtin.inside_workdir(arguments, self.host.workdir):
            return False
        key, names = f"{entry.server}:{entry.tool.name}", (entry.group, entry.tool.name) if own else ()
        in_patterns = any(fnmatch.fnmatchcase(key, p) if ":" in p else p in names for p in self.approve)
        return entry.label in self.allowed or in_patterns

    def allow(self, entry: Any) -> None:
        """Run ``entry`` without asking for the rest of the session."""
        self.allowed.add(entry.label)

    def for_session(self, servers: list[ServerSpec], host: builtin.Host) -> "Toolbox":
        """A session's tools: these built-ins acting through ``host``, these servers (shared: this toolbox runs and
        stops them) and the session's own ``servers`` beside them (a name taken already keeps the first), these
        rules. The session's toolbox starts its own servers and stops them when it is closed."""
        rules = {k: getattr(self, k) for k in ("approve", "approve_all", "timeout", "note", "sandbox", "kept_most")}
        # The built-ins with the skills found where the session works.
        session = Toolbox(builtin_groups=builtin.with_found(self.builtin_groups, host), host=host, **rules)
        taken = {server.name for server in self.servers}
        for spec in servers:
            if spec.name in taken:
                self.note(f"MCP server {spec.name}: a server of that name is set up already; the first is used")
                continue
            taken.add(spec.name)
            session.owned.append(
                McpServer(spec, None, self._start_timeout, self.note, loader=self.load_client, on_fail=session._failed)
            )
        session.servers = [*self.servers, *session.owned]
        return session

    async def reroot(self, workdir: Path, dirs: tuple[str, ...]) -> None:
        """The session moved to ``workdir`` (with its other directories ``dirs``): its built-ins act there, and each
        server of its own is told its new roots (chatcli.tools.mcp.server.McpServer.reroot); the servers it shares
        with other sessions keep theirs."""
        self.host.workdir = workdir
        await asyncio.gather(*(server.reroot((str(workdir), *dirs)) for server in self.owned))

    def load_client(self) -> Any:
        """The MCP client's import, started now if it is not yet (an awaitable): one import, in one thread, for every
        session's servers (two threads importing the same modules at once may see them half made), so the prompt
        stays responsive (none through the MCP host)."""
        if self.link is not None:
            return asyncio.sleep(0)
        if self.loaded is None:
            self.loaded = preloading()
        return asyncio.shield(self.loaded)

    @property
    def builtin_entries(self) -> list[ToolEntry]:
        """The built-in tools, made when first needed (LangChain's tool classes load then)."""
        if self._made is None:
            self._made = self._builtins(builtin.with_found(self.builtin_groups, self.host))  # (servers' too)
        return self._made

    def _builtins(self, groups: tuple[str, ...]) -> list[ToolEntry]:
        where = {"shell": describe(self.sandbox, self.host.workdir)} if "shell" in groups else {}  # (bubblewrap: once)
        made = [(group, tool) for group in groups for tool in builtin.make_tools((group,), self.sandbox, self.host)]
        return [ToolEntry(tool.name, builtin.SERVER, tool, group, where.get(group, "")) for group, tool in made]

    # ---- lifetime ----------------------------------------------------------------------------

    def start(self, refresh: bool = False) -> None:
        """Know each MCP server by its cached listing; start (in the background) those with none, and those whose
        listing is older than the server said its lists stay fresh (offered meanwhile).

        ``refresh``: start and list every server, cached or not (``chat tools --refresh``).
        """
        if self._started:
            return
        self._started = True
        for server in self.owned:
            found = None if refresh or self.cache is None else self.cache.read(server.spec)
            if found is not None:
                server.adopt(*found)
                if self.revalidate:
                    server.freshen()
            else:
                server.start()

    def freshen(self) -> None:
        """List again, in the background, the servers whose listings went stale since (a long session)."""
        for server in self.servers if self.revalidate else ():
            server.freshen()

    def unknown(self) -> bool:
        """True when a server's tools are not known yet (nothing cached: it is being started to list them)."""
        return any(server.listing is None and server.state not in (FAILED, STOPPED) for server in self.servers)

    async def warm(self) -> None:
        """Wait until the MCP client is imported and the servers are being spawned (if any starts).

        Loading the rest of chat after this, not during it, gets the servers going sooner:
        both imports would share one interpreter lock. Nothing to wait for when only servers whose
        tools are known are being listed again (their listing went stale): no one waits for them.
        """
        if self.loaded is not None and self.unknown():
            await asyncio.shield(self.loaded)
            await asyncio.sleep(0)  # let the server tasks spawn their processes

    async def settle(self, timeout: float | None = None, unknown: bool = False) -> None:
        """Wait until no server is still starting, or ``timeout`` seconds (each server has its own start limit too);
        ``unknown``: only for those whose tools are not known yet (not those listed again, their listing stale)."""
        self.start()
        starting = [s for s in self.servers if s.state == STARTING and not (unknown and s.listing is not None)]
        if waiting := [asyncio.ensure_future(s.ready.wait()) for s in starting]:
            _, late = await asyncio.wait(waiting, timeout=timeout)
            for task in late:
                task.cancel()

    async def prepare(self, names: set[str]) -> None:
        """Start the servers ``names`` (those a resumed turn's calls need), and wait for them."""
        for server in self.servers:
            if server.name in names:
                server.start()
        await self.settle()

    async def stop_idle(self, idle: float) -> None:
        """Stop the servers that have run no call for ``idle`` seconds (they start again when used)."""
        now = time.monotonic()
        for server in self.owned:
            if server.state == READY and not server.calls and now - server.used >= idle:
                await server.halt()

    async def stop_idle_every(self, idle: float) -> None:
        """``stop_idle`` as time goes by, until cancelled (a long-lived process: chat serve)."""
        while True:
            await asyncio.sleep(max(0.05, min(idle / 4, 30.0)))
            await self.stop_idle(idle)

    async def aclose(self) -> None:
        await self.kept.aclose()  # a call waiting for an answer nobody will give now: cancelled at its server
        await asyncio.gather(*(s.halt(final=True) for s in self.owned), return_exceptions=True)

    def _failed(self, server: McpServer) -> None:
        path = server.log_path
        log = f" (its log: {path})" if path is not None and path.exists() and path.stat().st_size else ""
        self.note(f"MCP server {server.name}: {server.detail}{log}; going on without its tools")

    # ---- what is offered ---------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """True if any tool could be offered (built-ins on, or MCP servers set up)."""
        return bool(self.builtin_groups or self.servers)

    def entries(self) -> list[ToolEntry]:
        """The tools the model can call now, each under a unique name fit for the API (``offered_names``): each
        server's own, then chat's ``read_resource`` for it where it lists resources (chatcli.tools.reader)."""
        found: list[ToolEntry] = list(self.builtin_entries)
        listed = [(server.name, tool, False) for server in self.servers for tool in server.tools]  # (known, kept)
        listed += [(server.name, self._reader(server), True) for server in self.servers if server.resources]
        listed = [(server, tool, reads) for server, tool, reads in listed if tool is not None]
        names = offered_names([entry.name for entry in found], [(server, tool.name) for server, tool, _ in listed])
        found += [ToolEntry(name, server, tool, reads=reads) for name, (server, tool, reads) in zip(names, listed)]
        return found if self.only is None else [entry for entry in found if self.only(entry)]

    def narrowed(self, keep: Callable[[ToolEntry], bool]) -> "Toolbox":
        """This toolbox offering only the tools ``keep`` keeps (a subagent's), its servers and rules shared."""
        import copy

        view = copy.copy(self)
        view.only = keep
        return view

    def _reader(self, server: McpServer) -> Any:
        """``server``'s read_resource tool, made once for each listing of it; None where it has none."""
        made = self._readers.get(server.name)
        if made is None or made[0] is not server.listing:
            from chatcli.tools.reader import make_reader, offers_reader

            made = (server.listing, make_reader(server) if offers_reader(server) else None)
            self._readers[server.name] = made
        return made[1]

    def find(self, name: str, call_id: str | None = None) -> ToolEntry | None:
        """The tool the model calls ``name``; for a call a resumed turn waits on (``grant``), a built-in one too."""
        found = next((entry for entry in self.entries() if entry.name == name), None)
        if found is None and call_id is not None and self.granted.get(call_id) == name:
            group = next((g for g, names in builtin.GROUPS.items() if name in names), None)
            found = next((e for e in self._builtins((group,)) if e.name == name), None) if group else None
        return found

    def grant(self, calls: list[Any]) -> None:
        """Let the built-in tools that ``calls`` (a resumed turn's, asked again) name run for them alone."""
        for call in calls:
            if call.server == builtin.SERVER:
                self.granted[call.id] = call.name

    def schemas(self) -> list[dict[str, Any]]:
        """The tools as OpenAI function definitions, under the names ``entries`` gives them (each a copy of its own).

        A definition is made once (making one builds the arguments' JSON schema, and every model call of a turn
        offers the tools again): a server's tool's for this toolbox, until the server is listed anew; a built-in
        tool's for the process, by its name and description (its arguments are the same everywhere)."""
        import copy

        kept: dict[tuple[str, int], tuple[Any, dict[str, Any]]] = {}
        schemas = []
        for entry in self.entries():
            if entry.server == builtin.SERVER:
                schema = _BUILTIN_DEFINITIONS.get((entry.name, entry.tool.description))
                if schema is None:
                    if len(_BUILTIN_DEFINITIONS) >= 256:  # a long-lived process with many directories: begin again
                        _BUILTIN_DEFINITIONS.clear()
                    schema = _BUILTIN_DEFINITIONS[(entry.name, entry.tool.description)] = _definition(entry)
            else:
                key = (entry.name, id(entry.tool))
                made = self._defined.get(key)
                if made is None or made[0] is not entry.tool:
                    made = (entry.tool, _definition(entry))
                kept[key] = made
                schema = made[1]
            schemas.append(copy.deepcopy(schema))
        self._defined = kept
        return schemas

    def status(self) -> list[Any]:
        """The built-ins and each server: state, and what it offers when that is known (chatcli.tools.status)."""
        from chatcli.tools.status import status

        return status(self, self.builtin_groups, self.entries())

    # ---- calling -----------------------------------------------------------------------------

    def server(self, name: str) -> McpServer | None:
        return next((s for s in self.servers if s.name == name), None)

    async def call(
        self,
        entry: ToolEntry,
        arguments: dict[str, Any],
        call_id: str = "call",
        progress: Callable[[float | None, float | None, str | None], None] | None = None,
        ask: Ask | None = None,
    ) -> Outcome:
        """Run one approved call within the time limit; its result as text.

        A tool that fails gives an error result (the model reads it and can try otherwise). An
        MCP tool's server is started first if it is not running; ``progress`` hears the progress
        notifications the server sends (done, total, message); ``ask`` gets the questions it asks
        the user (elicitations), the clock stopped while the user answers (none: declined).
        Cancellation goes through (the caller records it) and reaches the server.
        """
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout or None) as clock:
                asked = _paused(clock, ask) if ask is not None else None
                if entry.server == builtin.SERVER:
                    given = {**arguments, builtin.CALL_ID: call_id} if entry.group == "shell" else arguments
                    call = {"name": entry.tool.name, "args": given, "id": call_id, "type": "tool_call"}
                    message = await entry.tool.ainvoke(call)
                    content = getattr(message, "content", message)
                    status = "error" if getattr(message, "status", "success") == "error" else "ok"
                    return Outcome(result_text(content), status, time.monotonic() - started)
                server = self.server(entry.server)
                if server is None:
                    raise Unavailable(f"no MCP server named {entry.server}")
                if server.state != READY and progress is not None:  # said while it starts (a live line)
                    progress(None, None, f"starting MCP server {server.name}")
                    await server.ensure()
                    progress(None, None, None)
                if entry.reads:
                    from chatcli.tools.reader import read

                    done = await read(server, arguments)
                    done.seconds = time.monotonic() - started
                    return done
                result = await server.call_tool(entry.tool.name, arguments, heard(progress), asked)
        except TimeoutError:
            why = f"error: the call took longer than {self.timeout:g} s and was stopped"
            return Outcome(why, "timeout", time.monotonic() - started)
        except Unavailable as exc:
            return Outcome(f"error: {exc}", "error", time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - a failed call is a result the model reads
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
            return Outcome(f"error: {detail}", "error", time.monotonic() - started)
        blocks = [mcp_block(part) for part in result.content or []]
        failed = getattr(result, "is_error", None) or getattr(result, "isError", False)  # mcp's, or the host's JSON
        status, seconds = "error" if failed else "ok", time.monotonic() - started
        info = server.listing.tool(entry.tool.name) if server.listing is not None else None
        return Outcome(result_text(blocks), status, seconds, result_media(blocks), info.view if info else None, result)

    async def app_tool(self, server: str, tool: str) -> ToolEntry | None:
        """The tool ``tool`` of ``server`` as its MCP App may call it (chatcli.tools.mcp.apps): offered to the model or
        not, None where the server offers its App none of that name (or the tool is the model's alone)."""
        found = self.server(server)
        if found is not None and found.listing is None:
            await found.ensure()  # (listed as it starts)
        info = found.listing.tool(tool) if found is not None and found.listing is not None else None
        if info is None or not info.for_app:
            return None
        entry = next((e for e in self.entries() if e.server == server and e.tool.name == tool), None)
        return entry or ToolEntry(tool, server, SimpleNamespace(name=tool, description=info.description))


def _paused(clock: asyncio.Timeout, ask: Ask) -> Ask:
    """``ask``, with the call's time limit (``clock``) stopped while the user answers."""

    async def asked(params: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline, begun = clock.when(), loop.time()
        clock.reschedule(None)
        answer = await ask(params)  # (cancelled: the call ends, its clock with it)
        if deadline is not None:
            clock.reschedule(deadline + loop.time() - begun)
        return answer

    return asked
