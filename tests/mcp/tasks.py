"""An MCP server (the 2025-11-25 revision) with a tool that runs only as a task (``execution.taskSupport``
"required", as server-everything's ``simulate-research-query``), one that may (``"optional"``) and one that never
does. Written by hand on JSON-RPC lines over stdio, as named.py is."""

from lines import serve  # this folder is its sys.path[0]

ERA = "2025-11-25"
EMPTY = {"type": "object", "properties": {}}
TOOLS = [
    {
        "name": "research",
        "description": "A long research run, as a task.",
        "inputSchema": EMPTY,
        "execution": {"taskSupport": "required"},
    },
    {
        "name": "quick",
        "description": "Runs as a call or a task.",
        "inputSchema": EMPTY,
        "execution": {"taskSupport": "optional"},
    },
    {"name": "plain", "description": "A call, as ever.", "inputSchema": EMPTY},
]


def answer(request: dict) -> dict:
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        capabilities = {"tools": {"listChanged": False}}
        return {"protocolVersion": ERA, "capabilities": capabilities, "serverInfo": {"name": "tasks", "version": "1"}}
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call" and params.get("name") in ("quick", "plain"):
        return {"content": [{"type": "text", "text": f"{params['name']} ran"}], "isError": False}
    if method == "tools/call":
        raise LookupError("research requires task augmentation")
    raise LookupError(method)


serve(answer)
