"""chat's own graph for a LangGraph Agent Server: ``langgraph.json`` at the project's root names ``graph``.

``langgraph dev`` (or any deployment of the project) calls ``graph`` for each run and each read of a
thread's state: it builds chat's graph from the settings of the server's environment (config.toml,
the CHATCLI_* and OPENAI_* variables; the working directory's .env as chat reads it) with the model
on the OpenAI-compatible endpoint they name, and the built-in tools they turn on, whose calls wait for
approval as LangChain's human-in-the-loop interrupts. It attaches no checkpointer: the server keeps
the threads. ``chat --remote URL`` talks to it as to any other graph.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

from chatcli.config import Settings, configure

if TYPE_CHECKING:
    from chatcli.tools.toolbox import Toolbox


def server_settings() -> Settings:
    """The settings chat would use in the server's environment (in a thread: even the working directory is read
    from the disk, which the server's event loop must not wait for)."""
    return configure({}, environ=os.environ, cwd=Path.cwd())[0]


def build(settings: Settings, toolbox: "Toolbox | None" = None) -> Any:
    """chat's graph on ``settings``, compiled without a checkpointer (the server brings its own).

    Each run starts at the settings' context budget: what chat learns of a model's window (windows.json,
    what its server tells) is read and kept in files, which a served graph's event loop must not wait for.
    """
    from chatcli.backends.own.graph import graph_for
    from chatcli.backends.own.model import ModelPool

    return graph_for(settings, ModelPool(settings), toolbox).compile(None)  # a bad setting fails here


def builtin_toolbox(settings: Settings) -> Any:
    """The built-in tools the settings turn on (CHATCLI_TOOLS), or None. MCP servers (mcp.json) are not started
    for a served graph: each run would start them again."""
    if not (settings.use_tools and settings.tools):
        return None
    toolbox = toolbox_for(settings, settings.tools)
    toolbox.schemas()  # made now, in this thread: making them reads the disk
    return toolbox


def toolbox_for(settings: Settings, groups: tuple[str, ...], **more: Any) -> Toolbox:
    """A toolbox of the built-in ``groups`` (and the skills', where some are found) under the settings' sandbox,
    approvals and limits (``more``: its MCP servers and what they need, for a session's)."""
    from chatcli.tools import builtin, sandbox
    from chatcli.tools.command_files import discover
    from chatcli.tools.toolbox import Toolbox

    host = builtin.Host()
    host.found = discover(Path(settings.workdir or os.getcwd()))  # once for the session (a session's own: its host)
    note = more.get("note")  # a session's: each skill skipped is one line, and those that wait for chat trust
    if note is not None:
        for line in host.found.problems:
            note(line)
        if host.found.untrusted:
            note(f"{len(host.found.untrusted)} of this project's skills wait for chat trust (chat skills lists them)")
    return Toolbox(
        sandbox=sandbox.policy_for(settings),  # what this toolbox's shell runs in, and its approval block says
        builtin_groups=builtin.with_found(groups, host),
        host=host,
        # Never asked: the skills tool only reads a skill's files; the Agent tool delegates (its subagent's calls are).
        approve=(*settings.approve, builtin.SKILLS, builtin.AGENTS),
        approve_all=settings.approve_all,
        timeout=settings.tool_timeout,
        kept_most=settings.max_kept_files,
        **more,
    )


@asynccontextmanager
async def graph() -> AsyncIterator[Any]:
    """The graph factory ``langgraph.json`` names: chat's graph on the server's settings, for one run.

    Everything that reads files runs off the server's event loop, which must not block (``langgraph dev``
    refuses blocking calls on it).
    """
    from chatcli.backends.own.model import named_endpoints
    from chatcli.local import loopback

    loopback.guard()  # the server's connections are checked as chat's own are, with its settings' addresses
    settings = await asyncio.to_thread(server_settings)
    toolbox = await asyncio.to_thread(builtin_toolbox, settings)
    try:
        with loopback.Allowed(named_endpoints(settings)):
            yield await asyncio.to_thread(build, settings, toolbox)
    finally:
        if toolbox is not None:
            await toolbox.aclose()
