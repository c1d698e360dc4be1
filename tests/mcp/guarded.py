"""An MCP server that asks for an OAuth login, for the tests: `python guarded.py`, or ``app(port, env)`` in a test's
process (tests/test_mcp_oauth.py serves it on a thread there, the variables below read from ``env``).

FastMCP over streamable HTTP on a port of 127.0.0.1 it binds itself and prints (one line, once it listens), with the ``mcp`` package's authorization server routes backed by
an in-memory provider: dynamic client registration, an authorization endpoint that approves at once (redirecting
to the client's callback with a code; with ``GUARDED_REFUSE`` set it redirects with ``error=access_denied``),
PKCE-checked code exchange, refresh. Access tokens last ``GUARDED_TTL`` seconds (default 3600). Each token
request adds a line to the file ``GUARDED_LOG`` names ("code" or "refresh"); a refresh is refused while the file
``GUARDED_NO_REFRESH`` names exists. The tool ``whoami`` says which token the call came with.

``MCP_ERA=2026``: a server of mcp 2.x (the 2026-07-28 revision); otherwise one of mcp 1.x. ``GUARDED_CIMD``: a
JSON file of client ID metadata documents by their URLs (what the authorization server would fetch at each): the
server says it takes them (``client_id_metadata_document_supported``), and a client ID that is one of those URLs is
the client that document describes (a loopback redirect URI of any port, as RFC 8252 has it). The log says
"register" for each dynamic registration and "document" for each client known by its document.
"""

import json
import os
import secrets
import socket
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

MODERN = os.environ.get("MCP_ERA") == "2026"
if not MODERN:
    import legacy  # noqa: F401, I001 - mcp 1.x first on sys.path: a server of the 2025 era
import uvicorn
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

if MODERN:
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver import MCPServer as FastMCP
else:
    from mcp.server.fastmcp import FastMCP
    from mcp.server.fastmcp.server import Context

TTL = int(os.environ.get("GUARDED_TTL", "3600"))


class Documented(OAuthClientInformationFull):
    """A client known by its metadata document: a loopback redirect URI it lists matches on any port."""

    def validate_redirect_uri(self, redirect_uri):  # type: ignore[no-untyped-def]
        if redirect_uri is not None:
            given = urlsplit(str(redirect_uri))
            for listed in self.redirect_uris or []:
                known = urlsplit(str(listed))
                if given.hostname in ("127.0.0.1", "::1") and (given.scheme, given.hostname, given.path) == (
                    known.scheme,
                    known.hostname,
                    known.path,
                ):
                    return redirect_uri
        return super().validate_redirect_uri(redirect_uri)


class Provider:
    """Clients, codes and tokens in memory; ``env``: the variables it reads as it answers."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id) or self._documented(client_id)

    def _log(self, line: str) -> None:
        if self.env.get("GUARDED_LOG"):
            with open(self.env["GUARDED_LOG"], "a") as handle:
                handle.write(line + "\n")

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self._log("register")
        self.clients[client_info.client_id or ""] = client_info

    def _documented(self, client_id: str) -> OAuthClientInformationFull | None:
        """The client a client ID metadata document describes, when ``client_id`` is its URL."""
        if not self.env.get("GUARDED_CIMD") or not client_id.startswith("https://"):
            return None
        with open(self.env["GUARDED_CIMD"]) as handle:
            document = json.load(handle).get(client_id)
        if document is None or document.get("client_id") != client_id:
            return None
        self._log("document")
        return Documented.model_validate(document)

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if self.env.get("GUARDED_REFUSE"):
            return construct_redirect_uri(str(params.redirect_uri), error="access_denied", state=params.state)
        code = secrets.token_urlsafe(16)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or [],
            expires_at=time.time() + 300,
            client_id=client.client_id or "",
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, code: str) -> AuthorizationCode | None:
        return self.codes.get(code)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=int(time.time()) + TTL, resource=resource
        )
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes, resource=resource)
        return OAuthToken(access_token=access, token_type="Bearer", expires_in=TTL, refresh_token=refresh)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        self._log("code")
        return self._issue(client.client_id or "", authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self._log("refresh")
        if self.env.get("GUARDED_NO_REFRESH") and os.path.exists(self.env["GUARDED_NO_REFRESH"]):
            raise TokenError("invalid_grant", "refresh refused")
        self.refresh.pop(refresh_token.token, None)
        return self._issue(client.client_id or "", scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)


def app(port: int, env: Mapping[str, str]):  # type: ignore[no-untyped-def]
    """The server's ASGI app, as served at ``http://127.0.0.1:PORT``."""
    base = f"http://127.0.0.1:{port}"
    settings = AuthSettings(
        issuer_url=base,
        resource_server_url=f"{base}/mcp",
        client_registration_options=ClientRegistrationOptions(enabled=True),
        validate_token_resource=False,
    )
    provider = Provider(env)
    if MODERN:
        server = FastMCP("guarded", log_level="WARNING", auth_server_provider=provider, auth=settings)
    else:
        server = FastMCP(
            "guarded", host="127.0.0.1", port=port, log_level="WARNING", auth_server_provider=provider, auth=settings
        )

    @server.tool()
    def whoami(ctx: Context) -> str:
        """Who the call came from."""
        request = ctx.request_context.request
        token = request.headers.get("authorization", "") if request is not None else ""
        return f"signed in with a token ending {token[-4:]}" if token else "anonymous"

    served = server.streamable_http_app(host="127.0.0.1") if MODERN else server.streamable_http_app()
    if not env.get("GUARDED_CIMD"):
        return served

    async def documented(scope, receive, send):  # type: ignore[no-untyped-def]
        """The authorization server's metadata says it takes client ID metadata documents."""
        if scope["type"] != "http" or scope["path"] != "/.well-known/oauth-authorization-server":
            return await served(scope, receive, send)
        start: dict = {}

        async def sending(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body = json.loads(message["body"])
            body["client_id_metadata_document_supported"] = True
            data = json.dumps(body).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(data)).encode())]})
            await send({"type": "http.response.body", "body": data})

        await served(scope, receive, sending)

    return documented


if __name__ == "__main__":
    # The socket is bound here, not a port chosen by the test and bound later: another test's server could take
    # a port in between (and answer the test's requests instead)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    port = listening.getsockname()[1]
    config = uvicorn.Config(app(port, os.environ), log_level="warning")
    print(port, flush=True)
    uvicorn.Server(config).run(sockets=[listening])
