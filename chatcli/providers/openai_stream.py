"""ChatOpenAI, made to survive what odd OpenAI-compatible servers send (the openai provider's client).

Thinking is kept: ``delta.reasoning_content`` and ``delta.reasoning`` (which ChatOpenAI drops)
and a ``<think>...</think>`` opening of the content go to the message's
``additional_kwargs["reasoning_content"]`` (chatcli.providers.base.REASONING_KEY), the answer stays the content.

A stream chunk is cleaned before langchain-openai reads it: text with lone surrogates
(``"\\ud800"`` in the JSON) gets U+FFFD in their place, since such text can be neither shown,
stored nor sent back; token counts that are not counts (``"lots"``, ``1.5``, negative) are
dropped rather than failing the answer; a model name that is not a string is dropped. Tool-call
arguments sent as a JSON object (some servers do) are taken as its text; a tool call that is
not readable at all (an ``index`` that is no whole number) is a ``MalformedStream``.

The tool calls of a reply are also handed on exactly as they were streamed (``RAW_CALLS``), so
that chatcli.backends.own.toolcalls reads their arguments strictly.
"""

from __future__ import annotations

import contextlib
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chatcli.text import LONE_SURROGATE

if TYPE_CHECKING:
    from langchain_openai.chat_models.base import ChatOpenAI

_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


def clean_text(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD."""
    return LONE_SURROGATE.sub("\ufffd", text) if LONE_SURROGATE.search(text) else text


def _is_count(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _clean_usage(usage: Any) -> dict[str, Any] | None:
    """The usage object if its counts are counts, else None (an answer is worth more than its tally)."""
    if not isinstance(usage, dict) or not all(_is_count(usage.get(key)) for key in _COUNTS):
        return None
    cleaned = dict(usage)
    for key in ("prompt_tokens_details", "completion_tokens_details"):
        details = cleaned.get(key)
        if details is not None and not (isinstance(details, dict) and all(_is_count(v) for v in details.values())):
            cleaned.pop(key)
    return cleaned


class MalformedStream(ValueError):
    """A stream chunk that no reading makes sense of; its message says what is wrong."""


def _text_or_none(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return None if value is None else clean_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and what == "id":
        return str(value)
    raise MalformedStream(f"a tool call's {what} ({json.dumps(value)[:30]}) is not text")


def _clean_tool_call(call: Any) -> dict[str, Any]:
    """One tool-call delta as langchain-openai reads it; arguments sent as an object become JSON text."""
    if not isinstance(call, dict):
        raise MalformedStream("a tool call is not an object")
    index = call.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise MalformedStream(f"a tool call's index ({json.dumps(index)[:30]}) is not a whole number")
    function = call.get("function") or {}
    if not isinstance(function, dict):
        raise MalformedStream("a tool call's function is not an object")
    arguments = function.get("arguments")
    if isinstance(arguments, dict):
        arguments = json.dumps(arguments, ensure_ascii=False)
    call_id = _text_or_none(call.get("id"), "id")  # (each checked in this order: the first wrong one is said)
    named = {"name": _text_or_none(function.get("name"), "name"), "arguments": _text_or_none(arguments, "arguments")}
    return {**call, "id": call_id, "function": {**function, **named}}


def _clean_delta(delta: Any) -> Any:
    if not isinstance(delta, dict):
        return delta
    cleaned = dict(delta)
    for key in ("content", "reasoning_content", "reasoning"):
        if isinstance(cleaned.get(key), str):
            cleaned[key] = clean_text(cleaned[key])
    calls = cleaned.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise MalformedStream("a delta's tool calls are not a list")
        cleaned["tool_calls"] = [_clean_tool_call(call) for call in calls]
    return cleaned


def clean_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """A stream chunk as langchain-openai can read it, whatever the server put in it."""
    cleaned = dict(chunk)
    if "usage" in cleaned and cleaned["usage"] is not None:
        cleaned["usage"] = _clean_usage(cleaned["usage"])
    if "model" in cleaned and not isinstance(cleaned["model"], str):
        cleaned.pop("model")
    choices = cleaned.get("choices")
    if isinstance(choices, list):
        cleaned["choices"] = [
            {**choice, "delta": _clean_delta(choice.get("delta"))} if isinstance(choice, dict) else choice
            for choice in choices
        ]
    return cleaned


def _reasoning_of(chunk: dict[str, Any]) -> tuple[str, bool]:
    """The thinking a chunk's delta carries (either field), and whether the reply ends with it."""
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", False
    delta = choices[0].get("delta")
    said = [delta.get(key) for key in ("reasoning_content", "reasoning")] if isinstance(delta, dict) else []
    return next((text for text in said if isinstance(text, str)), ""), bool(choices[0].get("finish_reason"))


def with_thinking(generation: Any, chunk: dict[str, Any], splitter: Any) -> Any:
    """``generation`` with its thinking moved out of the content into additional_kwargs."""
    from chatcli.providers.base import REASONING_KEY

    if generation is None:
        return None
    message = generation.message
    reasoning, finished = _reasoning_of(chunk)
    content = message.content if isinstance(message.content, str) else None
    answer = content
    if splitter is not None and content is not None:
        think, answer = splitter.feed(content)
        reasoning += think
        if finished:
            more_think, more_answer = splitter.flush()
            reasoning, answer = reasoning + more_think, answer + more_answer
    if not reasoning and answer == content:
        return generation
    from langchain_core.outputs import ChatGenerationChunk

    kwargs = dict(message.additional_kwargs)
    if reasoning:
        kwargs[REASONING_KEY] = reasoning
    update = {"additional_kwargs": kwargs, **({"content": answer} if content is not None else {})}
    return ChatGenerationChunk(message=message.model_copy(update=update), generation_info=generation.generation_info)


def raw_calls(pieces: list[list[Any]]) -> Any:
    """A last, empty chunk that carries the reply's tool calls as streamed (merged as LangChain merges them)."""
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    from chatcli.providers.base import RAW_CALLS

    first, *rest = [AIMessageChunk(content="", tool_call_chunks=piece) for piece in pieces]
    merged = first + rest if rest else first
    calls = [{"name": c.get("name"), "args": c.get("args"), "id": c.get("id")} for c in merged.tool_call_chunks]
    return ChatGenerationChunk(message=AIMessageChunk(content="", additional_kwargs={RAW_CALLS: calls}))


def _sent_as_is(transform: Any) -> Any:
    """The SDK's request body, sent as it is when it is plain JSON (what a chat completion's always is: no key of its
    parameters is renamed): the SDK's typed walk over it costs some 0.1 ms of CPU a message, every turn. Its values
    left out (``omit``) are left out; any other body is the SDK's to make."""
    from openai._utils import is_given
    from openai.types.chat import completion_create_params as params

    creating = (params.CompletionCreateParamsStreaming, params.CompletionCreateParamsNonStreaming)

    async def body(data: Any, expected_type: Any) -> Any:
        given = {key: value for key, value in data.items() if is_given(value)} if isinstance(data, dict) else None
        with contextlib.suppress(RecursionError):
            if expected_type in creating and given is not None and _plain(given):
                return given
        return await transform(data, expected_type)

    return body


def _plain(value: Any) -> bool:
    """Whether ``value`` is JSON's own values only (objects with string keys, lists, strings, numbers, null)."""
    if value is None or isinstance(value, (str, int, float)):
        return True
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return isinstance(value, list) and all(_plain(item) for item in value)


@lru_cache(maxsize=1)
def client_class() -> "type[ChatOpenAI]":
    """The ChatOpenAI subclass chatcli talks through (built once: it is a pydantic model)."""
    import warnings

    from langchain_openai.chat_models.base import ChatOpenAI  # not the package: it loads Azure too

    # The SDK's model_dump of a chunk whose fields have the wrong types (usage "lots") warns on
    # stderr; clean_chunk deals with those fields, and the user needs no Python warning.
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)

    from openai.resources.chat.completions import completions
    from pydantic import PrivateAttr

    from chatcli.providers.think_tags import ThinkSplitter

    completions.async_maybe_transform = _sent_as_is(completions.async_maybe_transform)  # type: ignore[attr-defined]

    class ChatClient(ChatOpenAI):
        """ChatOpenAI that cleans each stream chunk first and keeps the thinking (see
        chatcli.providers.openai_stream)."""

        _think: Any = PrivateAttr(default=None)

        async def _astream(self, *args: Any, **kwargs: Any) -> Any:
            self._think = ThinkSplitter()  # one per reply: chat streams one reply at a time
            pieces = []
            async for generation in super()._astream(*args, **kwargs):
                chunks = getattr(generation.message, "tool_call_chunks", None)  # an AIMessageChunk's
                if chunks:
                    pieces.append(chunks)
                yield generation
            if pieces:
                yield raw_calls(pieces)

        def _convert_chunk_to_generation_chunk(
            self, chunk: dict[str, Any], default_chunk_class: type, base_generation_info: dict[str, Any] | None
        ) -> Any:
            chunk = clean_chunk(chunk)
            generation = super()._convert_chunk_to_generation_chunk(chunk, default_chunk_class, base_generation_info)
            return with_thinking(generation, chunk, self._think)

    return ChatClient
