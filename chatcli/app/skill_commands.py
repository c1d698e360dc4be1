"""``chat skills``: the Agent Skills and Claude Code's command files in effect here (chatcli.tools.skills,
chatcli.tools.command_files), where each came from, and those not offered (shadowed by a nearer one, a project's not
trusted yet, invalid)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.app.shared import JSON, environment, subcommand
from chatcli.config import Settings
from chatcli.text import say, say_json

if TYPE_CHECKING:
    from chatcli.tools.skills import Found


@subcommand("skills")
def skills_command(settings: Settings, as_json: bool = JSON) -> None:
    """List the skills chat offers here (from .agents/skills and .claude/skills, the project's, yours and your
    plugins', and those MCP servers serve) and Claude Code's commands (.claude/commands: /NAME runs one), those a
    nearer one shadows, a project's not trusted yet (chat trust), and each one skipped or taken with a note: why."""
    import asyncio
    from pathlib import Path

    from chatcli.service.command_runs import skill_lines
    from chatcli.service.commands import Commands
    from chatcli.tools.command_files import discover

    env = environment()
    found, taken = discover(Path(settings.workdir or env.cwd), env.environ), Commands().by_name
    found = asyncio.run(served_too(settings, found))
    if as_json:
        states = (("offered", found.skills), ("shadowed", found.shadowed), ("untrusted", found.untrusted))
        listing = [  # "server": the MCP server's name in mcp.json
            {"name": s.name, "description": s.description, "path": s.where, "kind": s.kind}
            | {"from": "mcp" if getattr(s, "server", "") else "project" if s.project else "user"}
            | {"server": getattr(s, "server", None), "state": state}
            | {"command": f"/{s.name}" if state == "offered" and f"/{s.name}" not in taken else None}
            | {"model_may_activate": s.model_may_activate, "allowed_tools": list(s.allowed_tools)}
            for state, group in states
            for s in group
        ]
        say_json(env.stdout, {"skills": listing, "problems": list(found.problems), "notes": list(found.notes)})
        return
    say(env.stdout, "".join(line + "\n" for line in skill_lines(found, taken)), data=True)


async def served_too(settings: Settings, found: Found) -> Found:
    """``found`` and the skills the MCP servers of mcp.json serve (known from their cached listings, or listed now)."""
    from chatcli.service.chat import open_toolbox
    from chatcli.tools.skills import served

    async with open_toolbox(settings, environ=environment().environ) as toolbox:
        if toolbox is None:
            return found
        await toolbox.settle()
        return served(found, toolbox.servers)
