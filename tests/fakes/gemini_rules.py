"""What the Gemini API refuses of a ``generateContent`` request, in its own words (for tests/fakes/gemini.py).

Each check returns the message of the 400 ``INVALID_ARGUMENT`` the API answers, or None. They
are the rules a client breaks by mistake: an empty part or turn, a role other than ``user`` and
``model``, a function call that does not follow a question or a function response, function
responses that do not answer each call, a tool name the API does not take, thoughts asked of a
model that does not think, a system instruction or tools sent to Gemma, and (Gemini 3) a function call sent back without the thought signature
it came with, or with one the API never gave.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

# The API's own sentinel: a function call it never signed (history from elsewhere) goes through with it.
SKIP_SIGNATURE = "skip_thought_signature_validator"
_DATA_FIELDS = (
    "text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult",
    "thoughtSignature",
)  # fmt: skip
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
# Models that do not think: thinkingConfig.includeThoughts is refused.
NOT_THINKING = frozenset({"gemini-2.0-flash", "gemini-2.0-flash-lite", "gemini-1.5-flash", "gemini-1.5-pro",
                          "gemma-3-27b-it"})  # fmt: skip
# Gemma, as the Gemini API serves it, takes neither a system instruction nor function declarations.
GEMMA = frozenset({"gemma-3-27b-it"})


# Values sent as they are (the caller's own keys): a call's arguments, a function's response, a schema.
_VERBATIM = frozenset(
    {"args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema"}
)


def camel(value: Any) -> Any:
    """A request with every field name in camelCase: the API takes ``include_thoughts`` as ``includeThoughts``
    (protobuf's JSON reads both), and the SDK sends some of each."""
    if isinstance(value, list):
        return [camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    found = {}
    for key, inner in value.items():
        head, *rest = str(key).split("_")
        name = head + "".join(word[:1].upper() + word[1:] for word in rest)
        found[name] = inner if name in _VERBATIM else camel(inner)
    return found


def signature(text: str) -> str:
    """The thought signature the fake gives a part: base64 of a digest of what it carries."""
    return base64.b64encode(b"sig:" + hashlib.sha256(text.encode()).digest()[:12]).decode()


def same_signature(given: str, signed: set[str]) -> bool:
    """Whether ``given`` is one of the ``signed`` signatures: bytes in JSON are base64 in either alphabet
    (the SDK sends the URL-safe one), so they are compared decoded."""
    try:
        raw = base64.b64decode(given.replace("-", "+").replace("_", "/"), validate=True)
    except ValueError:
        return False
    return any(raw == base64.b64decode(made) for made in signed)


def is_gemini_3(model: str) -> bool:
    found = re.match(r"gemini-(\d+)", model)
    return bool(found) and int(found.group(1)) >= 3


def request_error(model: str, body: dict, signed: set[str]) -> str | None:
    """The API's 400 message for ``body`` sent to ``model`` (``signed``: the signatures it gave), or None."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified\n"
    for i, content in enumerate(contents):
        said = _content_error(i, content)
        if said:
            return said
    return (
        _turn_order_error(contents)
        or _tools_error(body.get("tools"))
        or _thinking_error(model, body)
        or _gemma_error(model, body)
        or _signature_error(model, contents, signed)
    )


def _gemma_error(model: str, body: dict) -> str | None:
    if model not in GEMMA:
        return None
    if body.get("systemInstruction"):
        return f"Developer instruction is not enabled for models/{model}"
    if body.get("tools"):
        return f"Function calling is not enabled for models/{model}"
    return None


def _content_error(i: int, content: Any) -> str | None:
    if not isinstance(content, dict):
        return f"Invalid value at 'contents[{i}]'"
    if content.get("role") not in (None, "user", "model"):
        return "Please use a valid role: user, model."
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
    for j, part in enumerate(parts):
        if not isinstance(part, dict) or not any(part.get(f) not in (None, "") for f in _DATA_FIELDS):
            return (
                f"* GenerateContentRequest.contents[{i}].parts[{j}].data: "
                "required oneof field 'data' must have one initialized field\n"
            )
    return None


def _calls(content: dict) -> list[dict]:
    return [p["functionCall"] for p in content.get("parts") or [] if isinstance(p.get("functionCall"), dict)]


def _responses(content: dict) -> list[dict]:
    return [p["functionResponse"] for p in content.get("parts") or [] if isinstance(p.get("functionResponse"), dict)]


def _turn_order_error(contents: list[dict]) -> str | None:
    for i, content in enumerate(contents):
        before = contents[i - 1] if i else None
        if content.get("role") == "model" and _calls(content):
            if before is None or before.get("role") != "user":
                return (
                    "Please ensure that function call turn comes immediately after a user turn or after a function "
                    "response turn."
                )
        if _responses(content):
            asked = _calls(before) if before is not None and before.get("role") == "model" else []
            if len(asked) != len(_responses(content)):
                return (
                    "Please ensure that the number of function response parts is equal to the number of function "
                    "call parts of the function call turn."
                )
    return None


def _tools_error(tools: Any) -> str | None:
    for i, tool in enumerate(tools or []):
        for j, declaration in enumerate(tool.get("functionDeclarations") or [] if isinstance(tool, dict) else []):
            name = declaration.get("name") if isinstance(declaration, dict) else None
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                return (
                    f"* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Invalid function name. "
                    "Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), "
                    "dots (.), colons (:), or dashes (-), with a maximum length of 64.\n"
                )
    return None


def _thinking_error(model: str, body: dict) -> str | None:
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    if (thinking.get("includeThoughts") or thinking.get("thinkingBudget")) and model in NOT_THINKING:
        return f"Thinking is not enabled for models/{model}"
    return None


def _signature_error(model: str, contents: list[dict], signed: set[str]) -> str | None:
    """Gemini 3: the calls of the current turn (since the last question) need the signature they came with."""
    start = 0
    for i, content in enumerate(contents):
        if content.get("role") == "user" and any("text" in p or "inlineData" in p for p in content.get("parts") or []):
            start = i + 1
    for i, content in enumerate(contents):
        for j, part in enumerate(content.get("parts") or []):
            given = part.get("thoughtSignature")
            if given and given != SKIP_SIGNATURE and not same_signature(given, signed):
                return "Corrupted thought signature."
            first_call = "functionCall" in part and not any("functionCall" in p for p in content["parts"][:j])
            if is_gemini_3(model) and i >= start and first_call and not given:
                name = part["functionCall"].get("name")
                return (
                    "Function call is missing a thought_signature in functionCall parts. This is required for tools "
                    "to work correctly, and missing thought_signature may lead to degraded model performance. "
                    f"Additional data, function call `default_api:{name}` , position {j + 1}. Please refer to "
                    "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                )
    return None
