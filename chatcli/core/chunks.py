"""A reply read the same way whatever its provider: its thinking, its text, and why it ended.

OpenAI-compatible replies carry their thinking in ``additional_kwargs`` (chatcli.providers.base.
REASONING_KEY); Anthropic's and Gemini's in the content, as LangChain's ``thinking`` or
``reasoning`` blocks (an Anthropic block keeps its signature there, and goes back to the model as
it came). The text is LangChain's ``.text`` (text blocks only). Each provider says why a reply
ended in its own field: ``finish_reason`` (OpenAI, Gemini), ``stop_reason`` (Anthropic),
``done_reason`` (Ollama); they are read as OpenAI's words, which the rest of chat uses.
"""

from __future__ import annotations

from typing import Any, Mapping

from chatcli.provider_table import finish_reasons, thought_blocks
from chatcli.providers.base import REASONING_KEY

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


def cache_counts(usage: Mapping[str, Any]) -> tuple[int, int]:
    """Input tokens read from the prompt cache, and written to it (Anthropic's, for 5 minutes or an hour)."""
    details = usage.get("input_token_details") or {}
    if not isinstance(details, Mapping):
        return 0, 0
    counts = [max(0, int(details.get(k) or 0)) for k in (*_CACHE_WRITES, "cache_read")]
    return counts[-1], sum(counts[:-1])


# LangChain's keys for cache writes (its generic one is 0 when the two by lifetime are given).
_CACHE_WRITES = ("cache_creation", "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")


def add_usage(total: dict[str, Any] | None, usage: Any) -> dict[str, Any] | None:
    """``total`` with ``usage`` (a model call's token counts) added: the one usage sum, in LangChain's shape
    (the input tokens read from and written to the prompt cache in ``input_token_details``, when there are any)."""
    if not usage:
        return total
    total = dict(total or {})
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        total[key] = total.get(key, 0) + int(usage.get(key) or 0)
    read, written = cache_counts(usage)
    if read or written:
        before = cache_counts(total)
        total["input_token_details"] = {"cache_read": before[0] + read, "cache_creation": before[1] + written}
    return total
