"""Signing in to a remote MCP server with OAuth, as the MCP authorization spec describes it.

``chat mcp login NAME`` runs the flow with the ``mcp`` package's own client (``OAuthClientProvider``: the protected
resource metadata named by the server's 401, authorization-server discovery, dynamic client registration, PKCE):
the authorization URL is opened in a browser when there is one and printed always, and the redirect comes back to
a one-shot HTTP listener on 127.0.0.1. The tokens are kept for that server only, in
``$XDG_DATA_HOME/chatcli/mcp-auth/NAME.json`` (0600, in a 0700 directory: never where a ``.env`` or mcp.json
lives), with the URL they were issued for: a server whose URL in mcp.json changes gets none of them. A sign-in
holds what it is given until it succeeds, then replaces the file at once (a temporary file beside it, renamed):
a login stopped in any way (Ctrl-C, a signal, a closed terminal, a kill) leaves the tokens kept before usable.

Afterwards every connection to the server carries the access token, refreshed before it expires (``auth_for``).
A server that needs a login, or whose refresh is refused, fails its connection with ``LoginNeeded``, one line naming
the command. A server that answers a request with 403 ``insufficient_scope`` (a step-up: this call needs more access
than the login granted) is signed in to again with the scopes it names added to those granted: a user at a terminal
(chat's own process, stdin and stderr a terminal) is shown the address as ``chat mcp login`` shows it (and a
browser opened); where nobody can sign in (a script, the MCP host, a worker) the call fails with one line naming
``chat mcp login NAME``, which then asks for those scopes. A server still refusing after ``MAX_STEP_UPS``
sign-ins in one process is not signed in to again: one line says so. ``chat mcp logout NAME`` forgets the tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any, AsyncGenerator, Callable, cast
from urllib.parse import parse_qs, urlsplit

from chatcli.paths import data_dir, private_dir, write_private
from chatcli.text import say
from chatcli.tools.browser import open_in_browser
from chatcli.tools.mcp.config import ServerSpec

# Refreshed this long before the access token's expiry, so that a call does not race it.
EARLY = 60.0
# How long a login waits for the browser to come back.
LOGIN_WAIT = 300.0
# Sign-ins one process makes for a server's step-ups (403 insufficient_scope) before it stops asking.
MAX_STEP_UPS = 2
_step_ups: dict[Path, int] = {}  # by the server's token file


class LoginNeeded(Exception):
    """A server asks for an OAuth login chat does not have (or may no longer refresh): one line naming the command."""

    def __init__(self, name: str, why: str = "needs a login"):
        self.detail = f"{why}: run chat mcp login {name}"
        super().__init__(self.detail)


class StoredAuth:
    """One server's tokens and client registration (the ``mcp`` client's ``TokenStorage``), kept with the URL they
    belong to; a file written for another URL reads as nothing. The file is in ``data`` (chat's data directory:
    this process's by default; the MCP host's caller's there): chatcli.tools.sandbox.secret_places hides it from
    commands."""

    def __init__(self, spec: ServerSpec, data: Path | None = None):
        parts = urlsplit(spec.url or "")
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.name) or "_"
        self.path = (data if data is not None else data_dir()) / "mcp-auth" / f"{safe}.json"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("url") == self.url else {}

    def _write(self, data: dict[str, Any]) -> None:
        os.chmod(private_dir(self.path.parent), 0o700)
        write_private(self.path, json.dumps({**data, "url": self.url}, ensure_ascii=False))

    def _update(self, **fields: Any) -> None:
        self._write({**self._read(), **fields})

    def stamp(self) -> tuple[int, int] | None:
        """Which file of tokens is there now (its inode and time; None: none): a login, a refresh or a logout
        changes it."""
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns

    def has_tokens(self) -> bool:
        return bool(self._read().get("tokens"))

    def wanted(self) -> str | None:
        """The scopes a step-up asked for that nobody could sign in for then: the next login asks for them."""
        wanted = self._read().get("wanted")
        return wanted if isinstance(wanted, str) and wanted else None

    def want(self, scope: str | None) -> None:
        if scope and self.path.exists():
            self._update(wanted=scope)

    async def get_tokens(self) -> Any:
        from mcp.shared.auth import OAuthToken

        data = self._read()
        if not data.get("tokens"):
            return None
        tokens = OAuthToken.model_validate(data["tokens"])
        expires_at = data.get("expires_at")
        if isinstance(expires_at, (int, float)):  # what is left of it, less the margin: refreshed before it ends
            tokens.expires_in = max(0, int(expires_at - time.time() - EARLY))
        return tokens

    async def set_tokens(self, tokens: Any) -> None:
        expires_at = time.time() + tokens.expires_in if tokens.expires_in else None
        self._update(tokens=tokens.model_dump(mode="json", exclude_none=True), expires_at=expires_at)

    async def get_client_info(self) -> Any:
        from mcp.shared.auth import OAuthClientInformationFull

        info = self._read().get("client")
        return OAuthClientInformationFull.model_validate(info) if info else None

    async def set_client_info(self, client_info: Any) -> None:
        self._update(client=client_info.model_dump(mode="json", exclude_none=True))

    def told(self) -> str:
        """What the server's sign-in asked of chat beyond a login, and what chat did (DPoP, a client registered by
        hand, a workload's identity, an authorization server that moved), in one line; "" for none of it."""
        notes = self._read().get("notes")
        return "; ".join(map(str, notes.values())) if isinstance(notes, dict) else ""

    def note(self, key: str, text: str) -> None:
        notes = self._read().get("notes") or {}
        if notes.get(key) != text:
            self._update(notes={**notes, key: text})

    def issuer(self) -> str | None:
        """The authorization server that issued the tokens kept (the issuer of its metadata, kept with them)."""
        return (self._read().get("metadata") or {}).get("issuer")

    def forget(self) -> bool:
        """Delete what is kept for this server; whether there was anything."""
        kept = self.path.exists()
        self.path.unlink(missing_ok=True)
        return kept


def _provider(
    spec: ServerSpec,
    storage: StoredAuth,
    redirect_uri: Any,
    on_redirect: Any,
    on_callback: Any,
    document: str | None = None,
    again: Callable[[Any, Callable[[], Any]], Any] = lambda _provider, proceed: proceed(),
    wanted: str | None = None,
    heard: Callable[[LoginNeeded], None] = lambda _: None,
) -> Any:
    """The ``mcp`` package's OAuth client for ``spec``, which also knows when a stored access token expires and which
    authorization server issued it; ``document``: the URL of chat's client ID metadata document (its client ID where
    the server takes those); ``again``: signs in again (``_again``) where a connection's token no longer does (a
    step-up); ``wanted``: scopes a step-up asked for before, asked for too; ``heard``: told the ``LoginNeeded`` its
    flow ends with (as ``_bounded`` has it, with its log quiet and DPoP)."""
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthMetadata

    oauth = spec.oauth

    class Provider(_bounded(OAuthClientProvider, spec, storage, heard)):  # type: ignore[misc]
        legacy_issuer: str | None = None

        async def _heard(self, request: Any, response: Any) -> Any:
            """A server of the 2025-03-26 revision (no protected resource metadata) serves its authorization
            server's metadata at its own origin, as that revision has it: metadata there whose issuer is another
            URL of that same origin (``/oauth``) is its own, its issuer read as the origin it was found at (RFC 8414
            3.3); any other answer as it came."""
            origin, url = self.context.get_authorization_base_url(spec.url or ""), str(request.url)
            if self.context.auth_server_url is not None or response.status_code != 200 or request.method != "GET":
                return response
            if not url.startswith(origin + "/.well-known/") or "/.well-known/oauth-protected-resource" in url:
                return response  # (the protected resource's own metadata is not its server's)
            try:
                found = json.loads(await response.aread())
                issuer = found.get("issuer")
            except (ValueError, AttributeError):
                return response
            if not isinstance(issuer, str) or issuer.rstrip("/") == origin or not issuer.startswith(origin + "/"):
                return response
            import httpx2

            self.legacy_issuer = issuer
            return httpx2.Response(200, json={**found, "issuer": origin}, request=response.request)

        async def _initialize(self) -> None:
            """The tokens kept, with the metadata of the server that issued them (refreshed there, whatever the
            MCP server's origin); a client of mcp.json's (registered by hand, or a workload's) never registered."""
            await super()._initialize()
            kept = storage._read().get("metadata")
            if kept and self.context.current_tokens is not None:
                self.context.oauth_metadata = OAuthMetadata.model_validate(kept)
            if oauth.get("clientId") or oauth.get("identityTokenFile"):
                self.context.client_info = OAuthClientInformationFull(
                    client_id=oauth.get("clientId") or "(a workload: never sent)",
                    client_secret=oauth.get("clientSecret"),
                    redirect_uris=meta.redirect_uris,
                    token_endpoint_auth_method=_method(self.context, oauth),
                )
            if oauth.get("identityTokenFile"):  # a fresh identity token is its way back, never a refresh
                self.context.can_refresh_token = lambda: False
            if self.context.current_tokens is not None:  # when it expires, as the file says
                self.context.update_token_expiry(self.context.current_tokens)

        async def _perform_authorization(self) -> Any:
            """The sign-in proper (after discovery, scope selection and registration): with the scopes a step-up
            asked for before; a workload with its platform's identity token presents it (RFC 7523's jwt-bearer
            grant); a client with its secret at an authorization server that grants only client credentials signs
            in with those (no browser: the ``mcp`` package's ClientCredentialsOAuthProvider's request); otherwise,
            on a connection, ``again`` decides whether and how."""
            if wanted:
                from mcp.client.auth.utils import union_scopes

                self.context.client_metadata.scope = union_scopes(self.context.client_metadata.scope, wanted)
            found = self.context.oauth_metadata
            _method(self.context, oauth, storage)  # as its metadata says now
            if oauth.get("identityTokenFile"):
                return _federated(self, spec, storage)
            grants = (found.grant_types_supported or []) if found is not None else []
            secret = oauth.get("clientSecret")
            if secret and "client_credentials" in grants and "authorization_code" not in grants:
                from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

                assert found is not None
                url, me = spec.url or "", oauth["clientId"]
                machine = ClientCredentialsOAuthProvider(url, storage, me, secret, issuer=str(found.issuer))
                machine.context = self.context  # what this flow discovered and chose: its token request only
                return await machine._exchange_token_client_credentials()
            return await again(self, super()._perform_authorization)

    # (its grant and response types are the model's defaults: authorization_code and refresh_token, code)
    meta = OAuthClientMetadata(client_name="chatcli", redirect_uris=[redirect_uri], token_endpoint_auth_method="none")
    return Provider(spec.url or "", meta, storage, on_redirect, on_callback, client_metadata_url=document)


def _method(context: Any, oauth: Any, storage: StoredAuth | None = None) -> str:
    """How a client of mcp.json's authenticates at the token endpoint: with its secret as the authorization server's
    metadata offers (HTTP Basic unless it offers only client_secret_post), or none; with ``storage``, set on the
    client and noted there."""
    found = context.oauth_metadata
    offered = (found.token_endpoint_auth_methods_supported if found else None) or ["client_secret_basic"]
    post = "client_secret_basic" not in offered and "client_secret_post" in offered
    method = "none" if not oauth.get("clientSecret") else "client_secret_post" if post else "client_secret_basic"
    if storage is not None and oauth.get("clientId") and context.client_info is not None:
        context.client_info.token_endpoint_auth_method = method
        storage.note("client", f"signed in as the client registered by hand ({oauth['clientId']}, {method})")
    return method


def _federated(provider: Any, spec: ServerSpec, storage: StoredAuth) -> Any:
    """The token request of a workload (SEP-1933): its platform's identity token as the grant (RFC 7523 2.1), for
    this server (``resource``), with the client's own authentication where mcp.json names one. The token is read
    afresh from the file mcp.json names (it rotates): a JWT, bounded; else ``LoginRefused`` saying why."""
    import httpx2
    from mcp.shared.auth import JWT_BEARER_GRANT_TYPE

    from chatcli.paths import read_bounded

    path = Path(spec.oauth["identityTokenFile"]).expanduser()
    try:  # (a platform's token file is often a link: Kubernetes' projected ones are)
        token = read_bounded(path, 64 * 1024, follow=True).decode("ascii").strip()
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise LoginRefused(f"cannot read the identity token in {path}: {why}") from None
    if token.count(".") != 2 or not re.fullmatch(r"[A-Za-z0-9_.-]+", token):
        raise LoginRefused(f"{path} holds no JWT (the platform's identity token chat presents)")
    context, oauth = provider.context, spec.oauth
    asked = {"grant_type": JWT_BEARER_GRANT_TYPE, "assertion": token}
    asked |= {"resource": context.get_resource_url(), "scope": context.client_metadata.scope}
    asked = {key: value for key, value in {**asked, "client_id": oauth.get("clientId")}.items() if value}
    asked, headers = context.prepare_token_auth(asked, {"Content-Type": "application/x-www-form-urlencoded"})
    storage.note("identity", f"the workload's identity token ({oauth['identityTokenFile']}) presented")
    return httpx2.Request("POST", provider._get_token_endpoint(), data=asked, headers=headers)


def _bounded(base: type, spec: ServerSpec, storage: StoredAuth, heard: Callable[[Any], None] = lambda _: None) -> type:
    """``base`` (an ``mcp`` OAuth client) whose flow's own requests (the servers' metadata, the registration, the
    tokens) have their answers bounded as each is read (chatcli.providers.bounded); the answer to the MCP request
    itself goes on as it came, a 403 there noted as a step-up (``stepping_up``: mcp's flow signs in next). One past
    the limit refuses the sign-in, saying why. Its log (a refused refresh as a warning, a failed flow with a
    traceback) is not the user's: what failed is said once, in chat's own line. DPoP, and tokens kept to the
    authorization server that issued them, as ``_Guarded`` has them (``heard``: told where it moved)."""
    import logging

    logging.getLogger("mcp.client.auth").setLevel(logging.CRITICAL + 1)  # (its log is not the user's)
    return type("Bounded", (_Guarded, base), {"spec": spec, "storage": storage, "heard": staticmethod(heard)})


class _Guarded:
    """What chat adds to an ``mcp`` OAuth client's flow (``_bounded``) for ``spec``, whose tokens ``storage`` keeps.

    Where the authorization server's metadata offers DPoP (RFC 9449, ES256), the MCP server's requires it (RFC 9728's
    ``dpop_bound_access_tokens_required``) or its 401 asks for it, a key of the server's own is made and kept with its
    tokens: every token request and every request with a token bound to it carries a proof, answering a
    ``DPoP-Nonce`` challenge once. Tokens go only to the authorization server that issued them (its metadata is kept
    with them): one the MCP server's metadata no longer names is forgotten, and ``LoginNeeded`` (told to ``heard``)
    says where it moved."""

    spec: ServerSpec
    storage: StoredAuth
    heard: Callable[[Any], None]
    stepping_up = False
    dpop: _Proving | None | bool = False  # False: not read from the file yet
    offered = False  # the authorization server's metadata offers DPoP

    async def _heard(self, _request: Any, response: Any) -> Any:
        """The answer to one of the flow's own requests, as the flow reads it."""
        return response

    def _select_authorization_server(self, advertised: list[str]) -> str:
        from mcp.client.auth.utils import issuers_match

        chosen: str = super()._select_authorization_server(advertised)  # type: ignore[misc]
        kept, own = self.storage.issuer(), self.spec.oauth.get("clientId")
        if kept and not issuers_match(kept, chosen):  # what it issued is forgotten; a client of mcp.json's is its
            moved = f"its authorization server moved to {chosen}"
            binding = {"metadata": {"issuer": kept}} if own else {}
            self.storage._write({"moved": chosen, "notes": {"moved": moved}, **binding})
            exc = LoginNeeded(self.spec.name, moved)
            if own:
                exc.detail = f"{moved}, and the clientId in mcp.json is {kept}'s: put the client registered there in "
                exc.detail += f"mcp.json, then run chat mcp logout {self.spec.name}"
            self.heard(exc)
            raise exc
        return chosen

    def _proving(self, why: str | None = None) -> _Proving | None:
        """The DPoP key in use (read from the file once), or one made now saying ``why``; None: none."""
        if self.dpop is False:
            kept = self.storage._read().get("dpop")
            self.dpop = _Proving(kept) if isinstance(kept, dict) else None
        if self.dpop is None and why:
            self.dpop = _Proving({"why": why})
            self.storage._update(dpop=self.dpop.kept)
            self.storage.note("dpop", f"DPoP ({why})")
        return self.dpop if isinstance(self.dpop, _Proving) else None

    def _proved(self, request: Any, own: bool) -> Any:
        """``request`` with its DPoP proof, where one is due (a token request; a request with a bound token)."""
        asking = own and request.method == "POST" and b"grant_type=" in request.content
        proving = self._proving("its authorization server offers it" if asking and self.offered else None)
        token = None if own else request.headers.get("Authorization", "").partition(" ")[2]
        if proving is None or not (asking or (token and proving.kept.get("bound"))):
            return request
        if token:
            request.headers["Authorization"] = f"DPoP {token}"
        request.headers["DPoP"] = proving.proof(request, token)
        return request

    async def _issued(self, request: Any, response: Any) -> Any:
        """One of the flow's own answers as chat reads it first: an authorization server's metadata, whether it
        offers DPoP (ES256); the protected resource's, whether it requires DPoP-bound tokens; a token response, its
        issuer's metadata kept with it, a DPoP-bound token's type read as mcp reads one (Bearer) and its binding
        kept."""
        import httpx2

        path, found = request.url.path, getattr(getattr(self, "context", None), "oauth_metadata", None)
        if response.status_code == 200 and "/.well-known/" in path:
            with contextlib.suppress(ValueError, AttributeError):
                said = json.loads(await response.aread())
                if "protected-resource" not in path:
                    offered = said.get("dpop_signing_alg_values_supported")
                    self.offered = isinstance(offered, list) and "ES256" in offered
                elif said.get("dpop_bound_access_tokens_required") is True:
                    self._proving("its resource metadata requires it")
        if response.status_code != 200 or b"grant_type=" not in request.content:
            return response
        if found is not None:
            self.storage._update(metadata=found.model_dump(mode="json", exclude_none=True))
        proving = self._proving()
        if proving is None:
            return response
        try:
            given = json.loads(await response.aread())
            bound = str(given.get("token_type")).lower() == "dpop"
        except (ValueError, AttributeError):
            return response
        self.storage._update(dpop={**proving.kept, "bound": bound})
        proving.kept["bound"] = bound
        said = "tokens bound to chat's key (ES256)" if bound else "its tokens came unbound"
        self.storage.note("dpop", f"DPoP ({proving.kept['why']}): {said}")
        return httpx2.Response(200, json={**given, "token_type": "Bearer"}, request=response.request)

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        from chatcli.providers.bounded import Refused, asking_for_what_chat_decodes, bounding

        flow = super().async_auth_flow(request)  # type: ignore[misc]
        try:
            outgoing = await flow.__anext__()
            while True:
                own = outgoing is not request
                if own:
                    await asking_for_what_chat_decodes(outgoing)
                response = yield self._proved(outgoing, own)
                proving = self._proving()
                if proving is not None and proving.challenged(outgoing, response):  # RFC 9449 8, 9: once
                    self.storage.note("nonce", "a DPoP-Nonce challenge answered")
                    response = yield self._proved(outgoing, own)
                if own:
                    await bounding()(response)
                    response = await self._heard(outgoing, await self._issued(outgoing, response))
                else:
                    self.stepping_up = response.status_code == 403
                    if re.search(r"\bDPoP\b", response.headers.get("WWW-Authenticate", "")):
                        self._proving("its 401 asked for it")
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return
        except Refused as exc:
            self.heard(refused := LoginRefused(str(exc)))
            raise refused from exc
        except LoginRefused as exc:  # (mcp's transport says only that the connection closed)
            self.heard(exc)
            raise
        finally:
            await flow.aclose()


class _Proving:
    """A server's DPoP key (RFC 9449: ES256, made with ``cryptography``, proofs signed with PyJWT) as it is kept
    (``kept``: the private JWK, why DPoP is used, whether the tokens are bound) and the nonces its servers gave."""

    def __init__(self, kept: dict[str, Any]):
        from cryptography.hazmat.primitives.asymmetric import ec
        from jwt.algorithms import ECAlgorithm

        if not isinstance(kept.get("key"), dict):
            kept = {**kept, "key": ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)}
        self.kept, self.key = kept, cast(Any, ECAlgorithm.from_jwk(kept["key"]))
        self.public = {k: kept["key"][k] for k in ("kty", "crv", "x", "y")}
        self.nonces: dict[str, str] = {}  # by the URL they were given for: each server's apart

    def proof(self, request: Any, token: str | None) -> str:
        """The DPoP proof of ``request`` (htm, htu, iat, jti; ath for a ``token``; its URL's nonce if any)."""
        import base64
        import hashlib
        import secrets

        import jwt

        url = request.url
        claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": request.method, "iat": int(time.time())}
        claims["htu"] = f"{url.scheme}://{url.netloc.decode()}{url.path}"
        if nonce := self.nonces.get(claims["htu"]):
            claims["nonce"] = nonce
        if token:
            claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
        return jwt.encode(claims, self.key, "ES256", headers={"typ": "dpop+jwt", "jwk": self.public})

    def challenged(self, request: Any, response: Any) -> bool:
        """Whether ``response`` asks for ``request`` again with the nonce it gives (kept for its URL, as a nonce any
        answer gives is)."""
        nonce, url = response.headers.get("DPoP-Nonce"), request.url
        if not nonce:
            return False
        where = f"{url.scheme}://{url.netloc.decode()}{url.path}"
        was, self.nonces[where] = self.nonces.get(where), nonce
        return response.status_code in (400, 401) and nonce != was and "DPoP" in request.headers


def _machine_provider(spec: ServerSpec, storage: StoredAuth) -> Any:
    """The ``mcp`` package's provider for a client that signs in on its own with no one at a browser, or None: a
    signed JWT's client credentials (privateKeyPem: PrivateKeyJWTOAuthProvider), or cross-app access (idpIdToken:
    IdentityAssertionOAuthProvider, the ID-JAG asked of the identity provider first: ``_id_jag``); bounded as every
    sign-in is. (A client with only its secret signs in with client credentials where its authorization server grants
    only those: ``_provider``.)"""
    import warnings

    oauth, url = spec.oauth, spec.url or ""
    with warnings.catch_warnings():  # its issuer: the one the MCP server names (the suite's context has none)
        warnings.simplefilter("ignore")
        if oauth.get("privateKeyPem"):
            from mcp.client.auth.extensions.client_credentials import PrivateKeyJWTOAuthProvider, SignedJWTParameters

            me, key, algorithm = oauth["clientId"], oauth["privateKeyPem"], oauth.get("signingAlgorithm", "RS256")
            signed = SignedJWTParameters(issuer=me, subject=me, signing_key=key, signing_algorithm=algorithm)
            jwt = _bounded(PrivateKeyJWTOAuthProvider, spec, storage)
            return jwt(url, storage, me, signed.create_assertion_provider())
    return _identity(spec, storage) if oauth.get("idpIdToken") else None


def _identity(spec: ServerSpec, storage: StoredAuth) -> Any:
    """Cross-app access (SEP-990): the identity provider's ID token (idpIdToken) exchanged at its token endpoint
    for an ID-JAG naming the MCP server's authorization server and resource (RFC 8693), which that server's token
    endpoint takes for an access token (RFC 7523's jwt-bearer grant, the client authenticated with its secret:
    the ``mcp`` package's IdentityAssertionOAuthProvider). The authorization server is the one the MCP server's
    protected resource metadata names, found first."""
    from mcp.client.auth import utils
    from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider

    oauth, url = spec.oauth, spec.url or ""

    class Identity(_bounded(IdentityAssertionOAuthProvider, spec, storage)):  # type: ignore[misc]
        _issuer: str

        async def _auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
            if self._issuer == "pending":  # which authorization server: the MCP server's metadata says
                for where in utils.build_protected_resource_metadata_discovery_urls(None, url):
                    asked = utils.create_oauth_metadata_request(where)
                    found = await utils.handle_protected_resource_response((yield asked))
                    if found is not None and found.authorization_servers:
                        self._issuer = str(found.authorization_servers[0]).rstrip("/")
                        self._client.issuer = self._issuer
                        break
                else:
                    raise LoginRefused(f"{url} names no authorization server (protected resource metadata)")
            flow = super()._auth_flow(request)
            try:
                outgoing = await flow.__anext__()
                while True:
                    outgoing = await flow.asend((yield outgoing))
            except StopAsyncIteration:
                return
            finally:
                await flow.aclose()

    exchange, basic = functools.partial(_id_jag, spec), "client_secret_basic"
    return Identity(url, storage, oauth["clientId"], oauth["clientSecret"], "pending", exchange, None, basic)


async def _id_jag(spec: ServerSpec, audience: str, resource: str) -> str:
    """The ID-JAG the identity provider issues for ``spec``'s ID token (RFC 8693 token exchange at
    idpTokenEndpoint, as idpClientId), for the authorization server ``audience`` and the MCP server ``resource``."""
    from mcp.shared._httpx_utils import create_mcp_http_client

    from chatcli.providers.bounded import bounding

    oauth, urn = spec.oauth, "urn:ietf:params:oauth:"  # (RFC 8693's names)
    asked = {"grant_type": f"{urn}grant-type:token-exchange", "requested_token_type": f"{urn}token-type:id-jag"}
    asked |= {"subject_token": oauth["idpIdToken"], "subject_token_type": f"{urn}token-type:id_token"}
    asked |= {"audience": audience, "resource": resource, "client_id": oauth["idpClientId"]}
    async with create_mcp_http_client() as client:
        response = await client.post(oauth["idpTokenEndpoint"], data=asked)
        await bounding()(response)
    try:
        token = response.json().get("access_token") if response.status_code == 200 else None
    except (ValueError, AttributeError):  # not JSON, or not an object
        token = None
    if not isinstance(token, str) or not token:
        who = f"the identity provider {oauth['idpIssuer']}"
        raise LoginRefused(f"{who} did not exchange the ID token (HTTP {response.status_code})")
    return token


def auth_for(spec: ServerSpec, data: Path | None = None, heard: Callable[[LoginNeeded], None] = lambda _: None) -> Any:
    """The httpx auth of a server chat is logged in to (its token, refreshed when due), or None; ``data``: the data
    directory whose tokens these are (this process's by default: only there may a user at a terminal sign in, its
    stdin and stderr a terminal); ``heard``: told the ``LoginNeeded`` a request ends with (mcp's transport says only
    that the connection closed)."""
    storage = StoredAuth(spec, data)
    on_its_own = any(spec.oauth.get(key) for key in ("clientSecret", "privateKeyPem", "identityTokenFile"))
    if not spec.url or not (on_its_own or storage.has_tokens()):
        if moved := spec.url and storage._read().get("moved"):
            heard(LoginNeeded(spec.name, f"its authorization server moved to {moved}"))
        return None
    again = _again(spec, storage, data is None and os.isatty(0) and os.isatty(2), heard)
    signed_in = _provider(spec, storage, "http://127.0.0.1/callback", None, None, again=again, heard=heard)
    return _machine_provider(spec, storage) or signed_in


def _again(
    spec: ServerSpec, storage: StoredAuth, here: bool, heard: Callable[[LoginNeeded], None] = lambda _: None
) -> Callable[[Any, Callable[[], Any]], Any]:
    """How a connection signs in again when its token no longer does (``provider``: the mcp client's, its scope
    chosen; a step-up only: an expired login is ``LoginNeeded``, told to ``heard``): at a terminal (``here``) as
    ``chat mcp login`` does, the address shown on stderr and a browser opened, the redirect awaited on a listener of
    its own; elsewhere ``LoginNeeded`` naming the login to run, which then asks for the scopes wanted. After
    ``MAX_STEP_UPS`` sign-ins in this process, none more."""
    import sys

    def needed(why: str = "needs a login") -> LoginNeeded:
        exc = LoginNeeded(spec.name, why)
        heard(exc)
        return exc

    async def sign_in(provider: Any, proceed: Callable[[], Any]) -> Any:
        context = provider.context
        if not storage.has_tokens():  # a client of mcp.json's whose server wants a user's sign-in
            raise needed()
        if not provider.stepping_up:  # a 401: the login expired, or its refresh was refused
            raise needed("its login expired or was refused")
        scope = context.client_metadata.scope
        more = f"more access (scope {scope})" if scope else "more access"
        if not here:
            storage.want(scope)
            raise needed(f"it asks for {more}")
        _step_ups[storage.path] = _step_ups.get(storage.path, 0) + 1
        if _step_ups[storage.path] > MAX_STEP_UPS:
            raise needed(f"it still asks for {more} after {MAX_STEP_UPS} sign-ins; not asked again")
        saved = (context.client_metadata.redirect_uris, context.redirect_handler, context.callback_handler)
        heading = f"\nMCP server {spec.name} asks for {more}: open this address to sign in"
        async with _Callback(lambda text: say(sys.stderr, text + "\n"), heading) as listener:
            context.client_metadata.redirect_uris = [listener.uri]  # a loopback port of its own (RFC 8252 7.3)
            context.redirect_handler, context.callback_handler = listener.redirect, listener.wait
            try:
                return await proceed()  # (the token request it returns is built with that redirect URI)
            finally:
                context.client_metadata.redirect_uris, context.redirect_handler, context.callback_handler = saved

    return sign_in


async def login(
    spec: ServerSpec, say: Callable[[str], None], browser: bool = True, document: str | None = None
) -> list[str]:
    """Sign in to ``spec``: its authorization URL shown (and opened in a browser when one is at hand), the redirect
    awaited on 127.0.0.1; the tokens kept. The server's tool names, as the signed-in session lists them."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    storage = _SigningIn(spec)  # a sign-in anew, registered for this redirect URI; what was kept stays meanwhile
    async with _Callback(say, f"open this address to sign in to {spec.name}", browser) as listener:

        async def answered() -> Any:
            """The browser's answer; the issuer it names (RFC 9207) read as the metadata's was (``_heard``)."""
            result = await listener.wait()
            legacy, found = getattr(provider, "legacy_issuer", None), provider.context.oauth_metadata
            if legacy is not None and result.iss == legacy and found is not None:
                result.iss = str(found.issuer)
            return result

        wanted = StoredAuth(spec).wanted()  # what a step-up asked for where nobody could sign in
        signing_in = _provider(spec, storage, listener.uri, listener.redirect, answered, document, wanted=wanted)
        provider = _machine_provider(spec, storage) or signing_in
        try:
            async with create_mcp_http_client(headers=dict(spec.headers) or None, auth=provider) as client:
                async with Client(streamable_http_client(spec.url or "", http_client=client), cache=None) as session:
                    listed = await session.list_tools()
        except Exception as exc:
            if provider.stepping_up and storage.has_tokens():  # signed in, and signed in again for more: refused
                scope = getattr(getattr(getattr(provider, "context", None), "client_metadata", None), "scope", None)
                more = f"it asks for more access (scope {scope}) than the authorization server grants"
                raise LoginRefused(f"signed in, but the server still refuses it: {more}") from exc
            raise
    if not storage.has_tokens():
        raise LoginRefused("the server answered without asking for a login: it needs none")
    storage.keep()
    return [tool.name for tool in listed.tools]


class _SigningIn(StoredAuth):
    """A sign-in's registration and tokens, held in memory until it succeeds (``keep``): until then every other
    run goes on with the tokens kept before, and a sign-in that never ends changes nothing."""

    def __init__(self, spec: ServerSpec):
        super().__init__(spec)
        bound = StoredAuth(spec).issuer() if spec.oauth.get("clientId") else None  # a client of mcp.json's is its
        self.held: dict[str, Any] = {"metadata": {"issuer": bound}} if bound else {}

    def _read(self) -> dict[str, Any]:
        return dict(self.held)

    def _write(self, data: dict[str, Any]) -> None:
        self.held = {**data, "url": self.url}

    def keep(self) -> None:
        """The sign-in succeeded: its tokens replace those kept, at once."""
        StoredAuth._write(self, self.held)


class _Callback:
    """A one-shot HTTP listener on 127.0.0.1 for the authorization server's redirect (``GET /callback``), while
    entered; ``redirect`` shows the sign-in address (with ``say``, after ``heading``) and opens it in a browser."""

    server: asyncio.Server
    answer: asyncio.Future[Any]  # mcp's AuthorizationCodeResult
    uri: str
    state: str | None = None  # the sign-in address's: an answer without it is not heard

    def __init__(self, say: Callable[[str], None], heading: str, browser: bool = True):
        self.say, self.heading, self.browser = say, heading, browser

    async def __aenter__(self) -> _Callback:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.uri = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/callback"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.server.close()

    async def redirect(self, url: str) -> None:
        """A sign-in at ``url`` begins: the answer heard next is the one with its state (a step-up signs in again)."""
        self.state = parse_qs(urlsplit(url).query).get("state", [None])[0]
        self.answer = asyncio.get_running_loop().create_future()
        self.say(f"{self.heading}:\n  {url}")
        if self.browser:
            await asyncio.to_thread(open_in_browser, url)  # where a desktop's browser is at hand
        self.say(f"waiting for the sign-in to come back here ({LOGIN_WAIT / 60:g} minutes at most; Ctrl-C stops)")

    async def wait(self) -> Any:
        """The browser's answer: the code, the state and the issuer (RFC 9207), as mcp's AuthorizationCodeResult."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.answer), LOGIN_WAIT)
        except asyncio.TimeoutError:
            raise LoginTimedOut(f"no answer from the browser within {LOGIN_WAIT:g} s") from None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.closing(writer), contextlib.suppress(OSError, asyncio.TimeoutError, UnicodeDecodeError):
            line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            target = line.split(" ")[1] if line.count(" ") >= 2 else ""
            query = parse_qs(urlsplit(target).query)
            code, state, error, issuer = (query.get(key, [None])[0] for key in ("code", "state", "error", "iss"))
            status, text = 200, "Signed in: you can close this tab." if code else "Sign-in refused."
            if urlsplit(target).path != "/callback" or not (code or error):
                status, text = 404, "Not the sign-in callback."
            elif self.state is None or state != self.state:  # 127.0.0.1 is every local user's: not this sign-in's
                status, text = 400, "Not this sign-in."
            body = text.encode()
            head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            writer.write(head.encode() + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
            if status == 200 and not self.answer.done():
                if code:
                    from mcp.client.auth import AuthorizationCodeResult

                    self.answer.set_result(AuthorizationCodeResult(code=code, state=state, iss=issuer))
                else:
                    self.answer.set_exception(LoginRefused(f"the authorization server said {error}"))


class LoginTimedOut(Exception):
    """The browser never came back."""


class LoginRefused(Exception):
    """The authorization server refused (the user said no, or an error), or chat could not ask it."""

    detail = property(str)  # why, as said (chatcli.tools.mcp.transport.describe reads a failure's detail)
