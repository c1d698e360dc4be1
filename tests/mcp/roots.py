"""An MCP server (the 2025 era, FastMCP) whose tool says the roots its client declares (MCP's roots/list), as
server-filesystem and server-everything's get-roots-list ask for them: `python roots.py` (stdio). With ``ROOTS_CHANGED`` set, each
``notifications/roots/list_changed`` it hears adds a line to that file."""

import os

import legacy  # noqa: F401, I001 - mcp 1.x first on sys.path: a server of the 2025 era
from mcp.server.fastmcp import Context, FastMCP
from mcp.types import RootsListChangedNotification

server = FastMCP("roots")


@server.tool()
async def roots(ctx: Context) -> str:
    """The client's roots, one URI a line."""
    listed = await ctx.session.list_roots()
    return "\n".join(f"{root.uri} {root.name}" for root in listed.roots)


async def _changed(_notification) -> None:
    """The client says its roots changed (notifications/roots/list_changed): a line in ROOTS_CHANGED, if set."""
    if os.environ.get("ROOTS_CHANGED"):
        with open(os.environ["ROOTS_CHANGED"], "a") as handle:
            handle.write("changed\n")


server._mcp_server.notification_handlers[RootsListChangedNotification] = _changed
server.run()
