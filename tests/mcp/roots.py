"""An MCP server (the 2025 era, FastMCP) whose tool says the roots its client declares (MCP's roots/list), as
server-filesystem and server-everything's get-roots-list ask for them: `python roots.py` (stdio)."""

import legacy  # noqa: F401, I001 - mcp 1.x first on sys.path: a server of the 2025 era
from mcp.server.fastmcp import Context, FastMCP

server = FastMCP("roots")


@server.tool()
async def roots(ctx: Context) -> str:
    """The client's roots, one URI a line."""
    listed = await ctx.session.list_roots()
    return "\n".join(f"{root.uri} {root.name}" for root in listed.roots)


server.run()
