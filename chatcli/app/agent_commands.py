"""``chat agents``: the subagents the model may delegate to here (chatcli.tools.agents), where each came from, a
project's not trusted yet, and each file skipped: why."""

from __future__ import annotations

from typing import Any

from chatcli.app.shared import JSON, environment, subcommand
from chatcli.config import Settings
from chatcli.text import neutralise, say, say_json


@subcommand("agents")
def agents_command(settings: Settings, as_json: bool = JSON) -> None:
    """List the subagents offered here to the model's Agent tool (from .claude/agents, the project's and yours, and
    the enabled plugins'), each with its tools and model, a project's not trusted yet (chat trust), and each file
    skipped: why."""
    from pathlib import Path

    from chatcli.tools.agents import discover

    env = environment()
    found = discover(Path(settings.workdir or env.cwd), env.environ)
    if as_json:
        states = (("offered", found.agents), ("untrusted", found.untrusted))
        listing: list[dict[str, Any]] = [
            {"name": a.name, "description": a.description, "path": str(a.path), "from": a.source, "state": state}
            | {"tools": None if a.tools is None else list(a.tools), "model": a.model or None}
            for state, group in states
            for a in group
        ]
        say_json(env.stdout, {"agents": listing, "problems": list(found.problems)})
        return
    lines = [f"{a.name}  {a.description}  {a.path} ({a.source})" for a in found.agents]
    lines += [f"untrusted, not offered until chat trust runs there: {a.path}" for a in found.untrusted]
    lines += list(found.problems) or ([] if lines else ["no subagents: a NAME.md in .claude/agents adds one"])
    say(env.stdout, "".join(neutralise(line) + "\n" for line in lines), data=True)
