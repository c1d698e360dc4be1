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
    """A part of an MCP result (mcp.types content) as a LangChain content block, for ``result_text``."""
    kind = getattr(part, "type", "")
    if kind == "text":
        return {"type": "text", "text": part.text}
    if kind == "resource":
        inner = part.resource
        if getattr(inner, "text", None) is not None:
            return {"type": "text", "text": inner.text}
        mime = inner.mimeType or ""
        return {"type": "image" if mime.startswith("image/") else "file", "mime_type": mime}
    mime = getattr(part, "mimeType", None) or ""
    if kind == "resource_link":
        return {"type": "image" if mime.startswith("image/") else "file", "mime_type": mime}
    return {"type": kind or "part", "mime_type": mime}
