"""``chat hooks``: the hooks in effect here (chatcli.tools.hooks), by event, where each came from, and the project's
settings files whose hooks do not run until ``chat trust``."""

from __future__ import annotations

from chatcli.app.shared import JSON, environment, subcommand
from chatcli.config import Settings
from chatcli.text import say, say_json


@subcommand("hooks")
def hooks_command(settings: Settings, as_json: bool = JSON) -> None:
    """List the hooks chat runs here, by event: from config.toml's [hooks], hooks.json beside it,
    ~/.claude/settings.json and, once `chat trust` ran here, the project's .claude/settings.json and
    settings.local.json (listed as untrusted until then); and each hook chat cannot run: why."""
    from pathlib import Path

    from chatcli.paths import shown_path
    from chatcli.tools.hooks import EVENTS, load

    env = environment()
    found = load(Path(settings.workdir or env.cwd), env.environ, {"hooks": settings.hooks or {}})
    if as_json:
        listing = [
            {"event": h.event, "matcher": h.matcher, "type": "http" if h.http else "command", "command": h.command}
            | {"timeout": h.timeout, "source": str(h.source), "own": h.own}
            for h in found.hooks
        ]
        said = {"hooks": listing, "untrusted": [str(p) for p in found.untrusted], "problems": list(found.problems)}
        say_json(env.stdout, said)
        return
    lines = [] if found.hooks else ["no hooks in effect here"]
    for event in EVENTS:
        for hook in (h for h in found.hooks if h.event == event):
            whose = "a plugin's" if hook.env else "yours" if hook.own else "the project's, trusted"
            where = f"{shown_path(hook.source, env.environ)}, {whose}"
            lines.append(f"{event:<19} {hook.matcher or '*':<14} {hook.command}  [{where}]")
    for path in found.untrusted:
        lines.append(f"untrusted: {shown_path(path, env.environ)}: its hooks run once `chat trust` is run here")
    lines += [f"not run: {line}" for line in found.problems]
    say(env.stdout, "".join(line + "\n" for line in lines))
