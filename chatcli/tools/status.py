"""What `chat tools` and `/tools` list: each server (and the built-ins), its state and what it offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from chatcli.tools import builtin
from chatcli.tools.context import HasServers, prompts, resources
from chatcli.tools.listing import MODERN
from chatcli.tools.mcp.server import IDLE, READY


@dataclass
class ServerStatus:
    """One line of `chat tools`: a server (or the built-ins), its state and its tools."""

    name: str
    transport: str
    state: str
    detail: str = ""
    where: str = ""
    tools: list[Any] = field(default_factory=list)
    log: Path | None = None
    prompts: list[Any] = field(default_factory=list)  # chatcli.tools.context.PromptEntry
    resources: list[Any] = field(default_factory=list)  # chatcli.tools.context.ResourceEntry
    held: list[tuple[str, str]] = field(default_factory=list)  # tools it lists that are not offered: (name, why)
    listed_at: float | None = None  # when what it offers was listed (epoch seconds)
    revision: str = ""  # the MCP revision it speaks ("2025-11-25"), once listed
    lifetime: float | None = None  # how long its lists stay fresh, as it said (seconds; None: it said nothing)
    sign_in: str = ""  # what its OAuth sign-in asked of chat beyond a login, and what chat did (StoredAuth.told)
    headers: dict[str, list[str]] = field(default_factory=dict)  # the Mcp-Param-* headers a tool's calls send, by name


def status(toolbox: HasServers, builtin_groups: Sequence[str], entries: Sequence[Any]) -> list[ServerStatus]:
    """The built-ins and each server of ``toolbox`` (its ``builtin_groups``, the ``entries`` it offers): state, and
    what it offers when that is known."""
    rows = []
    # The built-ins turned on (the remember tool, offered while memories are on, is not one: docs/memories.md).
    groups = [group for group in builtin_groups if group != builtin.MEMORY]
    if groups:
        tools = [entry for entry in entries if entry.server == builtin.SERVER and entry.group in groups]
        rows.append(ServerStatus(builtin.SERVER, "built-in", READY, where=", ".join(groups), tools=tools))
    offered, readable = prompts(toolbox), resources(toolbox)
    return rows + [
        ServerStatus(
            server.name,
            server.spec.transport,
            server.state,
            server.detail or ("starts when used" if server.state == IDLE else ""),
            server.spec.where,
            [e for e in entries if e.server == server.name],
            server.log_path,
            [p for p in offered if p.server == server.name],
            [r for r in readable if r.server == server.name],
            [(info.name, why) for info, why in server.held],
            server.listed_at if server.offers else None,
            getattr(server.listing, "revision", ""),  # (none before it is listed)
            getattr(server.listing, "lifetime", None),
            _told(server.spec),
            _headers(server, entries),
        )
        for server in toolbox.servers
    ]


def _headers(server: Any, entries: Sequence[Any]) -> dict[str, list[str]]:
    """The ``Mcp-Param-*`` headers each of ``server``'s tools sends with its calls, by the tool's name: those of its
    parameters marked ``x-mcp-header``, which mcp mirrors to a server of 2026-07-28 or later over HTTP (SEP-2243)."""
    if not server.spec.url or getattr(server.listing, "revision", "") < MODERN:
        return {}
    from mcp.shared.inbound import x_mcp_header_map

    mapped = {e.name: x_mcp_header_map(e.tool.args_schema) for e in entries if e.server == server.name}
    return {name: sorted(f"Mcp-Param-{t}" for t in tokens.values()) for name, tokens in mapped.items() if tokens}


def _told(spec: Any) -> str:
    """What a remote server's sign-in asked of chat and what chat did, in one line (none for a local one)."""
    from chatcli.tools.mcp.oauth import StoredAuth

    return StoredAuth(spec).told() if spec.url else ""
