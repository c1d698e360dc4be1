"""An MCP server of tools with the names it is given, for the tests of tool names: `python named.py SERVER TOOL...`.

Written by hand on JSON-RPC lines over stdio (no SDK: it starts in a few hundredths of a second, so that a test may
set up many). It speaks the 2025-06-18 revision (``server/discover`` is refused, as a server of that era refuses
it). Each tool's description is "SERVER's TOOL" (padded with dots to ``NAMED_DESCRIPTION_CHARS`` characters when
that is set: a server whose descriptions are long), and a call of it adds the line "SERVER TOOL" to the file
``NAMED_CALLS`` names and answers "ran SERVER's TOOL".
"""

import os

from lines import argv, serve  # this folder is its sys.path[0]

SERVER, *TOOLS = argv()
ERA = "2025-06-18"


def answer(request: dict) -> dict:
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        capabilities = {"tools": {"listChanged": False}}
        return {"protocolVersion": ERA, "capabilities": capabilities, "serverInfo": {"name": SERVER, "version": "1"}}
    if method == "ping":
        return {}
    if method == "tools/list":
        empty = {"type": "object", "properties": {}}
        width = int(os.environ.get("NAMED_DESCRIPTION_CHARS", "0"))
        said = [f"{SERVER}'s {t}".ljust(width, ".") for t in TOOLS]
        return {"tools": [{"name": t, "description": d, "inputSchema": empty} for t, d in zip(TOOLS, said)]}
    if method == "tools/call" and params.get("name") in TOOLS:
        with open(os.environ["NAMED_CALLS"], "a") as calls:
            calls.write(f"{SERVER} {params['name']}\n")
        return {"content": [{"type": "text", "text": f"ran {SERVER}'s {params['name']}"}], "isError": False}
    raise LookupError(method)


serve(answer)
