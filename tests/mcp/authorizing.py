"""An MCP server and its authorization servers as MCP's authorization drafts and their RFCs write them, by hand (no
SDK, so that the SDK chat uses cannot agree with itself): ``Authorizing(...)`` serves on a thread of the test's
process, on 127.0.0.1, until ``close()``. One port holds the MCP server (``url``: ``/mcp``, its protected resource
metadata naming ``issuer``) and two authorization servers, ``/as1`` and ``/as2`` (RFC 8414 metadata at
``/.well-known/oauth-authorization-server/asN``); ``move("as2")`` makes the resource's metadata name the other, whose
tokens alone the MCP server then takes (an authorization server that moved).

What the authorization servers do, as asked:
- ``dpop``: "metadata" offers DPoP (RFC 9449: ``dpop_signing_alg_values_supported``); "challenge" says nothing there,
  but the MCP server's 401 is a ``DPoP`` challenge; "required": nor that, but the MCP server's protected resource
  metadata has ``dpop_bound_access_tokens_required`` (RFC 9728), and it takes no token that is not bound. A token request with a valid proof (ES256, ``typ`` dpop+jwt,
  ``htm``/``htu`` its own) gets a token of type DPoP bound to the proof's key, which the MCP server takes only with
  ``Authorization: DPoP`` and a proof by that key (``ath`` the token's hash). ``nonce``: each (the authorization
  server's token endpoint, the MCP server) first answers a proof without its nonce with ``use_dpop_nonce`` and a
  ``DPoP-Nonce`` (400 there, 401 here).
- ``clients``: clients registered by hand (id: secret); then no dynamic registration is offered, and a token
  request must authenticate as ``methods`` (``token_endpoint_auth_methods_supported``) says.
- ``grants``: the grants it names; ``urn:ietf:params:oauth:grant-type:jwt-bearer`` takes ``assertion`` equal to
  ``identity`` (a workload's platform token, RFC 7523 2.1) for the ``resource`` that is this MCP server.

``heard``: every request to an authorization server, as (its name, path, headers, form); ``challenges``: the nonce
challenges made. The MCP server's one tool, ``whoami``, says the last four characters of the token it was called with.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
WHOAMI = {"name": "whoami", "description": "Who the token says you are.", "inputSchema": {"type": "object"}}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Refused(Exception):
    """An answer other than 200: (status, body, headers)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class Authorizing:
    def __init__(
        self,
        dpop: str | None = None,
        nonce: bool = False,
        clients: dict[str, str] | None = None,
        methods: tuple[str, ...] = ("client_secret_basic",),
        grants: tuple[str, ...] = ("authorization_code", "refresh_token"),
        identity: str | None = None,
    ):
        self.dpop, self.nonce, self.clients, self.methods, self.grants = dpop, nonce, clients, methods, grants
        self.identity, self.current = identity, "as1"
        self.heard: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.challenges: list[str] = []
        self.bad: list[str] = []  # the DPoP proofs refused, and why
        self.jtis: set[str] = set()
        self.registered: dict[str, str] = {}  # client id: its authorization server
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}  # access token: its server and the key it is bound to
        self.refresh: dict[str, str] = {}  # refresh token: its authorization server
        self.refusing_refresh: set[str] = set()
        self.nonces = {"as1": "as1-nonce", "as2": "as2-nonce", "mcp": "mcp-nonce"}
        served = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(lambda: served.get(self))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(lambda: served.post(self, body))

            def _answer(self, work: Any) -> None:
                try:
                    status, answer, headers = 200, work(), {}
                except Refused as refused:
                    status, answer, headers = refused.status, refused.body, refused.headers
                if status == 302:
                    self.send_response(302)
                    self.send_header("Location", answer["location"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"{self.base}/mcp"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def issuer(self, name: str | None = None) -> str:
        return f"{self.base}/{name or self.current}"

    def move(self, name: str) -> None:
        self.current = name

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- what is served ---------------------------------------------------------------------------------------

    def get(self, request: Any) -> dict[str, Any]:
        path = urlsplit(request.path).path
        if path.startswith("/.well-known/oauth-protected-resource"):
            required = {"dpop_bound_access_tokens_required": True} if self.dpop == "required" else {}
            return {"resource": self.url, "authorization_servers": [self.issuer()], **required}
        if path.startswith("/.well-known/oauth-authorization-server/as"):
            return self.metadata(path.rsplit("/", 1)[1])
        if path.endswith("/authorize"):
            name = path.split("/")[1]
            asked = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
            self.heard.append((name, path, dict(request.headers.items()), asked))
            code = secrets.token_urlsafe(8)
            self.codes[code] = {**asked, "as": name}
            query = urlencode({"code": code, "state": asked["state"], "iss": self.issuer(name)})
            raise Refused(302, {"location": f"{asked['redirect_uri']}?{query}"})
        raise Refused(404, {"error": "not_found"})

    def metadata(self, name: str) -> dict[str, Any]:
        issuer = self.issuer(name)
        found = {
            "issuer": issuer, "authorization_endpoint": f"{issuer}/authorize", "token_endpoint": f"{issuer}/token",
            "response_types_supported": ["code"], "grant_types_supported": list(self.grants),
            "code_challenge_methods_supported": ["S256"], "token_endpoint_auth_methods_supported": list(self.methods),
        }  # fmt: skip
        if self.clients is None:
            found["registration_endpoint"] = f"{issuer}/register"
        if self.dpop == "metadata":
            found["dpop_signing_alg_values_supported"] = ["ES256"]
        return found

    def post(self, request: Any, body: bytes) -> dict[str, Any]:
        path = urlsplit(request.path).path
        if path == "/mcp":
            return self.mcp(request, json.loads(body))
        name = path.split("/")[1]
        headers = dict(request.headers.items())
        if path.endswith("/register") and self.clients is None:
            self.heard.append((name, path, headers, {}))
            client = secrets.token_urlsafe(8)
            self.registered[client] = name
            return {**json.loads(body), "client_id": client, "token_endpoint_auth_method": "none"}
        if path.endswith("/token"):
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            self.heard.append((name, path, headers, form))
            return self.token(name, request, form)
        raise Refused(404, {"error": "not_found"})

    def mcp(self, request: Any, body: dict[str, Any]) -> dict[str, Any]:
        token = self.check(request)
        method = body.get("method")
        if method == "server/discover":
            result: dict[str, Any] = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}, "ttlMs": 0,
                      "cacheScope": "public", "serverInfo": {"name": "authorizing", "version": "1"}}  # fmt: skip
        elif method == "tools/list":
            result = {"tools": [WHOAMI], "ttlMs": 0, "cacheScope": "public"}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": f"signed in with a token ending {token[-4:]}"}]}
        else:
            return {"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": -32601, "message": "Method not found"}}
        return {"jsonrpc": "2.0", "id": body.get("id"), "result": {"resultType": "complete", **result}}

    # ---- the checks ---------------------------------------------------------------------------------------------

    def check(self, request: Any) -> str:
        """The token a request to the MCP server came with, as the drafts have it checked; else a 401."""
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        issued = self.tokens.get(token)
        challenge = "DPoP" if self.dpop == "challenge" else "Bearer"
        unsigned = {
            "WWW-Authenticate": f'{challenge} resource_metadata="{self.base}/.well-known/oauth-protected-resource/mcp"'
        }
        if issued is None or issued["as"] != self.current or time.time() > issued["expires"]:
            raise Refused(401, {"error": "invalid_token"}, unsigned)
        if issued["key"] is None:
            if scheme != "Bearer" or self.dpop == "required":
                raise Refused(401, {"error": "invalid_token"}, unsigned)
            return token
        claims, key = self.proven(request, "mcp", f"{self.base}/mcp", token)
        if scheme != "DPoP" or key != issued["key"]:
            raise Refused(401, {"error": "invalid_token"}, {"WWW-Authenticate": 'DPoP error="invalid_token"'})
        return token

    def proven(self, request: Any, who: str, url: str, token: str | None) -> tuple[dict[str, Any], str]:
        """The claims of a request's DPoP proof and its key (a JSON text), checked as RFC 9449 4.3 says."""
        proof = request.headers.get("DPoP")
        if not proof:
            raise Refused(400 if who != "mcp" else 401, {"error": "invalid_dpop_proof"})
        try:
            header = jwt.get_unverified_header(proof)
            assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256" and "d" not in header["jwk"], header
            claims = jwt.decode(proof, jwt.PyJWK(header["jwk"]).key, algorithms=["ES256"])
            assert claims["htm"] == "POST" and claims["htu"] == url and abs(claims["iat"] - time.time()) < 300, claims
            assert len(claims["jti"]) >= 16 and claims["jti"] not in self.jtis, claims
            assert token is None or claims["ath"] == _b64(hashlib.sha256(token.encode()).digest()), claims
        except (AssertionError, KeyError, jwt.PyJWTError) as exc:
            self.bad.append(f"{who}: {exc!r}")
            raise Refused(400 if who != "mcp" else 401, {"error": "invalid_dpop_proof"}) from None
        self.jtis.add(claims["jti"])
        if self.nonce and claims.get("nonce") != self.nonces[who]:
            self.challenges.append(who)
            if who == "mcp":
                raise Refused(
                    401, {}, {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": self.nonces[who]}
                )
            raise Refused(400, {"error": "use_dpop_nonce"}, {"DPoP-Nonce": self.nonces[who]})
        return claims, json.dumps({k: header["jwk"][k] for k in ("crv", "kty", "x", "y")}, sort_keys=True)

    def client(self, name: str, headers: Any, form: dict[str, str]) -> str | None:
        """The client a token request authenticates as (RFC 6749 2.3.1), or None for a public one."""
        if self.clients is None:
            return form.get("client_id")
        basic = headers.get("Authorization", "")
        if basic.startswith("Basic ") and "client_secret_basic" in self.methods:
            client, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        elif "client_secret" in form and "client_secret_post" in self.methods:
            client, secret = form.get("client_id", ""), form["client_secret"]
        elif form.get("grant_type") == JWT_BEARER and "client_id" not in form:
            return None
        else:
            raise Refused(401, {"error": "invalid_client"})
        if self.clients.get(client) != secret:
            raise Refused(401, {"error": "invalid_client"})
        return client

    def token(self, name: str, request: Any, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type", "")
        if grant not in self.grants:
            raise Refused(400, {"error": "unsupported_grant_type"})
        key = self.proven(request, name, f"{self.issuer(name)}/token", None)[1] if "DPoP" in request.headers else None
        self.client(name, request.headers, form)
        if grant == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "").encode()
            if code is None or code["as"] != name or code["code_challenge"] != _b64(hashlib.sha256(verifier).digest()):
                raise Refused(400, {"error": "invalid_grant"})
        elif grant == "refresh_token":
            if self.refresh.get(form.get("refresh_token", "")) != name or name in self.refusing_refresh:
                raise Refused(400, {"error": "invalid_grant"})
        elif grant == JWT_BEARER:
            if form.get("assertion") != self.identity or form.get("resource") != self.url:
                raise Refused(400, {"error": "invalid_grant"})
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.tokens[access] = {"as": name, "key": key, "expires": time.time() + 3600}
        self.refresh[refresh] = name
        kind = "DPoP" if key else "Bearer"
        return {"access_token": access, "token_type": kind, "expires_in": 3600, "refresh_token": refresh}
