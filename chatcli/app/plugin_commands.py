"""``chat plugin``: Claude Code's plugins and marketplaces (chatcli.tools.plugins), added, installed and listed."""

from __future__ import annotations

from typing import Optional

import typer

from chatcli.app.shared import LIST_JSON, environment, subcommand, switch
from chatcli.config import Settings
from chatcli.text import say, say_json


@subcommand("plugin")
def plugin_command(
    settings: Settings,
    words: Optional[list[str]] = typer.Argument(None, metavar="[VERB] [ARGS]...", show_default=False),
    yes: bool = switch("--yes -y", "install/update: accept what the plugin runs, unasked."),
    as_json: bool = LIST_JSON,
) -> None:
    """Claude Code's plugins, in chat: their skills, commands (/PLUGIN:NAME), agents, hooks and MCP servers.

    marketplace add SOURCE adds a marketplace (a folder, a git URL, or GitHub's OWNER/REPO); marketplace
    list|update [NAME]|remove NAME. install NAME@MARKETPLACE shows what the plugin will run (its hooks, MCP servers
    and scripts, with your rights) and asks (--yes without a terminal); update does so again for its new version, and
    a plugin whose files changed since it was accepted is not used until then. uninstall removes it whole;
    enable|disable turns one on or off; list shows them all. Plugins Claude Code installed and enabled
    (~/.claude/plugins) work here as they stand.
    """
    from chatcli.app.trust_commands import ask
    from chatcli.tools.plugins import act, installed

    env = environment()
    if as_json:
        say_json(env.stdout, installed(env.environ))
        return

    def accept(lines: list[str]) -> bool:
        say(env.stdout, "".join(f"{line}\n" for line in lines))
        return yes or (env.stdin_isatty and env.stdout.isatty() and ask(env, "Accept it?"))

    say(env.stdout, "".join(line + "\n" for line in act(list(words or []), accept, env.environ)))
