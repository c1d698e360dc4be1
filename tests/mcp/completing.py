"""An MCP server (the 2025 era, FastMCP) whose prompt's arguments it completes (MCP's completion/complete): the
language from a list, the greeting from the language chosen before it. `python completing.py` (stdio)."""

import legacy  # noqa: F401, I001 - mcp 1.x first on sys.path: a server of the 2025 era
from mcp.server.fastmcp import FastMCP
from mcp.types import Completion, PromptReference

server = FastMCP("completing")
LANGUAGES = ["english", "esperanto", "french", "german", "\x1b]0;PWNED\x07estonian"]
GREETINGS = {"french": ["bonjour", "bonsoir", "salut"], "german": ["hallo", "guten tag"]}


@server.prompt()
def greet(language: str, greeting: str = "") -> str:
    """Greet someone in a language."""
    return f"Say {greeting or 'hello'} in {language}."


@server.completion()
async def complete(ref, argument, context):
    if not isinstance(ref, PromptReference) or ref.name != "greet":
        return None
    if argument.name == "language":
        return Completion(values=[v for v in LANGUAGES if v.startswith(argument.value)])
    chosen = (context.arguments or {}).get("language", "") if context else ""
    return Completion(values=[v for v in GREETINGS.get(chosen, []) if v.startswith(argument.value)])


server.run()
