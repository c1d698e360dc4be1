"""``chat tools``: the MCP servers of mcp.json and the built-in tools, their state and their tools."""

from __future__ import annotations

import asyncio
from typing import Optional

from chatcli.app.shared import environment, opt, subcommand, switch
from chatcli.config import Settings


@subcommand("tools", flags=("tools",))
def tools_command(
    settings: Settings,
    tools: Optional[str] = opt(
        "--tools shell,files", "Also list these built-in tools, as `chat --tools` would turn them on."
    ),
    as_json: bool = switch("--json", "Print a JSON list of servers and their tools (for scripts)."),
    refresh: bool = switch("--refresh", "Start every MCP server and list what it offers again (the cache is updated)."),
    log: Optional[str] = opt(
        "--log NAME", "Show MCP server NAME's log (its stderr, and the messages it logs), the last 200 lines."
    ),
) -> None:
    """Each MCP server of mcp.json with its state and what it offers, and the built-in tools.

    A server whose list is cached is shown from the cache without starting it ("idle"); one with
    none is started, listed and stopped. --refresh starts and lists them all. --log NAME shows what
    that server wrote to its log (started or not).
    """
    if log is not None:
        show_log(settings, log)
        return
    from chatcli.service.chat import open_toolbox
    from chatcli.ui.toolview import print_tools

    async def main() -> None:
        env = environment()
        async with open_toolbox(settings, refresh=refresh, environ=env.environ) as toolbox:
            if toolbox is not None:
                await toolbox.settle()
            print_tools(toolbox.status() if toolbox is not None else [], settings.mcp_config or "", env.stdout, as_json)

    asyncio.run(main())


LOG_LINES = 200  # the most `chat tools --log NAME` shows: the log's last lines


def show_log(settings: Settings, name: str) -> None:
    """Print the last lines of MCP server ``name``'s log; one line when there is no such server, or no log yet."""
    from collections import deque

    from chatcli.app.mcp_commands import server_named
    from chatcli.paths import data_dir
    from chatcli.text import say

    server_named(settings, name)
    try:
        with (data_dir() / "mcp" / f"{name}.log").open(encoding="utf-8", errors="replace") as handle:
            lines = deque(handle, maxlen=LOG_LINES)
    except FileNotFoundError:
        say(environment().stderr, f"chat: MCP server {name} has no log yet (it has not run, or logged nothing)\n")
        return
    say(environment().stdout, "".join(lines), data=True)
