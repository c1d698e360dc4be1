"""The loop of the hand-written MCP test servers (named.py, parts.py): JSON-RPC lines over stdio, each request
answered by ``answer`` (a LookupError: "Method not found"), notifications passed over."""

import json
import sys
from typing import Callable


def serve(answer: Callable[[dict], dict]) -> None:
    for line in sys.stdin:
        request = json.loads(line)
        if "id" not in request:
            continue  # a notification
        try:
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": answer(request)}
        except LookupError:
            reply = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "Method not found"}}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
