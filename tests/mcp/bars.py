"""A small MCP server for the tests, written with FastMCP: `python bars.py` (stdio) or `python bars.py http PORT`.

With ``BARS_STARTS`` set, each start adds a line (its pid) to that file; with ``BARS_CANCELS``,
each call of ``slow`` that is cancelled adds one (its seconds); with ``BARS_CALLS``, each call of
``slow`` or ``stubborn`` adds one as it begins. While the file ``BARS_EXTRA``
names exists, the server offers one more tool. ``BARS_TTL_MS`` (a 2026 server's only): how long its
lists (tools, prompts, resources) stay fresh, said with each (2026-07-28's ``ttlMs``; the SDK says 0 without it).
"""

import asyncio
import os
import sys
import time

# MCP_ERA=2026: the server of mcp 2.x (the tests' own), speaking the 2026-07-28 revision (and the earlier ones to
# clients that ask for them); otherwise a server of the 2025 era, on mcp 1.x (tests/mcp/legacy.py).
MODERN = os.environ.get("MCP_ERA") == "2026"
if MODERN:
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver import MCPServer as FastMCP
else:
    import legacy  # noqa: F401 - mcp 1.x first on sys.path
    from mcp.server.fastmcp import Context, FastMCP  # type: ignore[no-redef]

if MODERN and os.environ.get("BARS_TTL_MS"):
    from mcp.server.caching import CacheHint

    lasting = CacheHint(ttl_ms=int(os.environ["BARS_TTL_MS"]))
    server = FastMCP("bars", cache_hints={"tools/list": lasting, "prompts/list": lasting, "resources/list": lasting})
else:
    server = FastMCP("bars")


def _record(variable: str, line: str) -> None:
    if os.environ.get(variable):
        with open(os.environ[variable], "a") as handle:
            handle.write(line + "\n")


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
    _record("BARS_CALLS", f"slow {seconds}")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _record("BARS_CANCELS", f"slow {seconds}")
        raise
    return f"waited {seconds} s"


@server.tool()
async def stubborn(seconds: float) -> str:
    """Wait that many seconds, deaf to everything meanwhile."""
    _record("BARS_CALLS", f"stubborn {seconds}")
    time.sleep(seconds)  # (blocking the server's loop: mcp 2.x runs a plain function in a thread of its own)
    return f"waited {seconds} s, deaf"


@server.tool()
async def steps(count: int, ctx: Context) -> str:
    """Take that many half-second steps, telling the progress after each."""
    for step in range(1, count + 1):
        await asyncio.sleep(0.5)
        await ctx.report_progress(step, count, f"step {step} of {count}")
    return f"took {count} steps"


@server.tool()
def die() -> str:
    """Stop the server at once."""
    os._exit(3)


def extra() -> str:
    """A tool only some starts have."""
    return "extra"


if os.environ.get("BARS_EXTRA") and os.path.exists(os.environ["BARS_EXTRA"]):
    server.add_tool(extra)


@server.tool()
def grow() -> str:
    """Offer one more tool from now on."""
    server.add_tool(extra)
    return "grown"


if __name__ == "__main__":
    _record("BARS_STARTS", str(os.getpid()))
    if len(sys.argv) > 2 and sys.argv[1] == "http" and MODERN:
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "http":
        server.settings.port = int(sys.argv[2])
        server.settings.host = "127.0.0.1"
        server.settings.log_level = "WARNING"
        server.run(transport="streamable-http")
    elif len(sys.argv) > 2 and sys.argv[1] == "sse":  # the HTTP+SSE transport of the 2024-11-05 revision (/sse)
        server.settings.port = int(sys.argv[2])
        server.settings.host = "127.0.0.1"
        server.settings.log_level = "WARNING"
        server.run(transport="sse")
    else:
        print("bars: starting", file=sys.stderr)
        server.run()
