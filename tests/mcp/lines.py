"""The loop of the hand-written MCP test servers (named.py, parts.py, pages.py): JSON-RPC lines over stdio, each
request answered by ``answer`` (a LookupError: "Method not found"; a ``Refused``: its error), notifications passed over.

A server of these is run in a test's process too (tests/mcp_servers.here): on a thread of its own, whose stdin,
stdout and arguments are that thread's (``HERE``), not the process's; ``send`` and ``argv`` read them."""

import json
import sys
import threading
from typing import Callable

HERE = threading.local()  # in a test's process: this thread's ``stdin``, ``stdout`` and ``argv``


class Refused(Exception):
    """A request answered with this JSON-RPC error (``code``, ``message``, ``data``)."""

    def __init__(self, code: int, message: str, data: object = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def argv() -> list[str]:
    """The server's arguments (``python SCRIPT ARGS...``: ARGS)."""
    return getattr(HERE, "argv", sys.argv[1:])


def send(message: dict) -> None:
    """One message to the client: a line on stdout."""
    out = getattr(HERE, "stdout", sys.stdout)
    out.write(json.dumps(message) + "\n")
    out.flush()


def serve(answer: Callable[[dict], dict]) -> None:
    for line in getattr(HERE, "stdin", sys.stdin):
        if not line.strip():
            continue
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
        send(reply)
