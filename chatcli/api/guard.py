"""Who ``chat serve`` answers: requests for its own address, from no other web page, with the token if it has one.

A pure ASGI middleware (Starlette's ``@app.middleware("http")`` would hide a client's disconnect
from the endpoints, and a client that leaves must stop its answer). It refuses, before any route:

- a ``Host`` that is not one of the server's own addresses (421): a web page that points a name
  of its own at 127.0.0.1 (DNS rebinding) sends that name, and is refused;
- an ``Origin`` that is not one of them either (403): a browser says which page asks, and only a
  page this server served may (none may over a unix socket, which no browser reaches);
- a caller that is another user of this machine (403), by the kernel's word on the socket's other end
  (chatcli.api.access), on loopback or on any other address of this machine, token or none;
- a missing or wrong token, when the server has one (401): ``Authorization: Bearer TOKEN``, ``?token=TOKEN`` in
  the URL, or a browser's session cookie (chatcli.api.page: sent with a request that changes something only with
  the page's Origin); the page itself and its sign-in need none;
- a body over ``MAX_BODY`` (413): said by its Content-Length before anything is read, or stopped
  as it is read past the limit (a body sent in chunks).

Each refusal is the API's error object, ``{"error": {"message": ..., "exit_code": 2}}``.

Who calls is the socket's word, never a header's: the server runs with uvicorn's proxy-header handling
off, and the guard reads the peer before anything else may rewrite it. Where the user names reverse
proxies (``chat serve --trust-proxy ADDR``), their ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are
applied behind the guard, for the app's own use, after every check has read the socket.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import parse_qs

from chatcli.trust import loopback

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MAX_BODY = 64 * 1024 * 1024  # bytes of a request's body: a question and its attachments, as base64
TOO_LARGE = f"the request is larger than {MAX_BODY // (1024 * 1024)} MB"
Asgi = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class Addresses:
    """The names the server answers to, as ``Host`` values (lowercase); ``hosts`` None: any (a token guards).

    ``names`` (from --allow-host) match with any port, or only theirs when they give one.
    ``unix``: a unix socket, which only this user reaches: any Host, and no web page at all.
    """

    hosts: frozenset[str] | None
    names: frozenset[str] = frozenset()
    unix: bool = False

    def answers(self, host: str | None) -> bool:
        """True when a request with this ``Host`` header is meant for this server."""
        if self.unix or self.hosts is None:
            return True
        if not host:
            return False
        host = host.lower()
        if host in self.hosts or host in self.names:
            return True
        name, colon, port = host.rpartition(":")
        return bool(colon) and port.isdigit() and name in self.names

    def own_origin(self, origin: str, host: str | None) -> bool:
        """True when a browser's ``Origin`` is a page of this server (its own address, or the Host asked)."""
        if self.unix:
            return False
        scheme, sep, rest = origin.lower().partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
            return False
        return rest == (host or "").lower() if self.hosts is None else self.answers(rest)

    def described(self) -> str:
        """The addresses for a message: "127.0.0.1:8765, localhost:8765 or [::1]:8765"."""
        shown = sorted(self.hosts or ()) + sorted(self.names)
        return ", ".join(shown[:-1]) + (" or " if len(shown) > 1 else "") + shown[-1] if shown else "any"


def addresses(host: str, port: int, unix: bool = False, allowed: Iterable[str] = (), token: bool = False) -> Addresses:
    """What a server listening on ``host:port`` answers to (see docs/serve.md).

    Its address and (when it listens there) the loopback names, with its port (without it too on
    port 80, as browsers send it), and the ``allowed`` names. On an address other machines reach,
    with a token and no ``allowed`` name: any Host (a page cannot send the token, and the names a
    load balancer forwards vary).
    """
    names = frozenset(name.lower() for name in allowed)
    if unix:
        return Addresses(None, names, unix=True)
    if not loopback(host) and not names and token:
        return Addresses(None)
    # Every address (0.0.0.0, ::) is loopback too: its names are this machine's, never a page's.
    own = {*LOOPBACK_NAMES} if loopback(host) or host in ("0.0.0.0", "::") else set()
    if host not in ("0.0.0.0", "::"):
        own.add(f"[{host.lower()}]" if ":" in host and not host.startswith("[") else host.lower())  # as Host has it
    with_port = {f"{name}:{port}" for name in own} | (own if port == 80 else set())
    return Addresses(frozenset(with_port), names)


class Guard:
    """The ASGI app ``app`` behind the checks of this module."""

    def __init__(self, app: Asgi, allowed: Addresses, token: str | None, owner: int | None, proxies: tuple[str, ...]):
        if proxies:  # the client and scheme taken from the forwarding headers of these proxies' requests only
            from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

            app = ProxyHeadersMiddleware(app, trusted_hosts=list(proxies))  # type: ignore[arg-type,assignment]
        self.app, self.allowed, self.token = app, allowed, token
        self.owner = owner  # the only uid whose processes on this machine may call; None: not checked (a unix socket)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        refused = self.refusal(scope) if scope["type"] in ("http", "websocket") else None
        if refused is None and scope["type"] == "http":
            await self._bounded(scope, receive, send)
        elif refused is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await _refuse(scope, send, *refused)

    async def _bounded(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The app, on a body of at most MAX_BODY bytes: one over it is refused (413) before it is read past it."""
        read, answered, refused = 0, False, False

        async def counted() -> Any:
            nonlocal read, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            read += len(message.get("body", b""))
            if read <= MAX_BODY:
                return message
            refused = True
            if not answered:
                await _refuse(scope, send, 413, TOO_LARGE)
            return {"type": "http.disconnect"}  # the app stops reading: the client is as good as gone

        async def watched(message: Any) -> None:
            nonlocal answered
            if refused:
                return  # answered already: 413
            answered = answered or message.get("type") == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)

    def refusal(self, scope: dict[str, Any]) -> tuple[int, str] | None:
        """The status and message refusing a request (its headers, its connection); None when it may go on."""
        from starlette.datastructures import Headers

        headers = Headers(scope=scope)
        hosts = headers.getlist("host")
        host = hosts[0] if len(hosts) == 1 else None
        if not self.allowed.answers(host) or len(hosts) > 1:
            return 421, f"this server answers to {self.allowed.described()}, not to Host {host or '(none)'}"
        for origin in headers.getlist("origin"):
            if not self.allowed.own_origin(origin, host):
                return 403, f"a request from the web page {origin} is refused: only this server's own pages may ask"
        if (stranger := self._stranger(scope)) is not None:
            return 403, stranger
        if self.token is not None and not self._has_token(headers, scope):
            return 401, "a token is needed (Authorization: Bearer TOKEN; chat serve --show-token prints it)"
        length = headers.get("content-length", "0")
        return (413, TOO_LARGE) if not length.isdigit() or int(length) > MAX_BODY else None

    def _has_token(self, headers: Any, scope: dict[str, Any]) -> bool:
        """The token, or a browser's session (which changes something only from this server's page: its Origin, as
        checked above), or it asks for what the page has before it signs in (chatcli.api.page)."""
        from starlette.requests import cookie_parser

        from chatcli.api.access import cookie_name, expiry
        from chatcli.api.page import public

        assert self.token is not None
        wanted = self.token.encode()
        if hmac.compare_digest(headers.get("authorization", "").encode(), b"Bearer " + wanted):
            return True
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])
        if len(query) == 1 and hmac.compare_digest(query[0].encode(), wanted):
            return True
        if public(scope.get("path", ""), headers.get("accept", "")):
            return True
        session = cookie_parser(headers.get("cookie", "")).get(cookie_name(headers.get("host", "")), "")
        signed_in = expiry(self.token, "session", session, time.time()) is not None
        return signed_in and (scope.get("method") in ("GET", "HEAD") or "origin" in headers)

    def _stranger(self, scope: dict[str, Any]) -> str | None:
        """Why the socket's other end may not ask (another user's process on this machine); None when it may.

        Every TCP connection is looked up, on loopback or not: a local user may reach the machine's other
        addresses too. On loopback a peer the kernel does not list is refused; elsewhere it is another machine,
        which the token guards.
        """
        client, server = scope.get("client"), scope.get("server")
        if self.owner is None or not client or not server:
            return None
        from chatcli.local.sockets import peer_uid

        host = str(client[0])
        uid = peer_uid((host, int(client[1])), (str(server[0]), int(server[1])))  # the whole connection
        if uid is None or uid == self.owner or (uid < 0 and not loopback(host)):
            return None
        who = "another user of this machine" if uid >= 0 else "a process the system cannot name"
        return f"this server answers only its own user's processes, not {who}"


async def _refuse(scope: dict[str, Any], send: Any, status: int, message: str) -> None:
    """Answer with the API's error object (chatcli.api.errors)."""
    from chatcli.api.errors import error

    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    await error(message, status, headers)(scope, None, send)
