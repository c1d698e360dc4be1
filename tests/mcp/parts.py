"""An MCP server whose one tool, ``every_part``, answers with every kind of content a tool result may hold: text, an
image, audio, a link to a resource, an embedded text resource and an embedded binary one (the 2025-06-18 revision's
content types, as server-everything returns them). Written by hand on JSON-RPC lines over stdio, as named.py is.
"""

from lines import serve  # this folder is its sys.path[0]

ERA = "2025-06-18"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
PARTS = [
    {"type": "text", "text": "Here is everything."},
    {"type": "image", "data": PNG, "mimeType": "image/png"},
    {"type": "audio", "data": "UklGRiQAAABXQVZF", "mimeType": "audio/wav"},
    {
        "type": "resource_link",
        "uri": "file:///srv/reports/q3.txt",
        "name": "q3.txt",
        "title": "The third quarter's report",
        "description": "Revenue and costs, July to September",
        "mimeType": "text/plain",
        "size": 48213,
    },
    {"type": "resource", "resource": {"uri": "notes://today", "mimeType": "text/plain", "text": "Buy milk."}},
    {"type": "resource", "resource": {"uri": "archive://logs.tgz", "mimeType": "application/gzip", "blob": "H4sIAA=="}},
]


def answer(request: dict) -> dict:
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        capabilities = {"tools": {"listChanged": False}}
        return {"protocolVersion": ERA, "capabilities": capabilities, "serverInfo": {"name": "parts", "version": "1"}}
    if method == "ping":
        return {}
    if method == "tools/list":
        empty = {"type": "object", "properties": {}}
        return {
            "tools": [{"name": "every_part", "description": "Answers with every kind of part.", "inputSchema": empty}]
        }
    if method == "tools/call" and params.get("name") == "every_part":
        return {"content": PARTS, "isError": False}
    raise LookupError(method)


serve(answer)
