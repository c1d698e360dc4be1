"""Servers meant for machines: mcp.json's ``oauth`` object in the MCP conformance suite's own key spelling signs in
with no browser and no one to click: client credentials with the client's secret (``clientId``, ``clientSecret``,
where the authorization server grants only those) or a signed JWT (``privateKeyPem``, ``signingAlgorithm``), and
cross-app access (``idpClientId``, ``idpIdToken``, ``idpIssuer``, ``idpTokenEndpoint``: an identity provider's ID
token exchanged for access). Every secret of the object is never shown, and a file holding any of them that others
can read is refused. (The suite's ``auth/client-credentials-basic``, ``-jwt`` and
``auth/cross-app-access-complete-flow`` run these end to end: .ci/mcp-conformance.)

The servers here are one in-process stand-in (httpx's MockTransport): the MCP server (401 until a token comes), its
protected resource metadata, and its authorization server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chatcli.errors import ConfigError
from chatcli.tools.mcp import oauth
from chatcli.tools.mcp.config import OAUTH_SECRETS, ServerSpec, read_servers

MCP = "http://mcp.test/mcp"
AS = "http://auth.test"


def pem_key() -> tuple[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    text = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return text.decode(), key.public_key()


class Servers:
    """The MCP server and its authorization server, answering as the conformance suite's do; what they heard."""

    def __init__(self, grants: list[str]):
        self.grants = grants
        self.token_requests: list[httpx2.Request] = []
        self.seen_tokens: list[str | None] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        if url == MCP:
            bearer = request.headers.get("authorization")
            self.seen_tokens.append(bearer)
            if bearer != "Bearer the-token":
                metadata = 'Bearer resource_metadata="http://mcp.test/.well-known/oauth-protected-resource/mcp"'
                return httpx2.Response(401, headers={"WWW-Authenticate": metadata})
            return httpx2.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {}})
        if url.startswith("http://mcp.test/.well-known/oauth-protected-resource"):
            return httpx2.Response(200, json={"resource": MCP, "authorization_servers": [AS]})
        if url.startswith(f"{AS}/.well-known/"):
            return httpx2.Response(200, json={
                "issuer": AS, "authorization_endpoint": f"{AS}/authorize", "token_endpoint": f"{AS}/token",
                "response_types_supported": ["code"], "grant_types_supported": self.grants,
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            })  # fmt: skip
        if url == f"{AS}/token":
            self.token_requests.append(request)
            return httpx2.Response(200, json={"access_token": "the-token", "token_type": "Bearer", "expires_in": 3600})
        return httpx2.Response(404)


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setattr(oauth, "data_dir", lambda: tmp_path)
    monkeypatch.setattr(oauth, "open_in_browser", lambda url: pytest.fail(f"a browser was opened: {url}"))
    return tmp_path


def call(spec: ServerSpec, servers: Servers) -> httpx2.Response:
    """One request to the MCP server with the auth chat's connection uses, as it would be sent."""

    async def run() -> httpx2.Response:
        auth = oauth.auth_for(spec)
        assert auth is not None, "a machine's client signs in with no login kept"
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(servers), auth=auth) as client:
            return await client.post(MCP, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})

    return asyncio.run(run())


def form(request: httpx2.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def test_a_client_with_its_secret_signs_in_with_client_credentials_no_browser_and_the_token_is_kept(data):
    spec = ServerSpec(name="billing", url=MCP, oauth={"clientId": "robot", "clientSecret": "s3cret"})
    servers = Servers(["client_credentials"])
    assert call(spec, servers).status_code == 200
    (token,) = servers.token_requests
    assert form(token)["grant_type"] == "client_credentials"
    assert token.headers["authorization"] == "Basic " + base64.b64encode(b"robot:s3cret").decode()
    assert servers.seen_tokens[-1] == "Bearer the-token"
    kept = oauth.StoredAuth(spec).path
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and "s3cret" not in kept.read_text()


def test_where_the_authorization_server_wants_a_user_the_client_with_its_secret_needs_a_login(data):
    spec = ServerSpec(name="billing", url=MCP, oauth={"clientId": "robot", "clientSecret": "s3cret"})
    with pytest.raises(oauth.LoginNeeded, match="^needs a login: run chat mcp login billing$"):
        call(spec, Servers(["authorization_code", "refresh_token"]))


def test_a_client_with_a_private_key_signs_in_with_a_signed_jwt_no_browser(data):
    key, public = pem_key()
    spec = ServerSpec(
        name="billing", url=MCP, oauth={"clientId": "robot", "privateKeyPem": key, "signingAlgorithm": "ES256"}
    )
    servers = Servers(["client_credentials"])
    assert call(spec, servers).status_code == 200
    sent = form(servers.token_requests[0])
    assert sent["grant_type"] == "client_credentials"
    assert sent["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    claims = jwt.decode(sent["client_assertion"], public, algorithms=["ES256"], audience=AS)
    assert claims["iss"] == claims["sub"] == "robot"


def test_cross_app_access_exchanges_the_id_token_and_presents_the_grant_no_browser(data, monkeypatch):
    asked: list[tuple[str, str]] = []

    async def id_jag(spec: ServerSpec, audience: str, resource: str) -> str:  # the identity provider's answer
        asked.append((audience, resource))
        return "the-id-jag"

    monkeypatch.setattr(oauth, "_id_jag", id_jag)
    idp = {"idpClientId": "idp-client", "idpIdToken": "id.token.x", "idpIssuer": "http://idp.test",
           "idpTokenEndpoint": "http://idp.test/token"}  # fmt: skip
    spec = ServerSpec(name="billing", url=MCP, oauth={"clientId": "robot", "clientSecret": "s3cret", **idp})
    servers = Servers(["urn:ietf:params:oauth:grant-type:jwt-bearer"])
    assert call(spec, servers).status_code == 200
    assert asked == [(AS, MCP)]  # for the authorization server the MCP server names, and for this server
    token = servers.token_requests[0]
    assert form(token)["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert form(token)["assertion"] == "the-id-jag"
    assert token.headers["authorization"] == "Basic " + base64.b64encode(b"robot:s3cret").decode()


SECRET = "VALUE-never-shown"
EVERY = {
    "clientSecret": {"clientId": "robot", "clientSecret": SECRET},
    "privateKeyPem": {"clientId": "robot", "privateKeyPem": f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----"},
    "idpIdToken": {"clientId": "robot", "clientSecret": "s", "idpClientId": "c", "idpIdToken": SECRET,
                   "idpIssuer": "https://idp.test", "idpTokenEndpoint": "https://idp.test/token"},
}  # fmt: skip


def written(tmp_path: Path, oauth_object: dict[str, str], mode: int) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"billing": {"url": MCP, "oauth": oauth_object}}}))
    path.chmod(mode)
    return path


def test_every_secret_key_of_the_oauth_object_is_checked_here():
    assert set(EVERY) == set(OAUTH_SECRETS)


@pytest.mark.parametrize("key", OAUTH_SECRETS)
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_file_others_can_read_holding_any_secret_is_refused_without_saying_it(tmp_path, key, mode):
    with pytest.raises(ConfigError) as refused:
        read_servers(written(tmp_path, EVERY[key], mode))
    said = f"{refused.value} {refused.value.hint}"
    assert f"mcpServers.billing.oauth.{key}" in said and "chmod 600" in said
    assert SECRET not in said


@pytest.mark.parametrize("key", OAUTH_SECRETS)
def test_no_secret_is_shown_where_the_server_is_shown(tmp_path, key):
    (spec,) = read_servers(written(tmp_path, EVERY[key], 0o600))
    assert spec.oauth[key].count(SECRET) == 1
    assert SECRET not in repr(spec) and SECRET not in spec.where and SECRET not in str(spec)


@pytest.mark.parametrize(
    "oauth_object, said",
    [
        ({"clientId": "r", "signingAlgorithm": "ES256"}, "signingAlgorithm signs with privateKeyPem"),
        ({"clientId": "r", "privateKeyPem": "-----BEGIN PRIVATE KEY-----", "signingAlgorithm": "none"}, "must be one of"),
        ({"clientId": "r", "privateKeyPem": "not a key"}, "must be a PEM private key"),
        ({"clientId": "r", "clientSecret": "s", "idpIdToken": "t"}, "cross-app access needs idpClientId, idpIssuer"),
        ({"clientId": "r", "idpClientId": "c", "idpIdToken": "t", "idpIssuer": "https://i", "idpTokenEndpoint": "https://i/t"},
         "cross-app access needs clientSecret"),
    ],
)  # fmt: skip
def test_an_oauth_object_chat_cannot_sign_in_with_is_one_line_naming_it(tmp_path, oauth_object, said):
    with pytest.raises(ConfigError, match="mcpServers.billing.oauth") as refused:
        read_servers(written(tmp_path, oauth_object, 0o600))
    assert said in str(refused.value) and "\n" not in str(refused.value)


# ---- a server of the 2025-03-26 revision: its authorization server's metadata at its own origin ----------------


class Legacy:
    """No protected resource metadata; the authorization server's metadata at the MCP server's origin, its issuer
    ``issuer`` (the conformance suite's auth/2025-03-26-oauth-metadata-backcompat: ``ORIGIN/oauth``)."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.token_requests: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        if url == MCP:
            if request.headers.get("authorization") != "Bearer the-token":
                return httpx2.Response(401, headers={"WWW-Authenticate": "Bearer"})
            return httpx2.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {}})
        if url == "http://mcp.test/.well-known/oauth-authorization-server":
            return httpx2.Response(200, json={
                "issuer": self.issuer, "authorization_endpoint": "http://mcp.test/oauth/authorize",
                "token_endpoint": "http://mcp.test/oauth/token", "registration_endpoint": "http://mcp.test/oauth/register",
                "response_types_supported": ["code"],
            })  # fmt: skip
        if url == "http://mcp.test/oauth/register":
            return httpx2.Response(201, json={"client_id": "c1", "redirect_uris": ["http://127.0.0.1:1/callback"]})
        if url.startswith("http://mcp.test/oauth/token"):
            self.token_requests.append(url)
            return httpx2.Response(200, json={"access_token": "the-token", "token_type": "Bearer", "expires_in": 60})
        return httpx2.Response(404)


def signing_in(servers: Legacy) -> httpx2.Response:
    """A login's flow (its browser answering at once) against ``servers``."""
    from mcp.client.auth import AuthorizationCodeResult

    spec = ServerSpec(name="old", url=MCP)
    state: list[str] = []

    async def redirect(url: str) -> None:
        state.append(parse_qs(url.split("?", 1)[1])["state"][0])

    async def callback() -> Any:
        return AuthorizationCodeResult(code="a-code", state=state[-1], iss=None)

    async def run() -> httpx2.Response:
        auth = oauth._provider(spec, oauth._SigningIn(spec), "http://127.0.0.1:1/callback", redirect, callback)
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(servers), auth=auth) as client:
            return await client.post(MCP, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})

    return asyncio.run(run())


def test_a_2025_03_26_server_s_own_metadata_at_its_origin_signs_in_though_its_issuer_is_a_path_there(data):
    servers = Legacy("http://mcp.test/oauth")
    assert signing_in(servers).status_code == 200
    assert servers.token_requests == ["http://mcp.test/oauth/token"]


def test_metadata_at_the_origin_naming_another_origin_as_issuer_is_still_refused(data):
    servers = Legacy("http://elsewhere.test")
    with pytest.raises(Exception, match="issuer mismatch"):
        signing_in(servers)
    assert servers.token_requests == []
