"""An MCP server with prompts and resources for the tests, written with FastMCP: `python notes.py` (stdio)."""

import base64

import legacy  # noqa: F401, I001 - mcp 1.x first on sys.path: a server of the 2025 era
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.prompts.base import AssistantMessage, UserMessage

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
