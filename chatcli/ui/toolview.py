"""The list of tools as `chat tools` and `/tools` show it (a call's blocks are in chatcli.ui.toolblocks,
the approval question in chatcli.ui.approval)."""

from __future__ import annotations

import os
from typing import Any

from chatcli.text import iso_time, local_time, say, say_json
from chatcli.ui.toolblocks import fit_cells


def print_tools(rows: list[Any], config_path: str, out: Any, as_json: bool = False) -> None:
    """`chat tools` and `/tools`: each server (and the built-ins), its state, and its tools."""
    if as_json:
        listing = [
            {
                "server": row.name,
                "transport": row.transport,
                "state": row.state,
                "detail": row.detail or None,
                "where": row.where,
                "listed_at": iso_time(row.listed_at),
                "protocol_version": row.revision or None,
                "ttl_ms": round(row.lifetime * 1000) if row.lifetime is not None else None,
                "sign_in": row.sign_in or None,
                "tools": [{"name": e.name, "description": e.description} for e in row.tools],
                "mcp_param_headers": row.headers,  # what each tool that sends any sends (SEP-2243), by its name
                "not_offered": [{"name": name, "why": why} for name, why in row.held],
                "prompts": [
                    dict(name=p.name, command=p.command, description=p.description, arguments=_arguments(p.arguments))
                    for p in row.prompts
                ],
                "resources": [
                    dict(uri=r.uri, mention=r.mention, name=r.name, mime_type=r.mime, description=r.description)
                    for r in row.resources
                ],
            }
            for row in rows
        ]
        say_json(out, listing)
        return
    if not rows:
        say(out, f"no tools: add MCP servers to {config_path}, or turn on the built-ins with --tools shell,files\n")
        return
    lines, columns = [], _columns(out)
    for row in rows:
        state = row.state + (f": {row.detail}" if row.detail else "")
        state += f" · listed {local_time(row.listed_at)}" if row.listed_at and row.state == "idle" else ""
        state += f" · {row.where}" if row.where and row.transport != "built-in" else ""
        lines.append(f"{row.name} ({row.transport}{f', MCP {row.revision}' if row.revision else ''}) {state}")
        if row.log is not None and row.state == "failed":
            lines.append(f"  log: {row.log}")
        if row.sign_in:
            lines.append(f"  sign-in: {row.sign_in}")
        width = max((len(e.name) for e in row.tools), default=0)
        for entry in row.tools:
            description = fit_cells(entry.description, max(20, columns - width - 5))  # a line a tool, at any width
            lines.append(f"  {entry.name.ljust(width)}  {description}".rstrip())
            if sent := row.headers.get(entry.name):
                lines.append(f"  {'':{width}}  sends {', '.join(sent)} (SEP-2243)")
        lines += [f"  {name.ljust(width)}  ({why})" for name, why in row.held]
        half = max(20, columns // 2)
        for prompt in row.prompts:
            about = f"  {fit_cells(prompt.description, half)}" if prompt.description else ""
            lines.append(f"  {prompt.command} {prompt.synopsis}".rstrip() + about)
        lines += [f"  {r.mention}  {fit_cells(r.description or r.name, half)}" for r in row.resources]
    say(out, "\n".join(lines) + "\n", data=True)


def _arguments(arguments: list[Any]) -> list[dict[str, Any]]:
    return [{"name": name, "required": required, "description": about} for name, required, about in arguments]


def _columns(out: Any) -> int:
    """The width of the terminal ``out`` writes to (120 where it is none: a pipe, a file)."""
    try:
        return os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 120
