"""A small web site on 127.0.0.1 for the web-page attachment tests, and a stand-in HTTP proxy.

``Site`` serves the pages in ``PAGES`` and the misbehaving ones below them (a redirect loop, a stall,
an endless body...), counting what it wrote to each path, and records every request's path and
headers. ``Proxy`` answers any absolute-form request (``GET http://host/path``) with a page of its own,
recording the URLs it was asked for: a request it records went through the proxy.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
}
CHUNK = 64 * 1024


class Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.sent: dict[str, int] = {}  # bytes of body written, by path
        self.left: list[str] = []  # stalled paths whose client closed the connection
        self.release = threading.Event()  # ends the stalls
        self.length_over_cap = 0  # set by tests: what /huge-length says its Content-Length is
        # shutdown() waits until the serving loop notices, which it does once per poll_interval:
        # 0.5 s by default, which every test using one sat out at its end.
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Site

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        site, path = self.server, self.path
        site.requests.append((path, dict(self.headers)))
        if path in PAGES:
            status, headers, body = PAGES[path]
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self._write(body)
        elif path == "/stall":  # headers never come; the client leaving is noted
            deadline = time.monotonic() + 30
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
