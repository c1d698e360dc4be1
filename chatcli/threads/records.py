"""Stored messages as plain records (role, text, times, model, tool calls, attachments), no LangChain classes.

A message is either a LangChain message or the dict its ``model_dump()`` gave, as
``chatcli.store.decode`` reads it back: listings, transcripts and exports need no more.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def fields_of(message: Any) -> dict[str, Any]:
    """A message's fields as a dict: the stored dict itself, or a LangChain message's dump."""
    return message if isinstance(message, dict) else message.model_dump()


def text_of(content: Any) -> str:
    """The text of a message's content, as LangChain's ``message.text`` gives it (text blocks joined)."""
    if isinstance(content, str):
        return content
    texts = [b.get("text") if isinstance(b, dict) and b.get("type") == "text" else b for b in content or []]
    return "".join(text for text in texts if isinstance(text, str))


def message_record(message: Any) -> dict[str, Any]:
    """One message as plain data: role, text, and the time and model when known."""
    from chatcli.content.attachments import ATTACHMENTS_KEY, TYPED_KEY
    from chatcli.core.chunks import thinking_of

    m = fields_of(message)
    kind = m.get("type")
    meta = m.get("response_metadata") or {}
    extra = m.get("additional_kwargs") or {}
    record: dict[str, Any] = {"role": _ROLES.get(str(kind), kind), "content": text_of(m.get("content"))}
    if extra.get(ATTACHMENTS_KEY):  # what the user typed; the files as lines, not their content
        record["content"] = str(extra.get(TYPED_KEY) or "")
        record["attachments"] = [dict(item) for item in extra[ATTACHMENTS_KEY]]
    for key, name in (("created_at", "created_at"), ("model_name", "model"), ("interrupted", "interrupted")):
        if meta.get(key):
            record[name] = meta[key]
    reasoning = thinking_of(SimpleNamespace(additional_kwargs=extra, content=m.get("content"))) if kind == "ai" else ""
    if reasoning.strip():
        record["reasoning"] = reasoning
    if calls := m.get("tool_calls"):
        record["tool_calls"] = [{"id": c.get("id"), "name": c["name"], "arguments": c.get("args") or {}} for c in calls]
    if kind == "tool":
        status = meta.get("outcome") or ("error" if m.get("status") == "error" else "ok")
        record |= {"tool_call_id": m.get("tool_call_id"), "name": m.get("name") or "", "status": status}
        record |= {key: meta[key] for key in ("label", "seconds", "server", "view") if meta.get(key) is not None}
    return record


def export_record(message: Any) -> dict[str, Any]:
    """``message_record`` with the attachments' bytes (base64), so that an import gets them back."""
    import base64

    from chatcli.content.attachments import attachments_of

    record = message_record(message)
    if record.get("attachments"):
        m = fields_of(message)
        extra, content = m.get("additional_kwargs") or {}, m.get("content")
        shape = SimpleNamespace(additional_kwargs=extra, content=content, text=text_of(content))
        found = attachments_of(shape)
        record["attachments"] = [{**a.record(), "data": base64.b64encode(a.data).decode("ascii")} for a in found]
    return record


def one_line(snippet: str, marks: tuple[tuple[int, int], ...]) -> tuple[str, list[tuple[int, int]]]:
    """The snippet on one line (each run of white space one space), its marks moved along."""
    text: list[str] = []
    where: list[int] = []  # for each offset of the snippet, its offset in ``text``
    for char in snippet:
        where.append(len(text))
        if not char.isspace():
            text.append(char)
        elif text and text[-1] != " ":
            text.append(" ")
    where.append(len(text))
    return "".join(text).strip(), [(where[a], where[b]) for a, b in marks if a < b <= len(snippet)]


def hit_record(hit: Any) -> dict[str, Any]:
    """A search hit (chatcli.store.base.SearchHit) as plain data, for scripts (``chat search --json``, serve's
    /v1/search): where the match is, who said it (a message's role) and when (ISO 8601, UTC), its snippet on one
    line."""
    from chatcli.text import iso_time

    said = {"turn": hit.turn, "speaker": _ROLES.get(hit.role, hit.role), "snippet": one_line(hit.snippet, hit.marks)[0]}
    return {"thread_id": hit.thread_id, "title": hit.title, **said, "time": iso_time(hit.created_at)}
