"""MCP Apps over HTTP (chatcli.tools.mcp.apps): a tool's view, served to the page's sandboxed frame with the policy its
server declares, and the calls a view asks the page to make, decided as any call is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Body, FastAPI, Request, Response
from pydantic import Field

from chatcli.api.compacting import Strict
from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.service.chat import Chat
    from chatcli.tools.hooks import Hooks
    from chatcli.tools.toolbox import Toolbox


class AppCall(Strict):
    """A call a view asks for: one of its server's tools, with its arguments."""

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    approved: bool = Field(
        False, description='The user was shown the call (the answer\'s "ask") and said yes: it runs.'
    )
    always: bool = Field(False, description="With approved: this tool runs unasked for the rest of the server's run.")


def apps_routes(app: FastAPI, chat: Chat) -> None:
    """A view, and the calls its App makes."""
    from chatcli.tools.mcp.apps import read_view

    @app.get(
        "/v1/apps/{server}/view",
        summary="An MCP App's view (a tool result's view.uri), as a sandboxed page under its server's declared CSP",
        response_class=Response,
    )
    async def view(server: str, uri: str, request: Request) -> Response:
        # A browser says where the answer goes: into the page's frame, never a tab of serve's own address, where a
        # server's HTML would pass for chat serve's (a client that says nothing is no browser: it gets it)
        if request.headers.get("sec-fetch-dest", "iframe") != "iframe":
            raise UsageError("an MCP App's view is shown only in the frame of chat serve's page", hint="open the page")
        found = chat.toolbox.server(server) if chat.toolbox is not None else None
        if found is None:
            raise UsageError(f"no MCP server named {server[:60]!r} here", hint="chat mcp lists them")
        try:
            shown = await read_view(found, uri)
        except Exception as exc:  # noqa: BLE001 - not an App's view, or the server failed: one line saying so
            raise UsageError(" ".join(str(exc).split())[:300] or type(exc).__name__) from None
        headers = {"Content-Security-Policy": shown.policy, "X-Content-Type-Options": "nosniff"}
        headers |= {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
        return Response(shown.html, media_type="text/html", headers=headers)

    @app.post(
        "/v1/apps/{server}/call",
        summary=(
            'A call an MCP App of this server asks for, decided as any call: {"result": CallToolResult}, or '
            '{"ask": the call shown whole} until it is sent again with approved'
        ),
    )
    async def call(server: str, asked: AppCall = Body()) -> dict[str, Any]:
        if chat.toolbox is None:
            raise UsageError(f"no MCP server named {server[:60]!r} here", hint="chat mcp lists them")
        return await view_call(chat.toolbox, chat.hooks, server, asked)


async def view_call(toolbox: Toolbox, hooks: Hooks, server: str, asked: AppCall) -> dict[str, Any]:
    """A call an MCP App's view of ``server`` asks for, decided as the model's calls are, by the same hooks' decision
    (chatcli.backends.own.toolcalls.hooks_decided): refused where the App may not call the tool or a hook denies it;
    ``{"ask": the call shown whole}`` where it would be asked, until the user says yes (``approved``: it runs as they
    saw it, a hook's rewrite not applied again; ``always``: and this tool from now on, as at the prompt); then
    ``{"result": the CallToolResult}``, whole."""
    from chatcli.backends.own.toolcalls import hooks_decided
    from chatcli.tools.mcp.apps import kept_result, refused

    entry = await toolbox.app_tool(server, asked.tool)
    if entry is None:
        return refused(f"not run: MCP server {server} offers its App no tool named {asked.tool!r}")
    said = await hooks_decided(
        toolbox, hooks, [{"id": "app", "name": entry.name, "args": asked.arguments}], "", {"app": entry}
    )
    if said["refused"]:
        return refused(said["decisions"]["app"]["by"])
    left = said["asking"][0] if said["asking"] else None  # (none: a hook allows it)
    arguments = asked.arguments if asked.approved else said["decisions"].get("app", {}).get("args", asked.arguments)
    if left is not None and not asked.approved and (left["hook"] or not toolbox.preapproved(entry, left["args"])):
        shown = {"server": server, "tool": asked.tool, "label": entry.label, "arguments": left["args"]}
        return {"ask": {**shown, "reason": left["hook"] or ""}}
    if asked.always:
        toolbox.allow(entry)
    done = await toolbox.call(entry, arguments, "app")
    whole = kept_result(done.result) if done.result is not None else None
    return {"result": whole or {"content": [{"type": "text", "text": done.text}], "isError": done.status != "ok"}}
