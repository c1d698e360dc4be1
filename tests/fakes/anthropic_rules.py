"""What Anthropic's Messages API refuses (400), as the fake Anthropic server checks it.

Each rule is one the real API enforces and that a client could break by how it keeps or sends a
thread: a thinking block without its signature (or with one that is not its own), a tool result
that answers no call of the message before it, a call left unanswered, a system prompt among the
messages, an empty text block, a key the API does not know in a block (``Extra inputs are not
permitted``: LangChain's streaming ``index`` sent back, say), a thinking budget out of bounds, a
temperature with thinking, more than four cache breakpoints, two tools of one name, and, with thinking on, an
assistant turn in a tool loop that does not start with its thinking. The wording is the API's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

_SECRET = b"fake-anthropic-signature-key"
# The keys each block type may have (the API refuses any other: "Extra inputs are not permitted").
BLOCK_KEYS = {
    "text": {"type", "text", "cache_control", "citations"},
    "thinking": {"type", "thinking", "signature", "cache_control"},
    "redacted_thinking": {"type", "data", "cache_control"},
    "tool_use": {"type", "id", "name", "input", "cache_control", "caller"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
    "image": {"type", "source", "cache_control"},
    "document": {"type", "source", "cache_control", "title", "context", "citations"},
}
ROLES_BLOCKS = {
    "user": {"text", "tool_result", "image", "document"},
    "assistant": {"text", "thinking", "redacted_thinking", "tool_use"},
}
_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
MAX_BREAKPOINTS = 4


def signature(thinking: str) -> str:
    """The signature the fake gives a thinking block's text (and checks when it comes back)."""
    return base64.b64encode(hmac.new(_SECRET, thinking.encode(), hashlib.sha256).digest()).decode()


def blocks(content: Any) -> list[dict]:
    """A message's content as blocks (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def request_error(body: dict) -> str | None:
    """What the Messages API says (400 invalid_request_error) of this request body, or None if it takes it."""
    for check in (_fields, _tools, _system, _messages, _tool_protocol, _thinking, _breakpoints):
        said = check(body)
        if said:
            return said
    return None


def _fields(body: dict) -> str | None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int) or isinstance(body["max_tokens"], bool) or body["max_tokens"] < 1:
        return "max_tokens: Field required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: at least one message is required"
    return None


def _tools(body: dict) -> str | None:
    names = [tool.get("name") for tool in body.get("tools") or [] if isinstance(tool, dict)]
    if len(set(names)) < len(names):
        return "tools: Tool names must be unique."
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not _TOOL_NAME.fullmatch(str(tool.get("name"))):
            return f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
        if not isinstance(tool.get("input_schema"), dict):
            return f"tools.{i}.custom.input_schema: Field required"
        extra = set(tool) - {"name", "description", "input_schema", "cache_control", "type"}
        if extra:
            return f"tools.{i}.custom.{sorted(extra)[0]}: Extra inputs are not permitted"
    return None


def _system(body: dict) -> str | None:
    system = body.get("system")
    if system is None or isinstance(system, str):
        return None
    for i, block in enumerate(system if isinstance(system, list) else [None]):
        if not isinstance(block, dict) or block.get("type") != "text":
            return f"system.{i}: Input should be a valid dictionary or object to extract fields from"
        extra = set(block) - BLOCK_KEYS["text"]
        if extra:
            return f"system.{i}.{sorted(extra)[0]}: Extra inputs are not permitted"
        if not str(block.get("text") or "").strip():
            return "system: text content blocks must be non-empty"
    return None


def _messages(body: dict) -> str | None:
    messages = body["messages"]
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system":
            return (
                'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, '
                'not "system" as an input message role.'
            )
        if role not in ROLES_BLOCKS:
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        if not blocks(content) and not (i == len(messages) - 1 and role == "assistant"):
            return f"messages.{i}: all messages must have non-empty content except for the optional final assistant message"
        for j, block in enumerate(blocks(content)):
            said = _block(block, role, f"messages.{i}.content.{j}")
            if said:
                return said
    return None


def _block(block: dict, role: str, where: str) -> str | None:
    kind = block.get("type")
    if kind not in ROLES_BLOCKS[role]:
        return f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags"
    extra = set(block) - BLOCK_KEYS[kind]
    if extra:
        return f"{where}.{kind}.{sorted(extra)[0]}: Extra inputs are not permitted"
    if kind == "text" and not str(block.get("text") or "").strip():
        return "messages: text content blocks must be non-empty"
    if kind == "thinking":
        if "signature" not in block:
            return f"{where}.thinking.signature: Field required"
        if block["signature"] != signature(str(block.get("thinking") or "")):
            return f"{where}: Invalid `signature` in `thinking` block"
    if kind == "tool_use" and not (_ID.fullmatch(str(block.get("id"))) and isinstance(block.get("input"), dict)):
        return f"{where}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
    return None


def _tool_protocol(body: dict) -> str | None:
    """Each call answered in the very next message, and each result answering a call of the message before it."""
    messages = body["messages"]
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            calls = [b["id"] for b in blocks(message["content"]) if b.get("type") == "tool_use"]
            following = messages[i + 1] if i + 1 < len(messages) else None
            answered = (
                {b.get("tool_use_id") for b in blocks(following["content"]) if b.get("type") == "tool_result"}
                if following is not None and following["role"] == "user"
                else set()
            )
            missing = [c for c in calls if c not in answered]
            if missing:
                return (
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block "
                    "in the next message."
                )
            continue
        before = messages[i - 1] if i else None
        calls = (
            {b.get("id") for b in blocks(before["content"]) if b.get("type") == "tool_use"}
            if before is not None and before["role"] == "assistant"
            else set()
        )
        for j, block in enumerate(blocks(message["content"])):
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in calls:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` "
                    "block in the previous message."
                )
    return None


def thinking_budget(body: dict) -> int | None:
    """The thinking budget the request turns on, or None."""
    thinking = body.get("thinking")
    return thinking.get("budget_tokens") if isinstance(thinking, dict) and thinking.get("type") == "enabled" else None


def _thinking(body: dict) -> str | None:
    thinking = body.get("thinking")
    if thinking is None or (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        return None
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "adaptive"):
        return "thinking: Input tag found using 'type' does not match any of the expected tags: 'enabled', 'adaptive', 'disabled'"
    budget = thinking_budget(body) if kind == "enabled" else 0
    if kind == "enabled" and (not isinstance(budget, int) or budget < 1024):
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if kind == "enabled" and body["max_tokens"] <= budget:
        return "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
    if body.get("temperature") not in (None, 1, 1.0):
        return "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility"
    messages = body["messages"]
    last = messages[-1]
    if last["role"] == "user" and any(b.get("type") == "tool_result" for b in blocks(last["content"])):
        turn = len(messages) - 2
        first = blocks(messages[turn]["content"])[:1] if turn >= 0 else []
        if not first or first[0].get("type") not in ("thinking", "redacted_thinking"):
            found = first[0].get("type") if first else "nothing"
            return (
                f"messages.{turn}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. "
                "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
                "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
                "thinking blocks from previous turns."
            )
    return None


def breakpoints(body: dict) -> list[str]:
    """Where the request's cache breakpoints are: "tools.N", "system.N", "messages.I.content.J"."""
    found = [f"tools.{i}" for i, t in enumerate(body.get("tools") or []) if "cache_control" in t]
    system = body.get("system")
    found += [f"system.{i}" for i, b in enumerate(system if isinstance(system, list) else []) if "cache_control" in b]
    for i, message in enumerate(body.get("messages") or []):
        found += [f"messages.{i}.content.{j}" for j, b in enumerate(blocks(message["content"])) if "cache_control" in b]
    return found


def _breakpoints(body: dict) -> str | None:
    found = breakpoints(body)
    if len(found) > MAX_BREAKPOINTS:
        return f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(found)}."
    return None
