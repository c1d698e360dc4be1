"""A body's Content-Encoding, decoded as it is read and never past a cap: gzip and deflate only. A fetched page's
(chatcli.content.webpage), and every answer a server sends chat (chatcli.providers.bounded).

httpx decodes each received chunk whole, in one call: a few KB of zstd, or of gzip inside gzip, became
gigabytes before the attachment cap was looked at. So chat asks for gzip and deflate alone
(``ACCEPT_ENCODING``), reads the body as it came, and decodes it here with zlib, each call giving at most
``STEP`` bytes, and every layer of a stacked encoding (``gzip, gzip``) counted against the cap. A server
that sends another encoding all the same (br, zstd, compress: servers do) is refused before its body is
read; so is one stacked more than ``MAX_LAYERS`` deep. Standard library only.
"""

from __future__ import annotations

import zlib
from itertools import chain
from typing import Any, Iterable, Iterator

ACCEPT_ENCODING = "gzip, deflate"
STEP = 64 * 1024  # the most one decompression call gives
MAX_LAYERS = 3  # encodings stacked on one body (``gzip, gzip``), identity aside
_GZIP, _DEFLATE = ("gzip", "x-gzip"), ("deflate",)


class Undecodable(ValueError):
    """An encoding chat does not decode, or a body its encoding cannot decode: said in one line."""


class OverCap(Exception):
    """The body decodes to more than the cap (a layer of it, or the whole)."""


def layers(header: str | None) -> list[str]:
    """The encodings of a Content-Encoding header, as applied (identity left out); Undecodable if chat cannot undo
    them."""
    names = [name.strip().lower() for name in (header or "").split(",")]
    names = [name for name in names if name and name != "identity"]
    other = [name for name in names if name not in _GZIP + _DEFLATE]
    if other:
        raise Undecodable(
            f"it came with Content-Encoding {', '.join(dict.fromkeys(other))}, which chat did not ask for"
            " and does not decode (it asks for gzip or deflate)"
        )
    if len(names) > MAX_LAYERS:
        raise Undecodable(f"it is encoded {len(names)} times over; chat undoes at most {MAX_LAYERS}")
    return names


class _Inflater:
    """One layer: gzip (members one after another, as a file may hold) or deflate (zlib's or raw)."""

    def __init__(self, name: str, cap: int):
        self.name, self.cap, self.total = name, cap, 0
        self.gzip = name in _GZIP
        self.engine: Any = zlib.decompressobj(31) if self.gzip else None
        self.head = b""  # deflate: its first bytes, until they tell zlib's wrapper from raw deflate

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.engine is None:  # "deflate" is zlib's format, though some servers send it raw
            self.head += data
            if len(self.head) < 2:
                return
            first, second = self.head[0], self.head[1]
            wrapped = first & 0x0F == 8 and (first << 8 | second) % 31 == 0
            self.engine, data = zlib.decompressobj(15 if wrapped else -15), self.head
        yield from self._inflate(data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        engine = self.engine
        while engine is not None:
            try:
                out = engine.decompress(data, STEP)
            except zlib.error as exc:
                raise Undecodable(f"its {self.name} encoding is corrupt ({exc})") from None
            self.total += len(out)
            if self.total > self.cap:
                raise OverCap
            if out:
                yield out
            data = engine.unconsumed_tail
            if engine.eof:  # what follows is kept by zlib: another gzip member, or what is ignored
                data = engine.unused_data
                if not (self.gzip and data[:2] == b"\x1f\x8b"):
                    return  # the end: padding or trailing bytes after it are no part of the page
                engine = self.engine = zlib.decompressobj(31)
            elif not data and len(out) < STEP:
                return  # all it was given is decoded: it waits for more


class Decoder:
    """The body's bytes as they come in, out as decoded pieces of at most STEP bytes, at most ``cap`` in all."""

    def __init__(self, header: str | None, cap: int):
        self.cap = cap
        self.read = 0  # bytes as they came
        self.layers = [_Inflater(name, cap) for name in reversed(layers(header))]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of ``data``: OverCap past the cap, Undecodable for a corrupt body."""
        self.read += len(data)
        if self.read > self.cap:
            raise OverCap
        pieces: Iterable[bytes] = (data,)
        for layer in self.layers:
            pieces = chain.from_iterable(map(layer.feed, pieces))
        return iter(pieces)
