"""The options of ``chat [QUESTION]``, each defined once (chatcli.app.cli.ask_command takes them by name).

Shared with other commands where they mean the same: ``--graph``, ``--remote`` (chatcli.app.shared) and ``--yes``
are ``chat serve``'s too.
"""

from __future__ import annotations

from enum import Enum

import typer

from chatcli import __version__
from chatcli.app.shared import DB, DEBUG, environment
from chatcli.text import say


def _version(value: bool) -> None:
    if value:
        say(environment().stdout, f"chatcli {__version__}\n")
        raise typer.Exit()


class Memory(str, Enum):
    """Values of --memory (see Settings.memory)."""

    compact = "compact"
    trim = "trim"
    summary = "summary"


class Sandbox(str, Enum):
    """Values of --sandbox (see Settings.sandbox)."""

    workspace = "workspace"
    read_only = "read-only"
    off = "off"


QUESTION = typer.Argument(None, metavar="QUESTION", help="Ask this and exit (otherwise the prompt).")
THREAD = typer.Option(None, "--thread", "-t", metavar="ID", help="Resume this thread (a start of its id will do).")
LATEST = typer.Option(False, "--continue", "-c", help="Continue the most recently used thread.")
NEW_THREAD = typer.Option(
    None, "--new-thread", metavar="ID", hidden=True, help="Start a new thread under this id, never an existing one."
)
MODEL = typer.Option(None, "--model", "-m", metavar="NAME", help="The model [env: CHATCLI_MODEL].")
SYSTEM = typer.Option(None, "--system", "-s", metavar="TEXT", help="The thread's system prompt (kept with the thread).")
TEMPERATURE = typer.Option(None, "--temperature", metavar="T", help="Sampling temperature [env: CHATCLI_TEMPERATURE].")
ROLE = typer.Option(None, "--role", "-r", metavar="NAME", help="Start the thread with a role (see chat roles).")
VAR = typer.Option(
    [], "--var", metavar="NAME=VALUE", hidden=True, help="Fill {NAME} in the system prompt (kept; repeatable)."
)
ATTACH = typer.Option([], "--attach", "-a", metavar="FILE|URL", help="Send a file, image or web page with it.")
MEMORY = typer.Option(
    None,
    "--memory",
    metavar="compact|trim|summary",
    hidden=True,
    help="History past the context budget: folded into a summary before it would not fit (compact, the default), "
    "left out (trim), or folded at every step (summary) [env: CHATCLI_MEMORY].",
)
LOCAL = typer.Option(False, "--local", help="A small model on this machine: no key, no network.")
LOCAL_MODEL = typer.Option(
    None,
    "--local-model",
    metavar="PATH",
    hidden=True,
    help="Run this GGUF model file as the local model (implies --local) [env: CHATCLI_LOCAL_MODEL].",
)
TOOLS = typer.Option(None, "--tools", metavar="shell,files", help="Let the model run commands, read files (asked).")
NO_TOOLS = typer.Option(
    False, "--no-tools", hidden=True, help="Offer the model no tools at all this run: built-in or MCP (mcp.json)."
)
NO_MEMORY = typer.Option(
    False,
    "--no-memory",
    hidden=True,
    help="Send none of what you asked chat to remember this run (chat memory) [env: CHATCLI_MEMORIES=0].",
)
YES = typer.Option(False, "--yes", "-y", help="Approve every tool call of this run without asking.")
SANDBOX = typer.Option(
    None,
    "--sandbox",
    metavar="workspace|read-only|off",
    hidden=True,
    help=(
        "Where the shell tool runs: workspace (the default: writes only in this directory and a private /tmp; "
        ".git and chat's own files read-only), read-only (no writes), off (no sandbox). Linux, with bubblewrap "
        "[env: CHATCLI_SANDBOX]."
    ),
)
NETWORK = typer.Option(
    False,
    "--network",
    hidden=True,
    help="Let sandboxed shell commands reach the network (the other limits stay) [env: CHATCLI_NETWORK=1].",
)
GRAPH = typer.Option(
    None, "--graph", "-g", metavar="FILE:NAME", help="Chat with your LangGraph graph (docs/graphs.md)."
)
REBIND = typer.Option(
    False,
    "--rebind",
    hidden=True,
    help="Hand a thread that another graph or chat's own answers to the one this command names (--graph, -m).",
)
RESUME = typer.Option(
    None,
    "--resume",
    metavar="VALUE",
    hidden=True,
    help="Answer what the thread (-t ID) waits on: a graph's interrupt, or a tool's question "
    '(\'{"action": "accept", "content": {...}}\', "decline" or "cancel"); text or JSON.',
)
AS_JSON = typer.Option(False, "--json", help="Print the answer as one JSON object (for scripts).")
AS_JSONL = typer.Option(False, "--jsonl", help="Stream the answer as JSON lines as it comes.")
HIDDEN_DB = typer.Option(None, "--db", metavar="PATH|URL", hidden=True, help=DB.help)
HIDDEN_DEBUG = typer.Option(False, "--debug", hidden=True, help=DEBUG.help)
VERSION = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit.")
HELP_ALL = typer.Option(False, "--help-all", help="Show every option, and exit.")
