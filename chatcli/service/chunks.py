"""A reply read the same way whatever its provider: its thinking, its text, and why it ended.

OpenAI-compatible replies carry their thinking in ``additional_kwargs`` (chatcli.providers.base.
REASONING_KEY); Anthropic's and Gemini's in the content, as LangChain's ``thinking`` or
``reasoning`` blocks (an Anthropic block keeps its signature there, and goes back to the model as
it came). The text is LangChain's ``.text`` (text blocks only). Each provider says why a reply
ended in its own field: ``finish_reason`` (OpenAI, Gemini), ``stop_reason`` (Anthropic),
``done_reason`` (Ollama); they are read as OpenAI's words, which the rest of chat uses.
"""

from __future__ import annotations

from typing import Any

from chatcli.providers.base import REASONING_KEY
from chatcli.providers.registry import finish_reasons, thought_blocks

_THOUGHT = thought_blocks()  # block type -> its text field
# Each provider's reason, in OpenAI's words: stop, length, tool_calls, content_filter.
_FINISH = finish_reasons()


def thinking_of(message: Any) -> str:
    """The thinking a message (or a streamed piece of one) carries, from any provider."""
    kept = (getattr(message, "additional_kwargs", None) or {}).get(REASONING_KEY)
    found = [kept] if isinstance(kept, str) and kept else []
    content = getattr(message, "content", None)
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and block.get("type") in _THOUGHT:
            text = block.get(_THOUGHT[block["type"]])
            if isinstance(text, str) and text:
                found.append(text)
    return "".join(found)


def finish_of(metadata: Any) -> str | None:
    """Why the reply ended, in OpenAI's words, from any provider's response metadata (None: not said)."""
    if not isinstance(metadata, dict):
        return None
    for field in ("finish_reason", "stop_reason", "done_reason"):
        reason = metadata.get(field)
        if isinstance(reason, str) and reason:
            return _FINISH.get(reason, _FINISH.get(reason.upper(), reason.lower()))
    return None
