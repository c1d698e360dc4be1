"""What an OpenAI-compatible server says of a model's context window: up front, or in a refusal.

A server that cannot take a request because it is over the model's window says so in one of
a few ways: OpenAI and vLLM answer 400 ``context_length_exceeded`` ("This model's maximum
context length is N tokens..."), llama.cpp's ``llama-server`` 400 ``exceed_context_size_error``
with ``n_ctx``, and llama-cpp-python's server a 200 whose stream is empty.
"""

from __future__ import annotations

import re
from typing import Any

_MAXIMUM = re.compile(r"maximum context length is (\d[\d,]*) tokens", re.I)
_N_CTX = re.compile(r"context (?:window|size|length) of (\d[\d,]*)", re.I)


def window_of(exc: BaseException) -> int | None:
    """The window (tokens) a refusal says the model has, or None if it is not such a refusal."""
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict):
        n_ctx = error.get("n_ctx")
        if error.get("type") == "exceed_context_size_error" and isinstance(n_ctx, int) and n_ctx > 0:
            return n_ctx
    text = str(getattr(exc, "message", "") or exc)
    for pattern in (_MAXIMUM, _N_CTX):
        found = pattern.search(text)
        if found and (getattr(exc, "status_code", 400) == 400 or "context" in text):
            return int(found.group(1).replace(",", ""))
    return None


def is_empty_stream(exc: BaseException) -> bool:
    """True for the empty 200 a llama-cpp-python server sends when a request is over its window."""
    return isinstance(exc, ValueError) and "No generations found in stream" in str(exc)


async def _get_json(client: Any, url: str, timeout: float, body: dict[str, Any] | None = None) -> Any:
    """GET (or POST ``body`` to) ``url`` and return its JSON, or None on any failure: the whole answer within
    ``timeout`` seconds, and within the bytes of an answer read whole (chatcli.providers.bounded)."""
    import asyncio

    try:
        async with asyncio.timeout(timeout):
            response = await (client.get(url) if body is None else client.post(url, json=body))
        return response.json() if response.is_success else None
    except Exception:  # noqa: BLE001 - a server that does not tell is the usual case
        return None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


async def told_window(base_url: str, model: str, key: str | None = None, timeout: float = 1.5) -> int | None:
    """The model's window as the server tells it up front, where it does: llama.cpp's ``/props``,
    vLLM's ``max_model_len`` and LM Studio's ``max_context_length`` in the model list, Ollama's
    ``/api/show``. None when it does not (OpenAI does not)."""
    from openai import DefaultAsyncHttpxClient

    import chatcli.providers.tls as tls
    from chatcli.providers.bounded import bounded_hooks

    headers = {"Accept": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    # A client of its own each time: it reads the environment's proxies now (the warm worker and chat serve live on).
    # The OpenAI client's own HTTP library (loaded for the answer anyway), not a second one on a one-shot's path.
    async with DefaultAsyncHttpxClient(
        headers=headers, timeout=timeout, follow_redirects=True, event_hooks=bounded_hooks({}), verify=tls.system()
    ) as client:
        return await _told(client, base_url, model, timeout)


async def _told(client: Any, base_url: str, model: str, timeout: float) -> int | None:
    root = base_url.rstrip("/").removesuffix("/v1")
    props = await _get_json(client, f"{root}/props", timeout)
    if isinstance(props, dict):
        generation = props.get("default_generation_settings") or {}
        if found := _positive(generation.get("n_ctx")) or _positive(props.get("n_ctx")):
            return found
    listing = await _get_json(client, f"{base_url.rstrip('/')}/models", timeout)
    for entry in (listing or {}).get("data") or [] if isinstance(listing, dict) else []:
        if isinstance(entry, dict) and entry.get("id") == model:
            if found := _positive(entry.get("max_model_len")) or _positive(entry.get("max_context_length")):
                return found
    shown = await _get_json(client, f"{root}/api/show", timeout, body={"model": model})
    if isinstance(shown, dict):
        # The window Ollama runs the model with (num_ctx), else the one it was trained for.
        for line in str(shown.get("parameters") or "").splitlines():
            name, _, value = line.partition(" ")
            if name == "num_ctx" and value.strip().isdigit():
                return int(value.strip())
        info = shown.get("model_info") or {}
        lengths = [_positive(v) for k, v in info.items() if isinstance(k, str) and k.endswith(".context_length")]
        return next((n for n in lengths if n), None)
    return None
