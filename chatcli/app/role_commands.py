"""``chat roles``: the roles in $XDG_CONFIG_HOME/chatcli/roles, with their model and prompt."""

from __future__ import annotations

from chatcli.app.shared import JSON_LIST, environment, subcommand
from chatcli.config import Settings
from chatcli.text import say, say_json


@subcommand("roles")
def roles_command(settings: Settings, as_json: bool = JSON_LIST) -> None:
    """List the roles `chat --role NAME` and `/role NAME` can use: NAME.toml or NAME.md files."""
    from pathlib import Path

    from chatcli.app.run import make_env_output
    from chatcli.backends.own.roles import list_roles

    directory = Path(settings.roles_dir or "")
    problems: list[str] = []
    roles = list_roles(directory, problems)
    for problem in problems:
        make_env_output(environment()).warn(f"skipped {problem}")
    out = environment().stdout
    if as_json:
        listing = [
            {"name": r.name, "model": r.model, "temperature": r.temperature, "system": r.system, "path": str(r.path)}
            for r in roles
        ]
        say_json(out, listing)
        return
    if not roles:
        files = 'NAME.toml (system = "...", model, temperature, vars) or NAME.md (the prompt)'
        say(out, f"no roles yet: write {files} in {directory}\n")
        return
    width = max(len(r.name) for r in roles)
    for r in roles:
        say(out, f"{r.name.ljust(width)}  {(r.model or '').ljust(12)}  {r.summary}".rstrip() + "\n", data=True)
