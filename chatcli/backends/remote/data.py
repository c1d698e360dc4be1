"""What a LangGraph Agent Server sends, checked as it arrives: a thread, an assistant, a thread's state.

The server is someone else's program: a field of the wrong type (a thread whose ``metadata`` is a list,
an ``assistant_id`` that is a number) is one line naming the field and what it was, never a traceback
further in. Free-form contents (what a thread's metadata holds, a state's values) are read loosely
where they are used: a title that is not text is no title.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from chatcli.errors import ModelError


class _Sent(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class ServerThread(_Sent):
    thread_id: str
    created_at: str | None = None
    updated_at: str | None = None
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | list[Any] | None = None


class ServerAssistant(_Sent):
    assistant_id: str
    graph_id: str | None = None


class ServerState(_Sent):
    values: dict[str, Any] | list[Any] | None = None
    next: list[str] | None = None
    interrupts: list[Any] | None = None
    checkpoint: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


Sent = TypeVar("Sent", bound=_Sent)
_KINDS = {dict: "an object", list: "a list", str: "text", bool: "true or false", int: "a number", float: "a number"}


def checked(kind: type[Sent], data: Any, what: str, url: str) -> Sent:
    """``data`` as ``kind``, or one line saying which field of ``what`` (e.g. "a thread") was not what it should be."""
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error.get("loc", ())
        field = str(loc[0]) if loc else "itself"
        value = data.get(field) if isinstance(data, dict) and loc else error.get("input")
        found = _KINDS.get(type(value), "null" if value is None else "something else")
        said = f"whose {field} is {found}" if field != "itself" else f"that is {found}"
        said = f"without its {field}" if error.get("type") == "missing" else said
        raise ModelError(
            f"the LangGraph server at {url} sent {what} {said}",
            hint="is it a LangGraph Agent Server of a version chat knows? --debug shows what it sent",
        ) from exc
