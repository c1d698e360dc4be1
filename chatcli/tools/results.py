"""What a call gives back: its text and how it ended, whatever the tool returned (built-in or MCP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Outcome:
    """What a call gave back: its text, how it ended ("ok", "error", "timeout", "cancelled", "refused"), its time."""

    text: str
    status: str = "ok"
    seconds: float = 0.0


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
            elif isinstance(part, dict):
                parts.append(
                    f"[{part.get('type', 'part')} {part.get('mime_type') or part.get('mimeType') or ''}]".replace(
                        " ]", "]"
                    )
                )
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
    """A part of an MCP result (mcp.types content) as a LangChain content block, for ``result_text``: a link to a
    resource, and an embedded resource that is not text, as a line that names it (its URI, name, type, size and
    description), so the model can say which and follow it; an image or audio by its type."""
    kind = getattr(part, "type", "")
    if kind == "text":
        return {"type": "text", "text": part.text}
    if kind == "resource":
        inner = part.resource
        if getattr(inner, "text", None) is not None:
            return {"type": "text", "text": inner.text}
        return {"type": "text", "text": _named("embedded resource", inner, size=_decoded_size(inner))}
    if kind == "resource_link":
        return {"type": "text", "text": _named("resource link", part, size=getattr(part, "size", None))}
    return {"type": kind or "part", "mime_type": _mime(part)}


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
    return (
        "[" + " ".join(words) + (f" {details}" if details else "") + (f": {description}" if description else "") + "]"
    )


def _decoded_size(resource: Any) -> int | None:
    """The size in bytes of an embedded resource's base64 ``blob``, without decoding it."""
    blob = getattr(resource, "blob", None)
    if not isinstance(blob, str):
        return None
    return len(blob) * 3 // 4 - blob[-2:].count("=")
