"""What of the editor's input reaches the protocol: each line one JSON-RPC object, screened before the SDK reads it.

The SDK ends its connection on a line that is JSON but not an object (a batch, ``null``, a number), on a response
whose id is not a string or a number, or on an error that is not an object, and it only logs a line that is not
JSON. Here such a line is answered with the JSON-RPC error the specification names (-32700 not JSON, -32600 not a
request), or dropped with one line on stderr when it is a notification or a response (nothing may answer those),
and never ends the agent. An unknown notification is dropped quietly, as the specification wants.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from chatcli.text import say

# The notifications an agent hears from the editor.
NOTIFICATIONS = ("session/cancel",)
# Methods of ACP's schema the SDK (agent-client-protocol 0.12) does not route to the agent: each reaches it as the
# extension named here (the agent's ``ext_method``), its id and params as they came.
UNROUTED = {"session/delete": "chatcli.schema/session/delete"}


def screened(line: bytes) -> tuple[bytes | None, dict[str, Any] | None]:
    """``line`` as it goes on to the protocol (None: it does not), and the error response to send back (if any)."""
    if not line.strip():
        return None, None
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return None, error(None, -32700, "Parse error: a line is one JSON-RPC message")
    if not isinstance(message, dict):
        return None, error(None, -32600, "Invalid request: a message is one JSON object (batches are not taken)")
    return (_request if "method" in message else _response)(message, line)


def _request(message: dict[str, Any], line: bytes) -> tuple[bytes | None, dict[str, Any] | None]:
    method, ident = message["method"], message.get("id")
    if "id" not in message:  # a notification: nothing may answer it
        params = message.get("params")
        if method not in NOTIFICATIONS:
            return None, None
        if not isinstance(params, dict) or not isinstance(params.get("sessionId"), str):
            _log(f"a {str(method)[:40]} notification without a session id was dropped")
            return None, None
        return line, None
    if not _fit_id(ident):
        return None, error(None, -32600, "Invalid request: an id is a string or a number")
    if not isinstance(method, str):
        return None, error(ident, -32600, "Invalid request: a method is a string")
    if "params" in message and not isinstance(message["params"], (dict, list)):
        return None, error(ident, -32602, "Invalid params: params are an object")
    if method in UNROUTED:
        return json.dumps({**message, "method": "_" + UNROUTED[method]}).encode(), None
    return line, None


def _response(message: dict[str, Any], line: bytes) -> tuple[bytes | None, dict[str, Any] | None]:
    ident = message.get("id")
    if not _fit_id(ident) or ident is None:
        _log("an answer without a usable id was dropped")
        return None, None
    problem = message.get("error")
    if "error" in message and not (
        isinstance(problem, dict) and isinstance(problem.get("code"), int) and isinstance(problem.get("message"), str)
    ):
        _log(f"the editor's answer to request {str(ident)[:40]} was a malformed error")
        return encoded(error(ident, -32603, "the editor's answer was a malformed error")), None
    if "error" not in message and "result" not in message:
        _log(f"the editor's answer to request {str(ident)[:40]} had no result")
        return encoded(error(ident, -32603, "the editor's answer had no result")), None
    return line, None


def _fit_id(ident: Any) -> bool:
    return ident is None or isinstance(ident, str) or (isinstance(ident, (int, float)) and not isinstance(ident, bool))


def error(ident: Any, code: int, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": text}}


def encoded(message: dict[str, Any]) -> bytes:
    """A message of ours, as a line of the protocol."""
    return json.dumps(message).encode() + b"\n"


def _log(text: str) -> None:
    say(sys.stderr, f"chat acp: {text}\n")
