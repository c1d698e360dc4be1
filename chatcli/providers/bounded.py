"""Answers of any size, read in bounded memory: no line of a server's answer, and no answer read whole, may pass
``MAX_EVENT`` bytes.

A server streams its answer as lines (SSE ``data:`` lines, NDJSON); the SDKs' decoders keep a line
whole until its end, so one 200 MB line costs gigabytes. An answer that is not streamed (a model list,
a window, OAuth metadata, an Agent Server's JSON) is read whole before it is parsed. The bound goes where
the bytes arrive: an httpx response hook wraps each response's stream, and a line that grows past the
limit ends it with ``TooLarge``, before the decoder holds it (the part of the answer that arrived is kept,
as on Ctrl-C); a response read whole (``aread``) ends the same way once its bytes pass the limit. The bytes
counted are those the answer decodes to: chat asks for gzip and deflate alone, decodes them here a step at a
time (chatcli.providers.content_coding), and refuses any other encoding before reading, so that a few KB of
a compressed answer never become gigabytes. Used by every client chat makes to a model's server
(OpenAI-compatible, Anthropic, Gemini, Ollama: answers, model lists, windows), by the LangGraph Agent Server's
(--remote) and by an MCP server's OAuth sign-in.
"""

from __future__ import annotations

import importlib
import sys
from functools import lru_cache
from typing import Any, AsyncIterator, Iterator

from chatcli.errors import ModelError, causes
from chatcli.providers.content_coding import ACCEPT_ENCODING, Decoder, Undecodable, layers

# Bytes one line (one event) of a streamed answer may take, and an answer read whole: far above any real token
# delta, state update, model list or metadata document.
MAX_EVENT = 8 * 1024 * 1024


class Refused(ModelError):
    """An answer chat does not read on: too large, or in an encoding it did not ask for."""


class TooLarge(Refused):
    """A server sent one line (one event), or an answer read whole, larger than the limit: it stops there."""


class BoundedStream:
    """An async byte stream whose lines may not pass ``limit`` bytes (made an ``AsyncByteStream`` of the HTTP
    library of the response it wraps, httpx or its fork httpx2, which the OpenAI and Anthropic SDKs use)."""

    def __init__(self, inner: Any, limit: int, where: str, decoder: Decoder | None = None):
        self.inner, self.limit, self.where, self.decoder = inner, limit, where, decoder
        self.whole = False  # read whole (``aread``): its bytes, not only its lines, are bounded

    async def __aiter__(self) -> AsyncIterator[bytes]:
        run = total = 0  # bytes since the last line break, and in all
        async for raw in self.inner:
            for chunk in self._decoded(raw):
                total += len(chunk)
                if self.whole and total > self.limit:
                    raise TooLarge(
                        f"{self.where} sent an answer of more than {self.limit // (1024 * 1024)} MB: it is refused",
                        hint="nothing of it was used: chat reads no answer that large",
                    )
                cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
                run = run + len(chunk) if cut < 0 else len(chunk) - cut - 1
                if run > self.limit:
                    raise TooLarge(
                        f"{self.where} sent one event of more than {self.limit // (1024 * 1024)} MB: "
                        "the answer stops here",
                        hint="the part that arrived is kept; a server that means it is not one chat reads",
                    )
                yield chunk

    def _decoded(self, raw: bytes) -> Iterator[bytes]:
        """``raw`` as it decodes, a step at a time (as it came, when the answer is not encoded)."""
        if self.decoder is None:
            yield raw
            return
        try:
            yield from self.decoder.feed(raw)
        except Undecodable as exc:
            raise Refused(f"{self.where}'s answer is refused: {exc}") from None

    async def aclose(self) -> None:
        await self.inner.aclose()


@lru_cache(maxsize=4)
def _stream_class(library: str) -> type:
    """BoundedStream as the ``AsyncByteStream`` of ``library`` ("httpx" or "httpx2"): its responses check that."""
    base = importlib.import_module(library).AsyncByteStream
    return type("BoundedStream", (BoundedStream, base), {})


def bounding(limit: int = MAX_EVENT) -> Any:
    """An httpx (or httpx2) response hook that bounds each response's lines, and the whole of a response read
    whole (``event_hooks={"response": [...]}``)."""

    async def bound(response: Any) -> None:
        where = response.request.url.netloc.decode("ascii", "replace").rpartition("@")[2] or "the server"
        library = type(response).__module__.split(".")[0]
        stream = response.stream = _stream_class(library)(response.stream, limit, where, _decoder(response, where))
        read = response.aread

        async def aread() -> bytes:  # what every client calls to read an answer whole, the SDKs' included
            stream.whole = True
            data: bytes = await read()
            return data

        response.aread = aread

    bound.bounds = True  # type: ignore[attr-defined]  # how ``bounded_hooks`` knows it
    return bound


def _decoder(response: Any, where: str) -> Decoder | None:
    """What decodes ``response``'s Content-Encoding within the bound (None: it has none). The header is taken off:
    the HTTP library, which would decode each chunk whole, is handed the bytes decoded already."""
    header = response.headers.get("content-encoding")
    try:
        if not layers(header):
            return None
        decoder = Decoder(header, sys.maxsize)  # no cap of its own: the bound is on what it gives
    except Undecodable as exc:
        raise Refused(f"{where}'s answer is refused: {exc}") from None
    del response.headers["content-encoding"]
    return decoder


async def asking_for_what_chat_decodes(request: Any) -> None:
    """An httpx request hook: the answer may come in gzip or deflate, which chat decodes a step at a time, and in
    no other encoding (an HTTP library asks for zstd or br too when it can decode them, each chunk whole)."""
    request.headers["Accept-Encoding"] = ACCEPT_ENCODING


def bounded_hooks(hooks: Any) -> dict[str, list[Any]]:
    """``hooks`` (an httpx client's ``event_hooks``) with one bounding response hook and the request hook that asks
    only for what it decodes: a client shared between models (the SDKs' default ones are) gets them once, not once
    per model built on it."""
    found: dict[str, list[Any]] = {name: list(each) for name, each in dict(hooks or {}).items()}
    if not any(getattr(hook, "bounds", False) for hook in found.get("response", [])):
        found["response"] = [*found.get("response", []), bounding()]
    if asking_for_what_chat_decodes not in found.get("request", []):
        found["request"] = [*found.get("request", []), asking_for_what_chat_decodes]
    return found


def refusal_in(exc: BaseException) -> Refused | None:
    """The ``Refused`` that ``exc`` is, or was raised from (an SDK wraps what fails inside its request as a
    connection error of its own), or None."""
    return next((each for each in causes(exc) if isinstance(each, Refused)), None)


def environment_key() -> tuple[object, ...]:
    """What an HTTP client reads from the environment when it is made (proxies, certificates): a client kept
    for reuse is kept per value of these, so that reusing one never changes where or how a request goes."""
    import os

    import chatcli.providers.tls as tls

    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    return (*(os.environ.get(name, os.environ.get(name.lower())) for name in names), *tls.key())


def bounded_client(**options: Any) -> Any:
    """An ``httpx.AsyncClient`` (with ``options``) whose responses' lines are bounded."""
    import httpx

    return httpx.AsyncClient(event_hooks=bounded_hooks(options.pop("event_hooks", None)), **options)
