"""MCP Apps (the ``io.modelcontextprotocol/ui`` extension, SEP-1865): a tool names an HTML view, a ``ui://`` resource
of its server, that a host shows its calls in; the view speaks to the host over postMessage and may ask it to call
its server's tools.

chat declares the extension to every server. A call of such a tool keeps, beside its text (what the terminal and the
model read, as the spec requires of a host that shows no view), the view's address and the call's whole result
(``Outcome.view``), which chat serve's page shows the view with (chatcli.api.apps). A view runs under the
Content-Security-Policy its resource declares and nothing more: no network but the domains it names, on an origin
that is not the page's, so it reaches nothing of the user's but through the page, which asks before each call.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

EXTENSION = "io.modelcontextprotocol/ui"
MIME = "text/html;profile=mcp-app"
MAX_VIEW = 4 * 1024 * 1024  # bytes of a view's HTML
MAX_RESULT = 1024 * 1024  # bytes of a call's result, as JSON, kept for its view (past it: the text alone)
# An origin a view may name for its CSP: a scheme, a host (a leading "*." allowed) and a port; nothing a policy
# would read as another directive or keyword.
NONE = "'none'"
ORIGIN = re.compile(r"(https?|wss?)://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class NoView(Exception):
    """What a server gave for a view is not one (another type, too large, none): one line saying why."""


@dataclass(frozen=True)
class View:
    """A view to show: its HTML, and the origins it declares for each use (``declared``)."""

    html: str
    csp: dict[str, list[str]]


def plain(value: Any) -> Any:
    """An MCP result as JSON (the SDK's pydantic object, or the MCP host's attribute view of its JSON): what the MCP
    host sends its callers, and what a view is given."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, SimpleNamespace):
        return {k: plain(v) for k, v in vars(value).items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def kept_result(result: Any) -> dict[str, Any] | None:
    """A call's result as its view is given it (``content``, ``structuredContent``, ``isError``); None past
    ``MAX_RESULT`` (the view then gets the text alone)."""
    data = plain(result)
    if not isinstance(data, dict):
        return None
    kept = {k: data[k] for k in ("content", "structuredContent", "isError", "_meta") if k in data}
    return kept if len(json.dumps(kept)) <= MAX_RESULT else None


def declared(csp: Any) -> dict[str, list[str]]:
    """The origins a view's ``csp`` (``_meta.ui.csp``) names for each use, whatever it is: each a scheme, a host and
    a port, nothing a policy would read as a keyword or another directive; at most 32 a use."""
    csp = csp if isinstance(csp, dict) else {}
    keys = ("resourceDomains", "connectDomains", "frameDomains", "baseUriDomains")
    given = {key: csp.get(key) if isinstance(csp.get(key), list) else [] for key in keys}
    return {key: [o for o in given[key] if isinstance(o, str) and ORIGIN.fullmatch(o)][:32] for key in keys}


def policy(csp: Any, page: str) -> str:
    """The Content-Security-Policy of a view whose resource declares ``csp``: its own inline script and style, and
    only the origins it names for each use (none: none), framed only by the page at the origin ``page``."""
    named = {key: " ".join(origins) for key, origins in declared(csp).items()}
    resources = named["resourceDomains"]
    own = [f"{kind}-src 'unsafe-inline' {resources}".strip() for kind in ("script", "style")]
    own += [f"{kind}-src data: blob: {resources}".strip() for kind in ("img", "font", "media")]
    named_only = (("connect-src", "connectDomains"), ("frame-src", "frameDomains"), ("base-uri", "baseUriDomains"))
    own += [f"{directive} {named[key] or NONE}" for directive, key in named_only]
    return "; ".join(["default-src 'none'", *own, "form-action 'none'", f"frame-ancestors {page}"])


async def read_view(server: Any, uri: str) -> View:
    """The view ``uri`` of ``server`` (an McpServer) as its ``resources/read`` gives it: ``NoView`` for an address
    that is not ``ui://``, or a resource that is not an App's HTML."""
    if not uri.startswith("ui://"):
        raise NoView(f"{uri[:100]!r} is not an MCP App's view (ui://)")
    contents = plain(await server.read_resource(uri)).get("contents") or []
    item = next((c for c in contents if isinstance(c, dict) and c.get("uri") == uri), None) or (contents or [None])[0]
    if not isinstance(item, dict) or str(item.get("mimeType") or "").replace(" ", "").lower() != MIME:
        raise NoView(f"MCP server {server.name} gave no MCP App for {uri[:100]} (its type is not {MIME})")
    text = item.get("text")
    data = text.encode() if isinstance(text, str) else base64.b64decode(str(item.get("blob") or ""), validate=False)
    if len(data) > MAX_VIEW:
        raise NoView(f"MCP server {server.name}'s view {uri[:100]} is larger than {MAX_VIEW // (1024 * 1024)} MB")
    meta = item.get("_meta") or _listed_meta(server, uri)
    ui = meta.get("ui") if isinstance(meta, dict) else None
    return View(data.decode("utf-8", "replace"), declared(ui.get("csp") if isinstance(ui, dict) else None))


def _listed_meta(server: Any, uri: str) -> Any:
    """The ``_meta`` of ``uri`` as the server's resource list gave it (the spec's fallback for a read without it)."""
    listed = (server.listing.data.get("resources") or []) if server.listing is not None else []
    return next((r.get("_meta") for r in listed if isinstance(r, dict) and r.get("uri") == uri), None)


def refused(why: str) -> dict[str, Any]:
    """A call of a view's not run, as its view is told: ``why``."""
    return {"result": {"content": [{"type": "text", "text": why}], "isError": True}}
