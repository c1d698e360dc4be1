"""A small web site on 127.0.0.1 for the web-page attachment tests, and a stand-in HTTP proxy.

``Site`` serves the pages in ``PAGES`` and the misbehaving ones below them (a redirect loop, a stall,
an endless body, decompression bombs in ``BOMBS``, the page encoded as servers send it in ``ENCODED``,
pages costly to convert in ``HEAVY``, charsets that are none), counting what it wrote to each path, and
records every request's path and headers and which answers are over (``wait_ended``). ``Proxy`` answers
any absolute-form request (``GET http://host/path``) with a page of its own, recording the URLs it was
asked for: a request it records went through the proxy.
"""

from __future__ import annotations

import functools
import os
import select
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from tests.bombs import BOMBS, MIB, gzip
from tests.helpers import HANG

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
PAGE = b"""<!doctype html>
<html><head>
<meta charset="utf-8">
<title>  Release notes
  for Widget 2.0 </title>
<style>body { color: hotpink } .secret-css-rule { display: none }</style>
<script>var trackingSecret = "SCRIPT-SECRET"; document.write("<p>written by script</p>")</script>
<link rel="stylesheet" href="/x.css">
</head><body>
<nav><a href="#top">Top</a></nav>
<h1>Widget 2.0</h1>
<p>Widgets now <b>fold</b> in half. See <a href="https://example.org/fold">the folding guide</a>.</p>
<ul><li>faster</li><li>lighter</li></ul>
<pre><code>widget.fold(2)</code></pre>
<noscript>NOSCRIPT-SECRET</noscript>
<script type="module">console.log("SCRIPT-SECRET-2")</script>
<img src="data:image/png;base64,AAAAAAAAAAAA" alt="inline">
</body></html>
"""
EVIL_TITLE = b"<html><head><title>Hi\x1b]0;pwned\x07\x1b[2J\x9b31m there</title></head><body><p>body</p></body></html>"

# path: (status, headers, body)
PAGES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/page": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE),
    "/cat.png": (200, {"Content-Type": "image/png"}, PNG),
    "/cat": (200, {"Content-Type": "application/octet-stream"}, PNG),  # told by its bytes
    "/notes.txt": (200, {"Content-Type": "text/plain; charset=utf-8"}, b"plain <b>notes</b>\nline two\n"),
    "/data.json": (200, {"Content-Type": "application/json"}, b'{"answer": 42}'),
    "/latin1": (200, {"Content-Type": "text/html; charset=iso-8859-1"}, b"<title>Caf\xe9</title><p>cr\xe8me</p>"),
    "/binary.html": (200, {"Content-Type": "text/html"}, b"\x00\x01\x02ELF\x00" * 100),
    "/doc.pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.4" + b"x" * 5000),
    "/logo.svg": (200, {"Content-Type": "image/svg+xml"}, b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    "/js-only": (
        200,
        {"Content-Type": "text/html"},
        b"<html><head><title>App</title></head><body><div id=root></div><script>render()</script></body></html>",
    ),
    "/evil-title": (200, {"Content-Type": "text/html"}, EVIL_TITLE),
    "/missing": (404, {"Content-Type": "text/html"}, b"<h1>Not here</h1>"),
    "/loop": (302, {"Location": "/loop"}, b""),
    "/hop1": (301, {"Location": "/hop2"}, b""),
    "/hop2": (302, {"Location": "/page"}, b""),
    "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
    "/docs/guide/intro": (
        200,
        {"Content-Type": "text/html"},
        b'<p><a href="next">Next</a> <a href="../api">API</a> '
        b'<a href="/home">Home</a> <a href="//cdn.example/x">CDN</a> <img src="fig.png" alt="Fig">'
        b' <a href="mailto:a@b.example">mail</a></p>',
    ),  # fmt: skip
    "/based": (
        200,
        {"Content-Type": "text/html"},
        b'<base href="https://docs.example/v2/"><p><a href="start">S</a></p>',
    ),
    "/moved": (301, {"Location": "/docs/guide/intro"}, b""),
}


def documentation_page(sections: int = 120) -> bytes:
    """A documentation-like page: a head full of styles and scripts, headings, paragraphs, lists, code, a table."""
    head = "<style>" + "".join(f".c{i} {{ color: #{i:06x}; margin: {i}px }}\n" for i in range(400)) + "</style>"
    head += "<script>" + "".join(f"function f{i}(x) {{ return x * {i}; }}\n" for i in range(400)) + "</script>"
    body = []
    for i in range(sections):
        body.append(
            f"<h2 id='s{i}'>Section {i}</h2><p>"
            + " ".join(f"word{j} <a href='/p{j}'>link {j}</a>" for j in range(25))
            + "</p>"
        )
        body.append("<ul>" + "".join(f"<li>item {j} of section {i}</li>" for j in range(8)) + "</ul>")
        body.append(f"<pre><code>def f{i}(x):\n    return x * {i}\n</code></pre>")
        body.append(
            "<table><tr><th>a</th><th>b</th></tr>"
            + "".join(f"<tr><td>{j}</td><td>{j * i}</td></tr>" for j in range(4))
            + "</table>"
        )
    return (
        f"<!doctype html><html><head><title>Bench page</title>{head}</head><body>{''.join(body)}</body></html>".encode()
    )


CHUNK = 64 * 1024
# The page compressed as servers send it, asked for or not.
ENCODED: dict[str, tuple[str, Callable[[], bytes]]] = {
    "/gzip": ("gzip", lambda: gzip(PAGE)),
    "/deflate": ("deflate", lambda: zlib.compress(PAGE)),
    "/raw-deflate": ("Deflate", lambda: zlib.compress(PAGE, wbits=-15)),
    "/gzip-gzip": ("gzip, gzip", lambda: gzip(gzip(PAGE))),
    "/two-members": ("gzip", lambda: gzip(PAGE[:200]) + gzip(PAGE[200:])),  # concatenated gzip members
    "/identity": ("identity", lambda: PAGE),
    "/br": ("br", lambda: os.urandom(3000)),
    "/compress": ("compress", lambda: os.urandom(3000)),
    "/nine-gzips": (", ".join(["gzip"] * 9), lambda: functools.reduce(lambda data, _: gzip(data), range(9), PAGE)),
    "/corrupt-gzip": ("gzip", lambda: b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 3000),  # block type 3
}
# Pages that are costly to convert to text: path -> the HTML, made when first asked for.
HEAVY: dict[str, Callable[[], bytes]] = {
    "/nested": lambda: b"<title>Deep</title><h1>Top</h1>" + b"<div>" * 100_000 + b"deep text" + b"</div>" * 100_000,
    "/big-table": lambda: b"<table>" + b"<tr><td>cell</td><td>2</td></tr>" * (16 * MIB // 32) + b"</table>",
    "/comments": lambda: b"<title>Comments</title>" + b"<!--" * 100_000,  # quadratic in html.parser
    "/at-the-limit": lambda: documentation_page(120 * 12),  # 1.9 MB of ordinary markup
}
# A page in the charset its URL names (/charset/NAME), or its <meta> names (/meta-charset/NAME): "Café", "crème"
# in UTF-8, and "+2AA-", which is a lone surrogate in UTF-7.
CHARSET_BODY = "<title>Café</title><p>crème +2AA- \\ud800</p>".encode()


@functools.cache
def encoded(path: str) -> tuple[str, bytes]:
    coding, make = {**BOMBS, **ENCODED}[path]
    return coding, make()


@functools.cache
def heavy_page(path: str) -> bytes:
    return HEAVY[path]()


class Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.sent: dict[str, int] = {}  # bytes of body written, by path
        self.left: list[str] = []  # stalled paths whose client closed the connection
        self.ended: list[str] = []  # paths whose answer is over (written whole, or given up on)
        self._ending = threading.Condition()  # notified as each answer ends
        self.release = threading.Event()  # ends the stalls
        self.length_over_cap = 0  # set by tests: what /huge-length says its Content-Length is
        # shutdown() waits until the serving loop notices, which it does once per poll_interval:
        # 0.5 s by default, which every test using one sat out at its end.
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_ended(self, path: str, timeout: float = 10) -> bool:
        """Block until the answer to a request for ``path`` is over; False on timeout."""
        with self._ending:
            return self._ending.wait_for(lambda: path in self.ended, timeout)

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left before the body was read (chat refusing it) is no error of the site's."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Site

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        try:
            self._answer()
        finally:
            with self.server._ending:
                self.server.ended.append(self.path)
                self.server._ending.notify_all()

    def _answer(self) -> None:
        site, path = self.server, self.path
        site.requests.append((path, dict(self.headers)))
        if path in PAGES:
            status, headers, body = PAGES[path]
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self._write(body)
        elif path in HEAVY:
            self._page(heavy_page(path))
        elif path.startswith("/charset/"):
            self._page(CHARSET_BODY, charset=path.removeprefix("/charset/"))
        elif path.startswith("/meta-charset/"):
            name = path.removeprefix("/meta-charset/").encode()
            self._page(b'<meta charset="' + name + b'">' + CHARSET_BODY, charset=None)
        elif path in BOMBS or path in ENCODED:
            coding, body = encoded(path)
            self._head({"Content-Type": "text/html; charset=utf-8", "Content-Encoding": coding,
                        "Content-Length": str(len(body))})  # fmt: skip
            self._write(body)
        elif path == "/stall":  # headers never come (for HANG seconds); the client leaving is noted
            deadline = time.monotonic() + HANG
            while not site.release.is_set() and time.monotonic() < deadline:
                if select.select([self.connection], [], [], 0.05)[0] and not self.connection.recv(1, socket.MSG_PEEK):
                    site.left.append(path)
                    return
        elif path == "/trickle":  # a byte every 0.1 s: each read is quick, the whole never ends
            self._head({"Content-Type": "text/plain", "Content-Length": "100000"})
            while not site.release.is_set() and self._write(b"x"):
                time.sleep(0.1)
        elif path == "/huge-length":  # says it is over the cap; sends a little, then waits
            self._head({"Content-Type": "text/html", "Content-Length": str(site.length_over_cap)})
            self._write(b"<html>" + b"a" * CHUNK)
            site.release.wait(30)
        elif path == "/endless":  # no length: chunks until the client leaves (or 200 MB)
            self._head({"Content-Type": "text/html", "Connection": "close"})
            self.close_connection = True
            while site.sent.get(path, 0) < 200 * 1024 * 1024 and self._write(b"<p>" + b"a" * (CHUNK - 3)):
                pass
        elif path == "/evil-reason":
            self.send_response(404, "Gone\x1b]0;pwned\x07")
            self._head({"Content-Length": "0"}, status=False)
        else:
            self.send_error(404)

    def _page(self, body: bytes, charset: str | None = "utf-8") -> None:
        kind = f"text/html; charset={charset}" if charset else "text/html"
        self._head({"Content-Type": kind, "Content-Length": str(len(body))})
        self._write(body)

    def _head(self, headers: dict[str, str], status: bool = True) -> None:
        if status:
            self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        self.server.sent[self.path] = self.server.sent.get(self.path, 0) + len(data)
        return True


class Proxy(ThreadingHTTPServer):
    """An HTTP proxy stand-in: every absolute-form GET is answered with a page naming the URL asked for."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.asked: list[str] = []
        # shutdown() waits until the serving loop notices, which it does once per poll_interval:
        # 0.5 s by default, which every test using one sat out at its end.
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.server.asked.append(self.path)
        body = f"<html><head><title>Via the proxy</title></head><body><p>proxied {self.path}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
