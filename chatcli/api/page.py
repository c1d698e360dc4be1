"""The page ``chat serve`` serves at ``/``: the threads, a live answer and the inbox, in a browser (chatcli/api/page/:
plain HTML, CSS and JavaScript, over the API alone), and the sign-in that gives a browser its session.

The page and its files need no token (they hold nothing of the user's: the package's own files); everything else
does, which a browser sends as the session cookie ``/signin`` gives it (chatcli.api.access): for a code of the link
``chat serve`` prints (or ``chat serve --link`` prints again), once, or for the token pasted in its form. Every
answer here forbids what the page never does (inline scripts and styles, another host, being framed).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from chatcli.api.access import SESSION_SECONDS, TAKEN_NAME, SignIns, cookie_name, signed, token_path

FILES = Path(__file__).with_name("page")
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
ASSETS = ("page.js", "page.css", "icon.svg", "app-bridge.js")  # (app-bridge.js: vendored, .ci/app-bridge)
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "frame-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ASK = "Open the link chat serve printed, or paste the token (chat serve --show-token prints it)."
USED = (
    "This sign-in link was used already, or is more than five minutes old. For another, run chat serve --link on "
    "the machine, or paste the token below."
)
WRONG = "That is not this server's token (chat serve --show-token prints it)."


def public(path: str, accept: str) -> bool:
    """True for what a browser gets before it signs in: the page, its files, the sign-in."""
    return path in ("/signin", *(f"/page/{name}" for name in ASSETS)) or (path == "/" and "text/html" in accept)


def page_routes(app: FastAPI, token: str | None, environ: Mapping[str, str], proxy: int | None) -> None:
    """The page, its files and the sign-in, on ``app`` (whose guard asks for ``token``, when there is one); the
    sign-in codes taken are kept beside the user's token (``environ``'s); the page frames MCP Apps' views from the
    port ``proxy`` alone (and the data: address each proxy moves to: chatcli.api.apps)."""
    codes = SignIns(token, token_path(environ).with_name(TAKEN_NAME)) if token is not None else None
    framing = POLICY.replace("frame-src 'none'", f"frame-src http://*:{proxy} data:") if proxy else POLICY

    @app.get("/", include_in_schema=False, response_model=None)
    async def index(request: Request) -> Any:
        """The page for a browser; for a script, where to go: the threads, and the API described."""
        if "text/html" in request.headers.get("accept", ""):
            return _file("index.html", HEADERS | {"Content-Security-Policy": framing})
        return {"threads": "/v1/threads", "api": "/openapi.json"}

    for name in ASSETS:  # each a route of its own, taking nothing from the request
        app.get(f"/page/{name}", include_in_schema=False)(_served(name))

    @app.get("/signin", include_in_schema=False)
    async def sign_in(request: Request, code: str = "") -> Response:
        if codes is None:
            return RedirectResponse("/", 303)  # no token: nothing to sign in to
        if not code:
            return _said(ASK, 200)
        server = request.scope.get("server") or (None, request.url.port)  # the socket's port: its own codes only
        return _session(request) if codes.take(code, server[1]) else _said(USED, 403)

    @app.post("/signin", include_in_schema=False)
    async def sign_in_with_token(request: Request) -> Response:
        given = parse_qs((await request.body()).decode("utf-8", "replace")).get("token", [""])[0].strip()
        if token is None or not hmac.compare_digest(given.encode(), token.encode()):
            return _said(WRONG, 401)
        return _session(request)

    def _session(request: Request) -> Response:
        """Signed in: to the page, with a session cookie only this site's requests send, and no script reads."""
        assert token is not None
        moved = RedirectResponse("/", 303, headers=HEADERS)
        value = signed(token, "session", SESSION_SECONDS)
        secure = request.url.scheme == "https"
        name = cookie_name(request.headers.get("host", ""))
        moved.set_cookie(name, value, SESSION_SECONDS, httponly=True, samesite="strict", secure=secure, path="/")
        return moved


def _served(name: str) -> Any:
    async def asset() -> Response:
        return _file(name)

    return asset


def _file(name: str, headers: Mapping[str, str] = HEADERS) -> Response:
    return Response((FILES / name).read_bytes(), media_type=TYPES[Path(name).suffix], headers=dict(headers))


def _said(message: str, status: int) -> Response:
    """The sign-in page saying ``message`` (one of this module's: nothing a request sent)."""
    html = (FILES / "signin.html").read_text(encoding="utf-8").replace("{message}", message)
    return Response(html, status, media_type="text/html", headers=HEADERS)
