"""The loop of the hand-written MCP test servers (named.py, parts.py): JSON-RPC lines over stdio, each request
answered by ``answer`` (a LookupError: "Method not found"; a ``Refused``: its error), notifications passed over."""

import json
import sys
from typing import Callable


class Refused(Exception):
    """A request answered with this JSON-RPC error (``code``, ``message``, ``data``)."""

    def __init__(self, code: int, message: str, data: object = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def serve(answer: Callable[[dict], dict]) -> None:
    for line in sys.stdin:
        request = json.loads(line)
        if "id" not in request:
            continue  # a notification
        try:
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": answer(request)}
        except Refused as refused:
            error = {"code": refused.code, "message": refused.message, "data": refused.data}
            reply = {"jsonrpc": "2.0", "id": request["id"], "error": error}
        except LookupError:
            reply = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "Method not found"}}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
