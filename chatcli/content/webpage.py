"""A web page as an attachment: `-a URL` and `/attach URL` fetch an http(s) address before anything is sent.

The URL is the user's own; what the server sends is not trusted. So: a timeout for the connection, for each
read and for the whole fetch; at most ``MAX_REDIRECTS`` redirects, each to http or https only (never file:
or another scheme); the attachment cap on the body, told by Content-Length before anything is read and
counted while reading, on the bytes as they came and as they decode (chatcli.providers.content_coding: gzip and
deflate only, decoded a step at a time, so an endless body or a decompression bomb stops at the cap); a
page that claims to be text but holds NUL bytes is refused; the title is shown on one line with terminal
controls made visible; a page too big to convert to text in a few seconds is refused (html_text).
HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY are honoured (httpx, which the OpenAI client loads anyway).

An HTML page goes as readable Markdown (chatcli.content.html_text), named by its title and URL; other text as
it is, named by its URL; a PNG, JPEG, GIF or WebP image as an image. Whatever fails is one UsageError line.
"""

from __future__ import annotations

import asyncio
from typing import Any

from chatcli.content import attachments
from chatcli.content.attachments import IMAGES, Attachment, image_type, is_url, read_attachment
from chatcli.errors import UsageError
from chatcli.providers.content_coding import ACCEPT_ENCODING, Decoder, OverCap, Undecodable
from chatcli.text import neutralise

MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0  # seconds to connect (through the proxy, if any)
READ_TIMEOUT = 20.0  # seconds one read may wait for the server
TOTAL_TIMEOUT = 60.0  # seconds for the whole fetch, a page that trickles in included
USER_AGENT = "chatcli/0.1 (terminal chat client)"
ACCEPT = (
    "text/html,application/xhtml+xml,text/plain;q=0.9,text/*;q=0.8,image/png,image/jpeg,image/gif,image/webp;q=0.8,"
    "*/*;q=0.1"
)

_HTML = ("text/html", "application/xhtml+xml")
_TEXT = (
    "application/json application/xml application/javascript application/x-yaml application/yaml application/toml"
    " application/x-sh application/sql application/ld+json"
).split()
_SNIFFED = ("", "application/octet-stream", "binary/octet-stream")  # look at the bytes to tell


class Refused(UsageError):
    """What the server sent is not something chat attaches (too big, a video, a binary file)."""


def _failed(url: str, why: str) -> UsageError:
    """Not fetched: exit 2, as for a file that cannot be read."""
    return UsageError(f"cannot fetch {url}: {one_line(why)}", hint="nothing was sent")


def _refused(url: str, why: str) -> Refused:
    return Refused(f"cannot attach {url}: {one_line(why)}", hint="nothing was sent")


def one_line(text: str) -> str:
    return neutralise(" ".join(str(text).split()))


def read_attachments(paths: list[str] | tuple[str, ...]) -> list[Attachment]:
    """Files and web pages in the order given (``-a``), each read or fetched and checked before anything is sent."""
    if not any(is_url(path) for path in paths):
        return [read_attachment(path) for path in paths]

    async def read_all() -> list[Attachment]:
        return [await fetch_attachment(path) if is_url(path) else read_attachment(path) for path in paths]

    return asyncio.run(read_all())


async def fetch_attachment(url: str) -> Attachment:
    """The page (or image, or text) at ``url`` as an Attachment; a UsageError saying why not, and nothing sent."""
    import httpx

    shown = one_line(url)
    try:
        async with asyncio.timeout(TOTAL_TIMEOUT):
            final, kind, charset, data = await _download(httpx, url, shown)
    except TimeoutError:
        raise _failed(shown, f"it took longer than {TOTAL_TIMEOUT:g} s") from None
    except httpx.ConnectTimeout:
        raise _failed(shown, f"no connection within {CONNECT_TIMEOUT:g} s") from None
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
        raise _failed(shown, f"the server sent nothing for {READ_TIMEOUT:g} s") from None
    except httpx.ProxyError as exc:
        raise _failed(shown, f"the proxy refused: {exc}") from None
    except httpx.ConnectError as exc:
        raise _failed(shown, f"cannot connect ({exc or type(exc).__name__})") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _failed(shown, str(exc) or type(exc).__name__) from None
    except (ImportError, ValueError) as exc:  # a SOCKS proxy without socksio, a malformed proxy variable
        raise _failed(shown, str(exc)) from None
    return await _attachment(final, kind, charset, data)


async def _download(httpx: Any, url: str, shown: str) -> tuple[str, str, str | None, bytes]:
    """``(final URL, content type, charset, body)``, redirects followed by hand so that each is checked."""
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    import chatcli.providers.tls as tls

    client = httpx.AsyncClient(
        timeout=timeout, headers=headers, trust_env=True, follow_redirects=False, verify=tls.certifi()
    )
    async with client:
        target = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            async with client.stream("GET", target) as response:
                if response.is_redirect:
                    target = response.url.join(response.headers["location"])
                    if target.scheme not in ("http", "https"):
                        raise _refused(
                            shown, f"it redirects to a {target.scheme}: URL, and chat follows http and https only"
                        )
                    continue
                if response.status_code >= 400:
                    raise _failed(shown, f"HTTP {response.status_code} {response.reason_phrase}")
                kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
                _check_before_reading(shown, kind, response.headers.get("content-length"))
                try:
                    decoder = Decoder(response.headers.get("content-encoding"), attachments.MAX_BYTES)
                except Undecodable as exc:
                    raise _refused(shown, str(exc)) from None
                data = await _read_capped(response, decoder, shown)
                return str(response.url), kind, response.charset_encoding or None, data
        raise _failed(shown, f"more than {MAX_REDIRECTS} redirects")


def _check_before_reading(url: str, kind: str, length: str | None) -> None:
    """Refuse a body chat would not send (a video, a PDF, one over the cap) without downloading it."""
    if not (kind in _HTML or _is_text(kind) or kind.startswith("image/") or kind in _SNIFFED):
        raise _refused(url, f"it is {kind}: chat attaches web pages, text and {IMAGES} images")
    if length is not None and length.strip().isdigit() and int(length) > attachments.MAX_BYTES:
        raise _too_big(url, int(length))


def _too_big(url: str, size: int | None = None) -> Refused:
    """Over the cap: by its Content-Length (``size``), or found while reading (a body without one)."""
    limit = f"{attachments.MAX_BYTES // (1024 * 1024)} MB"
    if size is None:
        return _refused(url, f"it is larger than {limit}, the most an attachment may hold (the rest was not read)")
    return _refused(
        url, f"it is {attachments.readable_size(size)} ({size:,} bytes); an attachment may be at most {limit}"
    )


async def _read_capped(response: Any, decoder: Decoder, url: str) -> bytes:
    """The body (decoded), stopped at the cap, as it came and as it decodes: an endless page is not read
    to its end, and a bomb is not decoded past it."""
    chunks: list[bytes] = []
    try:
        async for raw in response.aiter_raw():
            chunks.extend(decoder.feed(raw))
    except OverCap:
        raise _too_big(url) from None
    except Undecodable as exc:
        raise _refused(url, str(exc)) from None
    return b"".join(chunks)


def _is_text(kind: str) -> bool:
    return kind.startswith("text/") or kind in _TEXT or kind.endswith(("+json", "+xml"))


async def _attachment(url: str, kind: str, charset: str | None, data: bytes) -> Attachment:
    """What was fetched, as chat sends it: an image, a page's readable text, or text as it came."""
    if (mime := image_type(data)) is not None:
        name = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or url
        return Attachment(one_line(name), mime, data, url)
    if kind.startswith("image/"):
        raise _refused(url, f"it is {kind}: chat sends {IMAGES} images")
    head = data[:1024].lstrip().lower()
    html = kind in _HTML or (kind in _SNIFFED and head.startswith((b"<!doctype html", b"<html")))
    if not (html or _is_text(kind)) or (
        b"\x00" in data[:65536] and "16" not in (charset or "") and "32" not in (charset or "")
    ):
        what = f"binary data, though it says {kind}" if kind not in _SNIFFED else "binary data"
        raise _refused(url, f"it holds {what}: chat attaches web pages, text and {IMAGES} images")
    from chatcli.content.html_text import Unconvertible, convert, decode, too_large

    refused = too_large(len(data)) if html else None
    if refused is not None:  # said before the page is even decoded
        raise _refused(url, str(refused))
    text = decode(data, charset)
    if not html:
        return Attachment(url, kind if kind not in _SNIFFED else "text/plain", text.encode("utf-8"), url)
    try:
        title, body = await convert(text, url)
    except Unconvertible as exc:
        raise _refused(url, str(exc)) from None
    if not body:
        raise _refused(url, "the page has no readable text (it may need JavaScript)")
    return Attachment(title or url, "text/markdown", body.encode("utf-8"), url)
