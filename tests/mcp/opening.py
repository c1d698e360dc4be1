"""An MCP server (2025-11-25) whose tool needs the user to open an address first: its first call is refused with
the protocol's error -32042 (URL_ELICITATION_REQUIRED, as a server that needs a sign-in sends it), naming the address;
once asked again, it runs. Written by hand on JSON-RPC lines over stdio, as named.py is."""

from lines import Refused, serve  # this folder is its sys.path[0]

ERA = "2025-11-25"
ADDRESS = {
    "mode": "url",
    "elicitationId": "sign-in-1",
    "url": "https://example.com/authorize?client=chat",
    "message": "Sign in to Example to let the tool read your files",
}
calls = 0


def answer(request: dict) -> dict:
    global calls
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        capabilities = {"tools": {"listChanged": False}}
        return {"protocolVersion": ERA, "capabilities": capabilities, "serverInfo": {"name": "opening", "version": "1"}}
    if method == "ping":
        return {}
    if method == "tools/list":
        empty = {"type": "object", "properties": {}}
        return {"tools": [{"name": "read_files", "description": "Reads your files.", "inputSchema": empty}]}
    if method == "tools/call" and params.get("name") == "read_files":
        calls += 1
        if calls == 1:
            raise Refused(-32042, "URL elicitation required", {"elicitations": [ADDRESS]})
        return {"content": [{"type": "text", "text": f"read 3 files (call {calls})"}], "isError": False}
    raise LookupError(method)


serve(answer)
