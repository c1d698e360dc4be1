"""Decompression bombs for the web-page tests: a few KB to a few hundred KB that decode to hundreds of
MB or GB at once, each made when first asked for, once (tests/website.py serves them)."""

from __future__ import annotations

import functools
import zlib
from typing import Callable

MIB = 1024 * 1024


@functools.cache
def squeezed(size: int, wbits: int) -> bytes:
    """An HTML page of ``size`` bytes (mostly spaces) deflated: gzip (wbits 31), zlib (15) or raw (-15)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [packer.compress(b"<html><body><p>")]
    parts += [packer.compress(b" " * MIB) for _ in range(size // MIB)]
    return b"".join(parts + [packer.flush()])


def zstd(size: int) -> bytes:
    import zstandard

    packer = zstandard.ZstdCompressor(level=1).compressobj()
    return b"".join([packer.compress(b" " * MIB) for _ in range(size // MIB)] + [packer.flush()])


def gzip(data: bytes) -> bytes:
    return zlib.compress(data, 9, wbits=31)


# path -> (Content-Encoding, the body's maker)
BOMBS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "/bomb/gzip": ("gzip", lambda: squeezed(256 * MIB, 31)),
    "/bomb/x-gzip": ("x-gzip", lambda: squeezed(256 * MIB, 31)),
    "/bomb/deflate": ("deflate", lambda: squeezed(256 * MIB, 15)),
    "/bomb/raw-deflate": ("deflate", lambda: squeezed(256 * MIB, -15)),
    "/bomb/gzip-gzip": ("gzip, gzip", lambda: gzip(squeezed(512 * MIB, 31))),
    "/bomb/zstd": ("zstd", lambda: zstd(2048 * MIB)),
    "/bomb/gzip-zstd": ("zstd, gzip", lambda: gzip(zstd(2048 * MIB))),
}
