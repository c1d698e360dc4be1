"""An MCP server of the 2026-07-28 revision over streamable HTTP that speaks the SEPs after it as they are written,
by hand (no SDK, so that the SDK chat uses cannot agree with itself): ``Drafts()`` serves on a thread of the test's
process, on 127.0.0.1, until ``close()``; ``url`` is its endpoint, ``seen`` each request as (headers, body).

Its tools:
- ``route`` (SEP-2243): parameters marked ``x-mcp-header`` (a string, an integer, a boolean, one nested); a call
  whose ``Mcp-Param-*`` headers do not match its arguments as the SEP encodes them is refused (HTTP 400, -32020);
- ``badheader`` (SEP-2243): an ``x-mcp-header`` that is no HTTP token: a client must leave it out;
- ``remote`` (SEP-2106): a ``$ref`` to a network URI (this server's ``/thing.json``), which a client must not fetch;
- ``shaped`` (SEP-2106): a 2020-12 schema with ``$schema``, ``$defs`` and ``$ref``;
- ``confirm`` (SEP-2322): answers ``input_required`` twice (a question, then state alone), each time with a
  ``requestState`` of the call's own ``n``; a retry whose state is not the one its call was given is refused.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REVISION = "2026-07-28"
HEADERS = {"region": "Region", "count": "Count", "flag": "Flag"}
QUESTION = {
    "method": "elicitation/create",
    "params": {"mode": "form", "message": "Go on?", "requestedSchema": {"type": "object", "properties": {}}},
}
TOOLS: list[dict[str, Any]] = [
    {
        "name": "route",
        "description": "Routes by its headers.",
        "inputSchema": {
            "type": "object",
            "properties": {
                **{key: {"type": kind, "x-mcp-header": name} for (key, name), kind in zip(HEADERS.items(), ("string", "integer", "boolean"))},
                "where": {"type": "object", "properties": {"zone": {"type": "string", "x-mcp-header": "Zone"}}},
                "query": {"type": "string"},
            },
        },
    },
    {
        "name": "badheader",
        "description": "An x-mcp-header that is no token.",
        "inputSchema": {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "My Region"}}},
    },
    {
        "name": "remote",
        "description": "A schema that refers off the server.",
        "inputSchema": {"type": "object", "properties": {"thing": {"$ref": "SELF/thing.json"}}},
    },
    {
        "name": "shaped",
        "description": "A JSON Schema 2020-12 schema.",
        "inputSchema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {"point": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}}},
            "properties": {"at": {"$ref": "#/$defs/point"}},
            "required": ["at"],
        },
    },
    {
        "name": "confirm",
        "description": "Asks, then asks for time, then answers.",
        "inputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}},
    },
]  # fmt: skip


def encoded(value: Any) -> str:
    """A parameter's value as SEP-2243 puts it in its header."""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    plain = text.isascii() and text.isprintable() and text == text.strip(" \t")
    if plain and not (text.startswith("=?base64?") and text.endswith("?=")):
        return text
    return "=?base64?" + base64.b64encode(text.encode()).decode() + "?="


def _call(params: dict[str, Any], headers: Any) -> dict[str, Any]:
    name, arguments = params.get("name"), params.get("arguments") or {}
    if name == "route":
        values = {name: arguments.get(key) for key, name in HEADERS.items()}
        values["Zone"] = (arguments.get("where") or {}).get("zone")
        for header, value in values.items():
            if (headers.get(f"Mcp-Param-{header}") is None) != (value is None) or (
                value is not None and headers.get(f"Mcp-Param-{header}") != encoded(value)
            ):
                raise Mismatch(f"Mcp-Param-{header} does not match the arguments")
        return {"content": [{"type": "text", "text": f"routed {arguments.get('query')}"}]}
    if name == "confirm":
        n, state = arguments.get("n"), params.get("requestState")
        if state is None:
            return {"resultType": "input_required", "inputRequests": {"go": QUESTION}, "requestState": f"{n}:asked"}
        if state == f"{n}:asked" and "go" in (params.get("inputResponses") or {}):
            answer = params["inputResponses"]["go"].get("action")
            return {"resultType": "input_required", "requestState": f"{n}:{answer}:waited"}
        if state.startswith(f"{n}:") and state.endswith(":waited"):
            return {"content": [{"type": "text", "text": f"confirmed {n} ({state.split(':')[1]})"}]}
        return {"content": [{"type": "text", "text": f"call {n} came back with state {state!r}"}], "isError": True}
    return {"content": [{"type": "text", "text": f"ran {name}"}]}


class Mismatch(Exception):
    """SEP-2243's HeaderMismatch: the request is refused with HTTP 400."""


class Drafts:
    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, str], dict[str, Any]]] = []
        drafts = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:  # no stream for the server's own messages at this revision; no schemas either
                drafts.seen.append((dict(self.headers.items()), {"GET": self.path}))
                self.send_response(405)
                self.end_headers()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                drafts.seen.append((dict(self.headers.items()), body))
                if "id" not in body:
                    self.send_response(202)
                    self.end_headers()
                    return
                status, reply = 200, {"jsonrpc": "2.0", "id": body["id"]}
                try:
                    reply["result"] = {"resultType": "complete", **drafts.answer(body, self.headers)}
                except Mismatch as exc:
                    status, reply["error"] = 400, {"code": -32020, "message": f"Header mismatch: {exc}"}
                except LookupError:
                    reply["error"] = {"code": -32601, "message": "Method not found"}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mcp"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, request: dict[str, Any], headers: Any) -> dict[str, Any]:
        method, params = request.get("method"), request.get("params") or {}
        if method == "server/discover":
            capabilities = {"tools": {"listChanged": False}}
            return {"supportedVersions": [REVISION], "capabilities": capabilities, "ttlMs": 0,
                    "cacheScope": "public", "serverInfo": {"name": "drafts", "version": "1"}}  # fmt: skip
        if method == "tools/list":
            return {
                "tools": json.loads(json.dumps(TOOLS).replace("SELF", self.url)),
                "ttlMs": 0,
                "cacheScope": "public",
            }
        if method == "tools/call":
            return _call(params, headers)
        raise LookupError(method)

    def calls(self, tool: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
        """The requests that called ``tool``, in order."""
        return [(h, b) for h, b in self.seen if b.get("method") == "tools/call" and b["params"].get("name") == tool]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
