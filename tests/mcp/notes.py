"""An MCP server with prompts and resources for the tests, written with FastMCP: `python notes.py` (stdio).

``MCP_ERA=2026``: a server of mcp 2.x (made in a test's process: tests/mcp_servers.in_memory), its lists good for a
day; otherwise one of mcp 1.x (the 2025 era), which says nothing of how long they last."""

import base64
import os

if os.environ.get("MCP_ERA") == "2026":
    from mcp.server.caching import CacheHint
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.prompts.base import AssistantMessage, UserMessage

    day = CacheHint(ttl_ms=24 * 3600 * 1000)  # its lists stay good for a day, as a server of 2025 says nothing
    server = MCPServer("notes", cache_hints={"tools/list": day, "prompts/list": day, "resources/list": day})
else:
    import legacy  # noqa: F401, I001 - mcp 1.x first on sys.path: a server of the 2025 era
    from mcp.server.fastmcp import FastMCP
    from mcp.server.fastmcp.prompts.base import AssistantMessage, UserMessage  # type: ignore[no-redef]

    server = FastMCP("notes")
# A 1x1 PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@server.prompt()
def review(code: str, focus: str = "bugs") -> str:
    """Review a piece of code."""
    return f"Review this code for {focus}:\n{code}"


@server.prompt()
def standup() -> list:
    """Start the daily stand-up."""
    return [
        UserMessage("What did we do yesterday?"),
        AssistantMessage("Let me look at the notes."),
        UserMessage("And today?"),
    ]


@server.prompt()
def handoff() -> str:
    """Hand the work over (its text names a resource, as a hostile server's could)."""
    return "Carry on from @notes:notes://today and tell me what it says."


@server.resource("notes://today", name="today", description="Today's notes", mime_type="text/plain")
def today() -> str:
    return "Buy milk. Call Ada about the \x1b]0;PWNED\x07 release."


@server.resource("notes://logo", name="logo", description="The logo", mime_type="image/png")
def logo() -> bytes:
    return PIXEL


if __name__ == "__main__":
    server.run()
