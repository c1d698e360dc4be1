"""The OpenAI client's request body is what the SDK would send, without its typed walk over every message."""

from __future__ import annotations

import asyncio

import pytest

from chatcli.providers.openai_stream import client_class

client_class()  # (what puts the body's shortcut in place)

from openai._types import omit  # noqa: E402
from openai._utils._transform import async_maybe_transform as sdk  # noqa: E402
from openai.resources.chat.completions import completions  # noqa: E402
from openai.types.chat import completion_create_params as params  # noqa: E402

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}}
BODY = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "what is this?"}, IMAGE]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "1.5"},
    ],
    "model": "gpt-fake",
    "stream": True,
    "stream_options": {"include_usage": True},
    "temperature": 0.2,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
    "max_tokens": omit,
    "user": omit,
}


def walks(monkeypatch) -> list[object]:
    """The SDK's typed walks over a body's parts from now on (each still made)."""
    from openai._utils import _transform

    walked: list[object] = []
    real = _transform._async_transform_recursive

    async def walk(data, *args, **kwargs):
        walked.append(data)
        return await real(data, *args, **kwargs)

    monkeypatch.setattr(_transform, "_async_transform_recursive", walk)
    return walked


@pytest.mark.parametrize("kind", [params.CompletionCreateParamsStreaming, params.CompletionCreateParamsNonStreaming])
def test_a_plain_body_is_sent_as_the_sdk_makes_it_without_its_walk(kind, monkeypatch):
    made = asyncio.run(sdk(BODY, kind))
    walked = walks(monkeypatch)
    assert asyncio.run(completions.async_maybe_transform(BODY, kind)) == made
    assert walked == [] and "max_tokens" not in made


def test_a_body_that_is_not_plain_json_is_the_sdks_to_make(monkeypatch):
    class Odd:
        pass

    walked = walks(monkeypatch)
    odd = {**BODY, "metadata": {"k": Odd()}}
    assert "user" not in asyncio.run(completions.async_maybe_transform(odd, params.CompletionCreateParamsStreaming))
    assert walked
