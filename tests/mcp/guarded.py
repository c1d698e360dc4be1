"""An MCP server that asks for an OAuth login, for the tests: `python guarded.py`.

FastMCP over streamable HTTP on a port of 127.0.0.1 it binds itself and prints (one line, once it listens), with the ``mcp`` package's authorization server routes backed by
an in-memory provider: dynamic client registration, an authorization endpoint that approves at once (redirecting
to the client's callback with a code; with ``GUARDED_REFUSE`` set it redirects with ``error=access_denied``),
PKCE-checked code exchange, refresh. Access tokens last ``GUARDED_TTL`` seconds (default 3600). Each token
request adds a line to the file ``GUARDED_LOG`` names ("code" or "refresh"); a refresh is refused while the file
``GUARDED_NO_REFRESH`` names exists. The tool ``whoami`` says which token the call came with.
"""

import os
import secrets
import socket
import time

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
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.server import Context
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

TTL = int(os.environ.get("GUARDED_TTL", "3600"))


def _log(line: str) -> None:
    if os.environ.get("GUARDED_LOG"):
        with open(os.environ["GUARDED_LOG"], "a") as handle:
            handle.write(line + "\n")


class Provider:
    """Clients, codes and tokens in memory."""

    def __init__(self) -> None:
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.clients[client_info.client_id or ""] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if os.environ.get("GUARDED_REFUSE"):
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
        _log("code")
        return self._issue(client.client_id or "", authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        _log("refresh")
        if os.environ.get("GUARDED_NO_REFRESH") and os.path.exists(os.environ["GUARDED_NO_REFRESH"]):
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


if __name__ == "__main__":
    # The socket is bound here, not a port chosen by the test and bound later: another test's server could take
    # a port in between (and answer the test's requests instead)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    port = listening.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = FastMCP(
        "guarded",
        host="127.0.0.1",
        port=port,
        log_level="WARNING",
        auth_server_provider=Provider(),
        auth=AuthSettings(
            issuer_url=base,
            resource_server_url=f"{base}/mcp",
            client_registration_options=ClientRegistrationOptions(enabled=True),
            validate_token_resource=False,
        ),
    )

    @server.tool()
    def whoami(ctx: Context) -> str:
        """Who the call came from."""
        request = ctx.request_context.request
        token = request.headers.get("authorization", "") if request is not None else ""
        return f"signed in with a token ending {token[-4:]}" if token else "anonymous"

    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    print(port, flush=True)
    uvicorn.Server(config).run(sockets=[listening])
