"""What MCP's authorization drafts after 2026-07-28 ask of a client, against servers that speak them as their SEPs and
RFCs are written (tests/mcp/authorizing.py, by hand, on 127.0.0.1 from a thread of this process): DPoP-bound tokens
(SEP-1932, RFC 9449) with and without a nonce challenge; a client registered by hand, authenticated as the
authorization server's metadata says; an authorization server that moved, which never hears the old one's tokens;
a workload's identity token presented as the grant (SEP-1933, RFC 7523). `chat mcp login` and `chat tools` say, in
one line, what the server asked for and what chat did."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat
from tests.test_mcp import write_servers
from tests.test_mcp_oauth import expire, login, stored, whoami

sys.path.insert(0, str(Path(__file__).parent / "mcp"))
from authorizing import JWT_BEARER, Authorizing  # noqa: E402


@pytest.fixture
def served() -> Iterator[list[Authorizing]]:
    made: list[Authorizing] = []
    yield made
    for server in made:
        server.close()


def serve(made: list[Authorizing], chat_env: dict[str, str], oauth: dict | None = None, **asked) -> Authorizing:
    server = Authorizing(**asked)
    made.append(server)
    path = write_servers(chat_env, {"guarded": {"url": server.url, **({"oauth": oauth} if oauth else {})}})
    path.chmod(0o600)
    return server


def sign_in_line(chat_env: dict[str, str]) -> str:
    listed = chat(chat_env, "tools")
    [line] = [line for line in listed.out.splitlines() if line.startswith("  sign-in: ")]
    return line


def tokens(server: Authorizing, name: str = "as1") -> list[dict[str, str]]:
    return [form for who, path, _headers, form in server.heard if who == name and path.endswith("/token")]


WHY = {
    "metadata": "its authorization server offers it",
    "challenge": "its 401 asked for it",
    "required": "its resource metadata requires it",  # RFC 9728's dpop_bound_access_tokens_required
}


@pytest.mark.parametrize(
    "dpop, nonce",
    [("metadata", True), ("challenge", False), ("required", False)],
    ids=["offered+nonce", "asked", "required"],
)
def test_dpop_bound_tokens_carry_a_proof_at_the_token_endpoint_and_with_every_call(
    server, chat_env, served, dpop, nonce
):
    guarded = serve(served, chat_env, dpop=dpop, nonce=nonce)
    signed = login(chat_env)
    assert signed.returncode == 0 and "logged in to guarded: 1 tool (whoami)" in signed.stderr, signed.stderr
    assert guarded.bad == [] and len(tokens(guarded)) == 1 + nonce  # the nonce challenge answered once
    assert guarded.challenges == (["as1", "mcp"] if nonce else [])
    kept = json.loads(stored(chat_env).read_text())
    token = kept["tokens"]["access_token"]
    assert guarded.tokens[token]["key"] is not None, "the token is bound to chat's key"
    assert kept["dpop"]["key"]["crv"] == "P-256" and "d" in kept["dpop"]["key"]  # kept as the tokens are: 0600
    assert stored(chat_env).stat().st_mode & 0o777 == 0o600
    why = WHY[dpop]
    assert f"guarded: DPoP ({why}): tokens bound to chat's key (ES256)" in signed.stderr

    # A call in another run: the bound token as DPoP, its proof by the same key (its ath the token's hash).
    server.queue(tool_calls(("whoami", {})), Reply("done"))
    run = chat(chat_env, "--yes", "who am I?")
    assert run.code == 0 and whoami(server, run) == f"signed in with a token ending {token[-4:]}", run
    expire(chat_env)  # refreshed with a proof, the new token bound to the same key
    assert "whoami" in chat(chat_env, "tools", "--refresh").out
    assert [form["grant_type"] for form in tokens(guarded)][-1] == "refresh_token" and guarded.bad == []
    assert sign_in_line(chat_env).startswith(f"  sign-in: DPoP ({why}): tokens bound to chat's key (ES256)")


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_client_registered_by_hand_signs_in_as_its_authorization_server_says(chat_env, served, method):
    guarded = serve(
        served, chat_env, {"clientId": "chat-cli", "clientSecret": "s3cret"}, clients={"chat-cli": "s3cret"},
        methods=(method,),
    )  # fmt: skip
    signed = login(chat_env)
    assert signed.returncode == 0 and "logged in to guarded: 1 tool (whoami)" in signed.stderr, signed.stderr
    assert not [path for _, path, _, _ in guarded.heard if path.endswith("/register")]
    [(_, _, headers, form)] = [entry for entry in guarded.heard if entry[1].endswith("/token")]
    assert form["grant_type"] == "authorization_code"
    assert ("client_secret" in form) == (method == "client_secret_post")
    assert ("Authorization" in headers) == (method == "client_secret_basic")
    line = f"guarded: signed in as the client registered by hand (chat-cli, {method})"
    assert line in signed.stderr and "s3cret" not in signed.stderr + stored(chat_env).read_text()
    assert sign_in_line(chat_env) == line.replace("guarded:", "  sign-in:")


def test_an_authorization_server_that_moved_never_hears_the_old_tokens_and_the_login_signs_in_there(chat_env, served):
    guarded = serve(served, chat_env)
    assert login(chat_env).returncode == 0
    old = json.loads(stored(chat_env).read_text())["tokens"]
    assert json.loads(stored(chat_env).read_text())["metadata"]["issuer"] == guarded.issuer("as1")
    guarded.move("as2")
    guarded.refusing_refresh.add("as1")
    expire(chat_env)  # refreshed where it was issued, refused there; the resource now names as2
    moved = chat(chat_env, "tools", "--refresh")
    said = f"its authorization server moved to {guarded.issuer('as2')}: run chat mcp login guarded"
    assert said in moved.out + moved.err and "whoami" not in moved.out, moved
    assert [form["refresh_token"] for form in tokens(guarded)[1:]] == [old["refresh_token"]]  # at as1
    heard_by_as2 = json.dumps([entry for entry in guarded.heard if entry[0] == "as2"])
    assert old["refresh_token"] not in heard_by_as2 and old["access_token"] not in heard_by_as2
    assert "tokens" not in json.loads(stored(chat_env).read_text())  # forgotten
    assert sign_in_line(chat_env) == f"  sign-in: its authorization server moved to {guarded.issuer('as2')}"

    signed = login(chat_env)  # signs in anew where it moved
    assert signed.returncode == 0 and "logged in to guarded: 1 tool (whoami)" in signed.stderr, signed.stderr
    assert [form["grant_type"] for form in tokens(guarded, "as2")] == ["authorization_code"]
    assert json.loads(stored(chat_env).read_text())["metadata"]["issuer"] == guarded.issuer("as2")
    assert "whoami" in chat(chat_env, "tools", "--refresh").out


def test_a_client_registered_by_hand_is_its_authorization_server_s_alone(chat_env, served):
    guarded = serve(
        served, chat_env, {"clientId": "chat-cli", "clientSecret": "s3cret"}, clients={"chat-cli": "s3cret"},
        grants=("client_credentials",),
    )  # fmt: skip
    assert "whoami" in chat(chat_env, "tools", "--refresh").out  # signed in on its own, at as1
    guarded.move("as2")
    expire(chat_env)
    moved = chat(chat_env, "tools", "--refresh")
    assert "and the clientId in mcp.json is" in moved.out + moved.err, moved
    again = chat(chat_env, "tools", "--refresh")  # never signed in there with as1's secret, however often asked
    assert "and the clientId in mcp.json is" in again.out + again.err, again
    assert tokens(guarded, "as2") == []


def test_a_workload_presents_its_platform_s_identity_token_read_afresh(chat_env, served, tmp_path):
    platform = tmp_path / "token"
    platform.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c2lnbmVk\n")
    guarded = serve(
        served, chat_env, {"identityTokenFile": str(platform)}, clients={}, grants=(JWT_BEARER,),
        identity=platform.read_text().strip(),
    )  # fmt: skip
    listed = chat(chat_env, "tools", "--refresh")  # no login: it signs in on its own
    assert "whoami" in listed.out, listed
    [form] = tokens(guarded)
    assert form == {"grant_type": JWT_BEARER, "assertion": guarded.identity, "resource": guarded.url}
    assert sign_in_line(chat_env) == f"  sign-in: the workload's identity token ({platform}) presented"
    assert guarded.identity not in stored(chat_env).read_text()

    guarded.identity = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCIsIm4iOjJ9.c2lnbmVkMg"  # the platform rotated it
    platform.write_text(guarded.identity)
    expire(chat_env)  # never refreshed: the token of now presented
    assert "whoami" in chat(chat_env, "tools", "--refresh").out
    assert [form["assertion"] for form in tokens(guarded)] == [form["assertion"], guarded.identity]

    platform.write_text("not a token")
    expire(chat_env)
    refused = chat(chat_env, "tools", "--refresh")
    assert f"{platform} holds no JWT" in refused.out + refused.err, refused
