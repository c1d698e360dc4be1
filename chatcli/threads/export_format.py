"""The format of a thread export (``chat export -f json``), checked whole before ``chat import`` writes anything.

A file that does not match is refused with the JSON path of its first problem
(``messages[3].content: expected a string, got 5``), so nothing half-imported or
unreadable ever reaches the database.
"""

from __future__ import annotations

from typing import Any

from chatcli.errors import UsageError

EXPORT_FORMAT = "chatcli-thread"
EXPORT_VERSION = 2  # 2: the thread's times are ISO 8601 strings, as the messages' are
ROLES = ("user", "assistant", "tool")
# Optional top-level fields: the types each may have (None is always allowed).
_FIELDS: dict[str, tuple[type, ...]] = {
    "version": (int,),
    "thread_id": (str,),
    "title": (str,),
    "model": (str,),
    "system": (str,),
    "created_at": (str, int, float),  # ISO 8601; exports before version 2 wrote epoch seconds
    "updated_at": (str, int, float),
    "message_count": (int,),
}
_MESSAGE_FIELDS: dict[str, tuple[type, ...]] = {
    "created_at": (str,),
    "model": (str,),
    "interrupted": (str,),
    "name": (str,),
    "status": (str,),
    "label": (str,),
    "seconds": (int, float),
    "reasoning": (str,),
}


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _expected(path: str, what: str, value: Any) -> UsageError:
    shown = repr(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else _kind(value)
    return UsageError(f"not a valid thread export: {path}: expected {what}, got {shown[:60]}")


def _check_type(path: str, value: Any, types: tuple[type, ...]) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, types):
        what = " or ".join(sorted({_kind(t()) for t in types}))
        raise _expected(path, what, value)


def _check_time(path: str, value: Any) -> None:
    """A thread's time is an ISO 8601 string (or, in exports before version 2, epoch seconds)."""
    from datetime import datetime

    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise _expected(path, "an ISO 8601 time", value) from None


def check_export(data: Any) -> dict[str, Any]:
    """``data`` if it is a thread export chat can import; else a UsageError naming the first problem."""
    if not isinstance(data, dict):
        raise _expected("(top level)", "an object", data)
    if data.get("format") != EXPORT_FORMAT:
        raise UsageError(f'not a chatcli thread export (expected "format": "{EXPORT_FORMAT}")')
    for name, types in _FIELDS.items():
        _check_type(name, data.get(name), types)
    for name in ("created_at", "updated_at"):
        _check_time(name, data.get(name))
    _check_vars(data.get("vars"))
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise _expected("messages", "a list", messages)
    if not messages:
        raise UsageError("the export holds no messages")
    for i, record in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(record, dict):
            raise _expected(path, "an object", record)
        if record.get("role") not in ROLES:
            raise _expected(f"{path}.role", '"user", "assistant" or "tool"', record.get("role"))
        if not isinstance(record.get("content"), str):
            raise _expected(f"{path}.content", "a string", record.get("content"))
        for name, types in _MESSAGE_FIELDS.items():
            _check_type(f"{path}.{name}", record.get(name), types)
        _check_calls(path, record, messages[:i])
        _check_attachments(path, record)
    return data


def _check_vars(variables: Any) -> None:
    """The thread's variables, if any: an object of strings."""
    if variables is None:
        return
    if not isinstance(variables, dict):
        raise _expected("vars", "an object", variables)
    for name, value in variables.items():
        if not isinstance(value, str):
            raise _expected(f"vars.{name}", "a string", value)


def _check_attachments(path: str, record: dict[str, Any]) -> None:
    """Attachments are on user messages, each with a name, a type and base64 data."""
    import base64
    import binascii

    items = record.get("attachments")
    if items is None:
        return
    if record["role"] != "user" or not isinstance(items, list):
        raise _expected(f"{path}.attachments", "a list on a user message", items)
    for j, item in enumerate(items):
        where = f"{path}.attachments[{j}]"
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("name", "type", "data")):
            raise _expected(where, "an object with string name, type and data", item)
        try:
            base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            raise UsageError(f"not a valid thread export: {where}.data: not base64") from None


def _check_calls(path: str, record: dict[str, Any], before: list[Any]) -> None:
    """A message's tool calls are well formed; a tool result answers a call made before it."""
    calls = record.get("tool_calls")
    if calls is not None:
        if record["role"] != "assistant" or not isinstance(calls, list):
            raise _expected(f"{path}.tool_calls", "a list on an assistant message", calls)
        for j, call in enumerate(calls):
            if (
                not isinstance(call, dict)
                or not isinstance(call.get("id"), str)
                or not isinstance(call.get("name"), str)
            ):
                raise _expected(f"{path}.tool_calls[{j}]", "an object with a string id and name", call)
            if not isinstance(call.get("arguments", {}), dict):
                raise _expected(f"{path}.tool_calls[{j}].arguments", "an object", call.get("arguments"))
    if record["role"] == "tool":
        call_id = record.get("tool_call_id")
        if not isinstance(call_id, str):
            raise _expected(f"{path}.tool_call_id", "a string", call_id)
        made = {
            c.get("id")
            for m in before
            if isinstance(m, dict)
            for c in (m.get("tool_calls") or [])
            if isinstance(c, dict)
        }
        if call_id not in made:
            raise UsageError(
                f"not a valid thread export: {path}.tool_call_id: no earlier tool call has the id {call_id[:40]!r}"
            )
