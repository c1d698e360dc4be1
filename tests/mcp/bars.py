"""A small MCP server for the tests, written with FastMCP: `python bars.py` (stdio) or `python bars.py http PORT`."""

import asyncio
import os
import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("bars")


@server.tool()
def secret_word() -> str:
    """The secret word of the day."""
    return "The secret word is " + os.environ.get("BARS_WORD", "marzipan") + "."


@server.tool()
def add(a: int, b: int) -> str:
    """Add two whole numbers."""
    return str(a + b)


@server.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


@server.tool()
async def slow(seconds: float) -> str:
    """Wait that many seconds, then say so."""
    await asyncio.sleep(seconds)
    return f"waited {seconds} s"


@server.tool()
def die() -> str:
    """Stop the server at once."""
    os._exit(3)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.settings.port = int(sys.argv[2])
        server.settings.host = "127.0.0.1"
        server.settings.log_level = "WARNING"
        server.run(transport="streamable-http")
    else:
        print("bars: starting", file=sys.stderr)
        server.run()
