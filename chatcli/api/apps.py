"""MCP Apps over HTTP (chatcli.tools.mcp.apps): a tool's view for the page to show, the calls a view asks the page to
make, decided as any call is, and the sandbox proxy the page shows views through.

The proxy is the MCP Apps specification's reference host's: a page served on a port of its own (``ViewPort``: another
origin than the page's, whose cookie, API and page it serves none of), framed by the page alone, that moves to a
data: address (an origin of its own, which no other view's proxy has) and runs the view in a frame of that origin (so a
framework that reads ``window.parent`` may) under the policy its server declares, and relays the spec's messages
between the two (chatcli/api/page/proxy.html).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Literal

from fastapi import Body, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.responses import Response

from chatcli.api.errors import Strict
from chatcli.api.turns import EVENT_STREAM, HttpListener, Objects
from chatcli.errors import UsageError
from chatcli.text import json_text

if TYPE_CHECKING:
    from chatcli.service.chat import Chat
    from chatcli.service.thread import Thread
    from chatcli.tools.toolbox import Toolbox


class AppCall(Strict):
    """A call a view asks for: one of its server's tools, with its arguments, from the view of the tool result
    ``result`` (its call's id) of ``thread``."""

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    thread: str = Field(max_length=200)
    result: str = Field(max_length=200)


class AppAnswer(Strict):
    """The user's answer to a call asked (its "ask"'s ``id``): "yes" runs it as it was shown, "no" refuses it."""

    answer: str = Field(max_length=64)
    action: Literal["yes", "no"]
    always: bool = Field(False, description='With "yes": this tool runs unasked for the rest of the server\'s run.')
    reason: str = Field("", max_length=2000, description='With "no": why, which the App is told.')


MOST, AGE = 64, 600.0  # the calls asked kept unanswered at most, the seconds each is kept


@dataclass
class Asked:
    """A call of a view shown to the user, as it was shown (its arguments as the hooks left them)."""

    thread: str
    result: str
    entry: Any
    call: dict[str, Any]
    decision: dict[str, Any]  # the hooks' (a rewrite of its arguments)
    until: float = field(default_factory=lambda: time.monotonic() + AGE)


class Kept(dict[str, Asked]):
    """The calls asked and not yet answered, by the id their "ask" gave: the newest ``MOST``, each taken once within
    ``AGE`` seconds."""

    def keep(self, asked: Asked) -> str:
        for key in [key for key, kept in self.items() if kept.until < time.monotonic()]:
            del self[key]
        while len(self) >= MOST:
            self.pop(next(iter(self)))
        self[key := secrets.token_urlsafe(18)] = asked
        return key

    def take(self, key: str, server: str) -> Asked:
        kept = self.pop(key, None)
        if kept is None or kept.until < time.monotonic() or kept.entry.server != server:
            raise UsageError(f"no call waits on the answer {key[:64]!r}: answered already, or asked too long ago")
        return kept


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
        summary="An MCP App's view (a tool result's view.uri): its HTML, the origins it declares for each use (csp), "
        "the port of the sandbox proxy that shows it (proxy; null: none, on a unix socket)",
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

    kept = Kept()

    @app.post(
        "/v1/apps/{server}/call",
        summary='A call an MCP App of this server asks for, decided and run as the model\'s calls: {"result": '
        'CallToolResult}, or {"ask": the call shown whole, its "id"} until {"answer": id, "action": "yes"|"no"} '
        "answers it; kept with the view's result in its thread. With Accept: text/event-stream, its events first",
    )
    async def call(server: str, request: Request, asked: AppCall | AppAnswer = Body()) -> Any:
        if EVENT_STREAM not in request.headers.get("accept", ""):
            return await view_call(chat, kept, server, asked, lambda _event: None)
        objects: Objects = asyncio.Queue()
        told = HttpListener(objects, lines=True)

        async def run() -> None:
            try:
                objects.put_nowait(await view_call(chat, kept, server, asked, told.hear))
            except Exception as exc:  # noqa: BLE001 - the error object, as a turn's
                told.fail(exc, chat.settings)
            finally:
                objects.put_nowait(None)

        async def events() -> AsyncIterator[str]:
            task = asyncio.ensure_future(run())
            while (obj := await objects.get()) is not None:
                yield f"data: {json_text(obj, ensure_ascii=False)}\n\n"
            await task

        return StreamingResponse(events(), media_type=EVENT_STREAM, headers={"Cache-Control": "no-store"})


async def view_call(chat: Chat, kept: Kept, server: str, asked: AppCall | AppAnswer, emit: Any) -> dict[str, Any]:
    """A call an MCP App's view of ``server`` asks for, or the user's answer to one asked, decided by the same hooks'
    decision as the model's calls (chatcli.backends.own.toolcalls.hooks_decided) and run as they run
    (chatcli.backends.own.toolrun.settle: PostToolUse hooks, its events to ``emit``): refused where the App may not
    call the tool or a hook denies it; ``{"ask": the call shown whole}`` where it would be asked, kept in ``kept``
    until the user answers; then ``{"result": the CallToolResult}``, whole. Each is kept in the thread with the
    view's result."""
    from chatcli.backends.own.toolcalls import hooks_decided
    from chatcli.tools.mcp.apps import refused

    if isinstance(asked, AppAnswer):
        taken = kept.take(asked.answer, server)
        thread, toolbox = await viewed(chat, taken.thread, taken.result, server)
        if asked.action == "yes" and asked.always:
            toolbox.allow(taken.entry)
        decision = {**taken.decision, "action": asked.action, "reason": asked.reason}
        return await ran(thread, taken, decision, True, emit)
    thread, toolbox = await viewed(chat, asked.thread, asked.result, server)
    entry = await toolbox.app_tool(server, asked.tool)
    if entry is None:
        return refused(f"not run: MCP server {server} offers its App no tool named {asked.tool!r}")
    call: dict[str, Any] = {"id": f"app_{secrets.token_hex(8)}", "name": entry.name, "args": asked.arguments}
    said = await hooks_decided(toolbox, thread.hooks, [call], thread.thread_id, {call["id"]: entry})
    taken = Asked(thread.thread_id, asked.result, entry, call, said["decisions"].get(call["id"], {}))
    left = said["asking"][0] if said["asking"] else None  # (none: a hook allows it, or refuses it)
    if left is not None and (left["hook"] or not toolbox.preapproved(entry, left["args"])):
        shown = {"server": server, "tool": asked.tool, "label": entry.label, "arguments": left["args"]}
        return {"ask": {"id": kept.keep(taken), **shown, "reason": left["hook"] or ""}}
    return await ran(thread, taken, taken.decision, bool(said["refused"]), emit)


async def viewed(chat: Chat, thread_id: str, result: str, server: str) -> tuple[Thread, Toolbox]:
    """The thread ``thread_id``, whose tool result ``result`` has a view of ``server``'s App (one line saying so
    where it has none, or where the thread waits on an answer)."""
    thread = await chat.thread(thread_id, exists=True)
    state = await thread.app.aget_state(thread.config)
    if (toolbox := thread.toolbox) is None or _view_of(state, result, server) is None:
        raise UsageError(f"thread {thread_id!r} has no view of MCP server {server[:60]!r} for the call {result!r}")
    if state.next:
        raise UsageError(f"thread {thread_id} waits on an answer: its views call nothing until it is given")
    return thread, toolbox


def _view_of(state: Any, result: str, server: str) -> Any:
    messages = state.values.get("messages") or []
    found = (m for m in messages if m.type == "tool" and m.tool_call_id == result)
    return next(
        (m for m in found if m.response_metadata.get("server") == server and m.response_metadata.get("view")), None
    )


MAX_CALLS, MAX_TEXT = 100, 2000  # an App's calls kept with its view's result, the characters of each one's text


async def ran(thread: Thread, asked: Asked, decision: dict[str, Any], said: bool, emit: Any) -> dict[str, Any]:
    """``asked``'s call settled as the model's are (refused as ``decision`` says where ``said``, else run), kept
    in its thread with its view's result, where the model is not sent it: an MCP App tells the model what it
    wants it to know (``ui/update-model-context``, ``ui/message``); the view's answer."""
    from chatcli.backends.own.toolrun import settle
    from chatcli.threads.records import message_record

    assert thread.toolbox is not None
    message = await settle(
        thread.toolbox, thread.hooks, asked.call, decision, said, emit, thread.thread_id, None, asked.entry
    )
    made = {k: v for k, v in message_record(message).items() if k not in ("role", "view", "server")}
    made.update(content=made["content"][:MAX_TEXT], arguments=message.response_metadata.get("arguments"))
    async with thread.lock():
        state = await thread.app.aget_state(thread.config)
        found = _view_of(state, asked.result, asked.entry.server)
        if found is not None and not state.next:  # (else taken back meanwhile, or a turn waits: not kept)
            view = found.response_metadata["view"]
            meta = {**found.response_metadata, "view": {**view, "calls": [*view.get("calls", []), made][-MAX_CALLS:]}}
            changed = found.model_copy(update={"response_metadata": meta})
            await thread.backend.change(thread.config, {"messages": [changed]})
    whole = (message.response_metadata.get("view") or {}).get("result")
    text = [{"type": "text", "text": str(message.content)}]
    return {"result": whole or {"content": text, "isError": message.status == "error"}}


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
    made = policy(csp, page)  # (in the page too, where its data: copy keeps it: a <meta> takes no frame-ancestors)
    html = (FILES / "proxy.html").read_text(encoding="utf-8").replace("{page}", page)
    html = html.replace("{policy}", made.rsplit("; frame-ancestors", 1)[0])
    headers = {"Content-Security-Policy": made, "Cache-Control": "no-store"}
    return Response(html, media_type="text/html", headers=headers | {"X-Content-Type-Options": "nosniff"})
