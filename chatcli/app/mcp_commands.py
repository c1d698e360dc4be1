"""``chat mcp login NAME`` and ``chat mcp logout NAME``: signing in to a remote MCP server of mcp.json with OAuth."""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from chatcli.app.shared import environment, subcommand, switch, verb
from chatcli.config import Settings
from chatcli.errors import ChatError, UsageError
from chatcli.text import counted, say


@subcommand("mcp")
def mcp_command(
    settings: Settings,
    action: str = verb("login|logout", "login: sign in; logout: forget the tokens."),
    name: str = typer.Argument(..., metavar="NAME", help="The server's name in mcp.json."),
    no_browser: bool = switch("--no-browser", "Only print the sign-in address (as on a machine without a browser)."),
) -> None:
    """Sign in to a remote MCP server of mcp.json that asks for an OAuth login, or forget its tokens.

    login shows the server's sign-in address (and opens it in your browser when there is one), waits for the
    browser to come back to chat on 127.0.0.1, and keeps the tokens for that server's URL only, readable by you
    alone; chat refreshes them before they expire. logout forgets them.
    """
    from chatcli.tools.mcp.cache import ListCache
    from chatcli.tools.mcp.oauth import StoredAuth, login

    env = environment()
    spec = server_named(settings, name)
    if not spec.url:
        raise UsageError(f"{name} runs on this machine ({spec.command}): it needs no login")
    if action == "logout":
        forgot = StoredAuth(spec).forget()
        ListCache().forget(spec)  # what it offered that login (a private listing): listed anew when next used
        say(env.stderr, f"logged out of {name}\n" if forgot else f"chat was not logged in to {name}\n")
        return

    def tell(text: str) -> None:
        say(env.stderr, text + "\n")

    try:
        document = settings.mcp_client_metadata_url
        tools = asyncio.run(login(spec, tell, browser=not no_browser, document=document))
    except Exception as exc:  # noqa: BLE001 - what the sign-in ran into, in one line
        from chatcli.tools.mcp.transport import describe

        raise ChatError(f"could not sign in to {name}: {describe(exc, spec, 30)}") from exc
    ListCache().forget(spec)  # what it offered another login, or none: listed anew, as this one
    say(env.stderr, f"logged in to {name}: {counted(len(tools), 'tool')} ({', '.join(tools)})\n")
    if told := StoredAuth(spec).told():  # what it asked of chat beyond a login (DPoP, a client of mcp.json's...)
        say(env.stderr, f"{name}: {told}\n")


def server_named(settings: Settings, name: str) -> Any:
    """The MCP server of mcp.json named ``name``, or one line naming those there are."""
    from pathlib import Path

    from chatcli.tools.mcp.config import read_servers

    servers = {spec.name: spec for spec in read_servers(Path(settings.mcp_config))} if settings.mcp_config else {}
    if name not in servers:
        known = ", ".join(sorted(servers)) or "none"
        raise UsageError(f"no MCP server named {name!r} in {settings.mcp_config}", hint=f"the servers: {known}")
    return servers[name]
