"""What a call gives back: its text and how it ended, whatever the tool returned (built-in or MCP)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Callable

MEDIA = ("image", "audio")  # parts a model may be sent as what they are (chatcli.backends.own.request_history)
BINARY = (*MEDIA, "file")  # parts kept for the user as files (chatcli.tools.kept_files)
MAX_PART = 20 * 1024 * 1024  # the most one part may hold, decoded (as an attachment: OpenAI takes images up to 20 MB)
MAX_PARTS = 8  # parts of one result kept; the rest are named only


@dataclass
class Outcome:
    """What a call gave back: its text, how it ended ("ok", "error", "timeout", "cancelled", "refused"), its time,
    and its binary parts (``media``: LangChain data blocks, ``{"type", "base64", "mime_type"}``; an image, audio or
    another file), each named in the text too."""

    text: str
    status: str = "ok"
    seconds: float = 0.0
    media: list[dict[str, Any]] = field(default_factory=list)
    view: str | None = None  # the ``ui://`` view of its tool's MCP App (chatcli.tools.mcp.apps)
    result: Any = None  # an MCP server's result, whole (its view is given it)
    kept: dict[str, Any] = field(default_factory=dict)  # what its stored result keeps beside (a subagent's usage)


def result_text(content: Any) -> str:
    """A tool result as text: text parts joined, other parts (images, files) named."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") in BINARY and part.get("named"):
                parts.append(str(part["named"]))
            elif isinstance(part, dict):
                kind = f"{part.get('type', 'part')} {part.get('mime_type') or part.get('mimeType') or ''}"
                parts.append(f"[{kind}]".replace(" ]", "]"))
        return "\n".join(parts)
    return "" if content is None else str(content)


def heard(progress: Callable[[float, float | None, str | None], None] | None) -> Any:
    """The server's progress notifications, passed on as they come."""
    if progress is None:
        return None

    async def heard(done: float, total: float | None, message: str | None) -> None:
        progress(done, total, message)

    return heard


def mcp_block(part: Any) -> dict[str, Any]:
    """A part of an MCP result (mcp.types content) as a LangChain content block: text as it is; a link to a resource
    as a line that names it (its URI, name, type, size and description), so the model can say which and follow it;
    an image, audio or an embedded binary resource as a data block (``base64``, ``mime_type``) with the line that
    names it (``named``), which ``result_text`` says and ``result_media`` keeps."""
    kind = getattr(part, "type", "")
    if kind == "text":
        return {"type": "text", "text": part.text}
    if kind == "resource":
        return resource_block(part.resource)
    if kind == "resource_link":
        return {"type": "text", "text": _named("resource link", part, size=getattr(part, "size", None))}
    if kind in MEDIA:
        size = _decoded_size(part, "data")
        named = f"[{kind} {_mime(part)}{f', {size:,} bytes' if size is not None else ''}]".replace(" ,", ",")
        return _data(kind, getattr(part, "data", None), _mime(part), named)
    return {"type": kind or "part", "mime_type": _mime(part)}


def resource_block(resource: Any, what: str = "embedded resource") -> dict[str, Any]:
    """A resource's contents (embedded in a result, or read) as a block: its text as it is; binary as a data block,
    an image or audio by its media type, any other a file, named by ``what``, its URI, type and size."""
    if getattr(resource, "text", None) is not None:
        return {"type": "text", "text": resource.text}
    mime = _mime(resource)
    kind = next((k for k in MEDIA if mime.startswith(k + "/")), "file")
    return _data(kind, getattr(resource, "blob", None), mime, _named(what, resource, size=_decoded_size(resource)))


def _data(kind: str, data: Any, mime: str, named: str) -> dict[str, Any]:
    """A binary part as a data block, if its data is base64 that decodes (else named alone)."""
    block: dict[str, Any] = {"type": kind, "mime_type": mime, "named": named}
    if isinstance(data, str) and data:
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            block["named"] = named[:-1] + ": not base64, not kept]"
        else:
            block["base64"] = data
    return block


def result_media(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The binary parts of a result worth keeping: with their data, at most ``MAX_PARTS``, each within ``MAX_PART``
    (as ``{"type", "base64", "mime_type", "named"}``)."""
    fit = [b for b in blocks if b.get("type") in BINARY and b.get("base64") and len(b["base64"]) * 3 // 4 <= MAX_PART]
    return fit[:MAX_PARTS]


def _mime(part: Any) -> str:
    """A part's media type, as mcp 2.x (``mime_type``) or 1.x (``mimeType``) names the field."""
    return str(getattr(part, "mime_type", None) or getattr(part, "mimeType", None) or "")


def _named(what: str, part: Any, size: int | None) -> str:
    """``[resource link q3.txt "The third quarter's report" <file:///srv/q3.txt> text/plain, 48,213 bytes: ...]``."""
    name, title = getattr(part, "name", None), getattr(part, "title", None)
    words = [what] + [str(w) for w in (name, f'"{title}"' if title and title != name else None) if w]
    words.append(f"<{part.uri}>")
    details = ", ".join(d for d in (_mime(part), f"{size:,} bytes" if size is not None else "") if d)
    description = getattr(part, "description", None)
    said = (f" {details}" if details else "") + (f": {description}" if description else "")
    return "[" + " ".join(words) + said + "]"


def _decoded_size(resource: Any, field: str = "blob") -> int | None:
    """The size in bytes of an embedded resource's base64 ``blob`` (or a part's ``data``), without decoding it."""
    blob = getattr(resource, field, None)
    return len(blob) * 3 // 4 - blob[-2:].count("=") if isinstance(blob, str) else None
