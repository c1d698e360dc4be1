"""The format of a thread export (``chat export -f json``), checked whole before ``chat import`` writes anything.

A file that does not match is refused with the JSON path of its first problem
(``messages[3].content: expected a string, got 5``), so nothing half-imported or
unreadable ever reaches the database. The shape is the pydantic models below (strict: no
``"5"`` for 5, no ``true`` for 1); what depends on a message's role is checked after them.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic_core import ErrorDetails

from chatcli.errors import UsageError

# What pydantic's error types (``string_type``...) wanted, as a refusal says it.
_WANTED = dict(string="a string", int="a number", float="a number", dict="an object", model="an object", list="a list")


def _shown(value: Any) -> str:
    """A value found where another was wanted: itself when short and plain (5, 'abc'), else its kind."""
    kinds = {bool: "a boolean", list: "a list", dict: "an object"}
    return repr(value)[:60] if type(value) in (int, float, str) else kinds.get(type(value), "null")


def _time(value: Any) -> Any:
    """A thread's time is an ISO 8601 string (or, in exports before version 2, epoch seconds)."""
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 time, got {_shown(value)}") from None
    elif value is not None and type(value) not in (int, float):
        raise ValueError(f"expected a number or a string, got {_shown(value)}")
    return value


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except ValueError:  # (binascii.Error is one)
        raise ValueError("not base64") from None
    return value


class _Call(BaseModel, strict=True):
    id: str
    name: str
    arguments: dict[str, Any] = {}


class _Attachment(BaseModel, strict=True):
    name: str
    type: str
    data: Annotated[str, AfterValidator(_base64)]
    url: Any = None  # where it was fetched from, if it was


class Message(BaseModel, strict=True):
    role: Literal["user", "assistant", "tool"]
    content: str
    created_at: str | None = None
    model: str | None = None
    interrupted: str | None = None
    name: str | None = None
    status: str | None = None
    label: str | None = None
    seconds: float | None = None
    reasoning: str | None = None
    tool_calls: list[_Call] | None = None  # on an assistant message
    tool_call_id: str | None = None  # on a tool message
    attachments: list[_Attachment] | None = None  # on a user message


class Export(BaseModel, strict=True):
    version: int | None = None
    thread_id: str | None = None
    title: str | None = None
    model: str | None = None
    system: str | None = None
    created_at: Annotated[Any, AfterValidator(_time)] = None
    updated_at: Annotated[Any, AfterValidator(_time)] = None
    message_count: int | None = None
    vars: dict[str, str] | None = None
    messages: list[Message]


def _refused(path: str, said: str) -> UsageError:
    return UsageError(f"not a valid thread export: {path}: {said}")


def _refusal(error: ErrorDetails) -> UsageError:
    """Pydantic's first error said as the JSON path of the problem, what was expected there and what was found."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".") or "(top level)"
    ctx = error.get("ctx", {})
    if "error" in ctx:  # a check of chat's own (a time, base64): its message says it whole
        return _refused(path, str(ctx["error"]))
    if error["type"] == "missing":
        return _refused(path, "missing")
    what = ctx.get("expected") or _WANTED.get(error["type"].removesuffix("_type"), error["msg"])
    return _refused(path, f"expected {what}, got {_shown(error['input'])}")


def check_export(data: Any) -> Export:
    """``data`` (said to be a thread export) read, if it is one chat can import; else a UsageError naming the first
    problem."""
    try:
        export = Export.model_validate(data)
    except ValidationError as e:
        raise _refusal(e.errors()[0]) from None
    if not export.messages:
        raise UsageError("the export holds no messages")
    made: set[str] = set()
    for i, message in enumerate(export.messages):
        for field, role in (("tool_calls", "assistant"), ("attachments", "user")):
            if getattr(message, field) is not None and message.role != role:
                raise _refused(f"messages[{i}].{field}", f"only on {role} messages")
        if message.role == "tool" and (call_id := message.tool_call_id) not in made:
            raise _refused(f"messages[{i}].tool_call_id", f"no earlier tool call has the id {call_id!r:.40}")
        made.update(call.id for call in message.tool_calls or ())
    return export
