"""MCP Apps over HTTP (chatcli.tools.mcp.apps): a tool's view for the page to show, the calls a view asks the page to
make, decided as any call is, and the sandbox proxy the page shows views through.

The proxy is the MCP Apps specification's reference host's: a page served on a port of its own (``ViewPort``: another
origin than the page's, whose cookie, API and page it serves none of), framed by the page alone, that runs the view in
a frame of its own origin (so a framework that reads ``window.parent`` may) under the policy its server declares, and
relays the spec's messages between the two (chatcli/api/page/proxy.html).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Body, FastAPI
from pydantic import Field
from starlette.responses import Response

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


@dataclass(frozen=True)
class ViewPort:
    """Where the page shows MCP Apps' views: the sandbox proxy's port, beside the page's own."""

    proxy: int
    page: int


def apps_routes(app: FastAPI, chat: Chat, views: ViewPort | None) -> None:
    """A view, the calls its App makes, and (with ``views``) the sandbox proxy on its port."""
    from chatcli.tools.mcp.apps import read_view

    if views is not None:
        app.add_middleware(ProxyPort, views=views)  # (the last added: before the guard, which it never passes)

    @app.get(
        "/v1/apps/{server}/view",
        summary=(
            "An MCP App's view (a tool result's view.uri): its HTML, the origins it declares for each use (csp), the "
            "port of the sandbox proxy that shows it (proxy; null: none, on a unix socket)"
        ),
    )
    async def view(server: str, uri: str) -> dict[str, Any]:
        found = chat.toolbox.server(server) if chat.toolbox is not None else None
        if found is None:
            raise UsageError(f"no MCP server named {server[:60]!r} here", hint="chat mcp lists them")
        try:
            shown = await read_view(found, uri)
        except Exception as exc:  # noqa: BLE001 - not an App's view, or the server failed: one line saying so
            raise UsageError(" ".join(str(exc).split())[:300] or type(exc).__name__) from None
        return {"html": shown.html, "csp": shown.csp, "proxy": views.proxy if views is not None else None}

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


HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?")
MAX_CSP = 16 * 1024  # characters of the proxy's ?csp=


class ProxyPort:
    """chat serve's app, where a request to ``views.proxy`` gets the sandbox proxy's page and nothing else: no route,
    no guard, no cookie of the page's read (a browser sends it to every port of the host)."""

    def __init__(self, app: Any, views: ViewPort):
        self.app, self.views = app, views

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (scope.get("server") or ("", None))[1] == self.views.proxy:
            await proxy_page(scope, self.views.page)(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def proxy_page(scope: dict[str, Any], page_port: int) -> Response:
    """The sandbox proxy for ``GET /?csp=JSON`` (a view's declared origins): under the view's policy, framed only by
    the page (the Host asked, at ``page_port``); anything else is not found."""
    from starlette.datastructures import Headers, QueryParams

    from chatcli.api.page import FILES
    from chatcli.tools.mcp.apps import policy

    host = HOST.fullmatch(Headers(scope=scope).get("host", "").lower())
    if scope["method"] not in ("GET", "HEAD") or scope["path"] != "/" or host is None:
        return Response("not found", 404, media_type="text/plain")
    page = f"http://{host.group(1)}:{page_port}"
    csp = None
    with contextlib.suppress(ValueError, RecursionError):  # (cut, or not JSON: it declares nothing)
        csp = json.loads(QueryParams(scope["query_string"]).get("csp", "")[:MAX_CSP])
    html = (FILES / "proxy.html").read_text(encoding="utf-8").replace("{page}", page)
    headers = {"Content-Security-Policy": policy(csp, page), "Cache-Control": "no-store"}
    return Response(html, media_type="text/html", headers=headers | {"X-Content-Type-Options": "nosniff"})
