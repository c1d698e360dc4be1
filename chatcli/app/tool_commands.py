"""``chat tools``: the MCP servers of mcp.json and the built-in tools, their state and their tools."""

from __future__ import annotations

import asyncio
from typing import Optional

import typer

from chatcli.app.shared import DEBUG, app, environment, guarded
from chatcli.config import Settings


@app.command("tools")
def tools_command(
    tools: Optional[str] = typer.Option(
        None,
        "--tools",
        metavar="shell,files",
        help="Also list these built-in tools, as `chat --tools` would turn them on.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of servers and their tools (for scripts)."),
    refresh: bool = typer.Option(
        False, "--refresh", help="Start every MCP server and list what it offers again (the cache is updated)."
    ),
    debug: bool = DEBUG,
) -> None:
    """Each MCP server of mcp.json with its state and what it offers, and the built-in tools.

    A server whose list is cached is shown from the cache without starting it ("idle"); one with
    none is started, listed and stopped. --refresh starts and lists them all.
    """

    def action(settings: Settings) -> None:
        from chatcli.service.chat import open_toolbox
        from chatcli.ui.toolview import print_tools

        async def main() -> None:
            env = environment()
            async with open_toolbox(settings, refresh=refresh) as toolbox:
                if toolbox is not None:
                    await toolbox.settle()
                print_tools(
                    toolbox.status() if toolbox is not None else [], settings.mcp_config or "", env.stdout, as_json
                )

        asyncio.run(main())

    guarded(debug, action, {"tools": tools})
