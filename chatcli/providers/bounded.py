"""Streams of any size, read in bounded memory: no line of a server's answer may pass ``MAX_EVENT`` bytes.

A server streams its answer as lines (SSE ``data:`` lines, NDJSON); the SDKs' decoders keep a line
whole until its end, so one 200 MB line costs gigabytes. The bound goes where the bytes arrive: an
httpx response hook wraps each response's stream, and a line that grows past the limit ends it with
``TooLarge``, before the decoder holds it (the part of the answer that arrived is kept, as on
Ctrl-C). Used by the OpenAI-compatible client, Ollama's, and the LangGraph Agent Server's (--remote).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any, AsyncIterator

from chatcli.errors import ModelError

# Bytes one line (one event) of a streamed answer may take: far above any real token delta or state update.
MAX_EVENT = 8 * 1024 * 1024


class TooLarge(ModelError):
    """A server sent one line (one event) larger than the limit: the answer stops there."""


class BoundedStream:
    """An async byte stream whose lines may not pass ``limit`` bytes (made an ``AsyncByteStream`` of the HTTP
    library of the response it wraps, httpx or its fork httpx2, which the OpenAI and Anthropic SDKs use)."""

    def __init__(self, inner: Any, limit: int, where: str):
        self.inner, self.limit, self.where = inner, limit, where

    async def __aiter__(self) -> AsyncIterator[bytes]:
        run = 0  # bytes since the last line break
        async for chunk in self.inner:
            cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            run = run + len(chunk) if cut < 0 else len(chunk) - cut - 1
            if run > self.limit:
                raise TooLarge(
                    f"{self.where} sent one event of more than {self.limit // (1024 * 1024)} MB: the answer stops here",
                    hint="the part that arrived is kept; a server that means it is not one chat reads",
                )
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


@lru_cache(maxsize=4)
def _stream_class(library: str) -> type:
    """BoundedStream as the ``AsyncByteStream`` of ``library`` ("httpx" or "httpx2"): its responses check that."""
    base = importlib.import_module(library).AsyncByteStream
    return type("BoundedStream", (BoundedStream, base), {})


def bounding(limit: int = MAX_EVENT) -> Any:
    """An httpx (or httpx2) response hook that bounds each response's lines (``event_hooks={"response": [...]}``)."""

    async def bound(response: Any) -> None:
        where = response.request.url.netloc.decode("ascii", "replace").rpartition("@")[2] or "the server"
        library = type(response).__module__.split(".")[0]
        response.stream = _stream_class(library)(response.stream, limit, where)

    bound.bounds = True  # type: ignore[attr-defined]  # how ``bounded_hooks`` knows it
    return bound


def bounded_hooks(hooks: Any) -> dict[str, list[Any]]:
    """``hooks`` (an httpx client's ``event_hooks``) with one bounding response hook: a client shared between
    models (the SDKs' default ones are) gets it once, not once per model built on it."""
    hooks = {name: list(found) for name, found in dict(hooks or {}).items()}
    if not any(getattr(hook, "bounds", False) for hook in hooks.get("response", [])):
        hooks["response"] = [*hooks.get("response", []), bounding()]
    return hooks


def environment_key() -> tuple[str | None, ...]:
    """What an HTTP client reads from the environment when it is made (proxies, certificates): a client kept
    for reuse is kept per value of these, so that reusing one never changes where or how a request goes."""
    import os

    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR")
    return tuple(os.environ.get(name, os.environ.get(name.lower())) for name in names)


def bounded_client(**options: Any) -> Any:
    """An ``httpx.AsyncClient`` (with ``options``) whose responses' lines are bounded."""
    import httpx

    return httpx.AsyncClient(event_hooks=bounded_hooks(options.pop("event_hooks", None)), **options)
