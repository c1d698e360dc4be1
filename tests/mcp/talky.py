"""An MCP server (2025-11-25) that logs while it works: each call sends ``notifications/message`` (a line of text, and
one of structured data with an escape in it) before its result. Written by hand on JSON-RPC lines over stdio."""

from lines import send, serve  # this folder is its sys.path[0]

ERA = "2025-11-25"


def log(level: str, data: object) -> None:
    note = {
        "jsonrpc": "2.0",
        "method": "notifications/message",
        "params": {"level": level, "logger": "talky", "data": data},
    }
    send(note)


def answer(request: dict) -> dict:
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        capabilities = {"tools": {"listChanged": False}, "logging": {}}
        return {"protocolVersion": ERA, "capabilities": capabilities, "serverInfo": {"name": "talky", "version": "1"}}
    if method in ("ping", "logging/setLevel"):
        return {}
    if method == "tools/list":
        empty = {"type": "object", "properties": {}}
        return {"tools": [{"name": "work", "description": "Works, and says so in its log.", "inputSchema": empty}]}
    if method == "tools/call" and params.get("name") == "work":
        log("info", "working on it")
        log("error", "a title change \x1b]0;PWNED\x07 in plain text")
        log("warning", {"step": 2, "note": "slow disk \x1b]0;PWNED\x07"})
        return {"content": [{"type": "text", "text": "done working"}], "isError": False}
    raise LookupError(method)


serve(answer)
