"""A server that answers a call with 403 ``insufficient_scope`` (a step-up: the call needs more access than the
login granted). At a terminal the user is shown the sign-in address, as ``chat mcp login`` shows it, and the
browser's answer comes back to chat; where nobody can sign in, one line names the login to run, and that login
then asks for the scopes wanted; after ``MAX_STEP_UPS`` sign-ins chat stops asking. (The conformance suite's
``auth/scope-step-up`` and ``auth/scope-retry-limit`` run it end to end against its server: .ci/mcp-conformance.)
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest

from chatcli.tools.mcp import oauth
from chatcli.tools.mcp.config import ServerSpec

SPEC = ServerSpec(name="notes", url="http://127.0.0.1:9/mcp")


@pytest.fixture
def kept(tmp_path, monkeypatch):
    """A login kept for the server (its token file), in a data directory of the test's own."""
    monkeypatch.setattr(oauth, "data_dir", lambda: tmp_path)
    monkeypatch.setattr(oauth, "_step_ups", {})
    storage = oauth.StoredAuth(SPEC)
    storage._write({"tokens": {"access_token": "t", "token_type": "Bearer", "scope": "read"}})
    return storage


def stepping_up(scope: str = "read write") -> Any:
    metadata = SimpleNamespace(scope=scope, redirect_uris=["http://127.0.0.1/callback"])
    context = SimpleNamespace(client_metadata=metadata, redirect_handler=None, callback_handler=None)
    return SimpleNamespace(context=context, stepping_up=True)


def test_where_nobody_can_sign_in_one_line_names_the_login_and_the_login_asks_for_those_scopes(kept):
    heard: list[oauth.LoginNeeded] = []  # the connection's: what the call's failure says, not a closed connection
    again = oauth._again(SPEC, kept, here=False, heard=heard.append)
    with pytest.raises(oauth.LoginNeeded) as needed:
        asyncio.run(again(stepping_up(), lambda: pytest.fail("no sign-in where nobody can sign in")))
    assert heard == [needed.value]
    said = str(needed.value)
    assert said == "it asks for more access (scope read write): run chat mcp login notes"
    assert "\n" not in said
    assert oauth.StoredAuth(SPEC).wanted() == "read write"  # what `chat mcp login notes` asks for then


def test_an_expired_login_is_not_a_step_up(kept):
    provider = stepping_up()
    provider.stepping_up = False
    with pytest.raises(oauth.LoginNeeded, match="its login expired or was refused: run chat mcp login notes"):
        asyncio.run(oauth._again(SPEC, kept, here=True)(provider, lambda: pytest.fail("no sign-in")))


def test_at_a_terminal_the_user_signs_in_again_and_after_a_few_tries_chat_stops_asking(kept, capsys, monkeypatch):
    opened: list[str] = []

    def browser(url: str) -> bool:  # the user's browser: the authorization server sends it back to chat at once
        opened.append(url)
        query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
        back = f"{query['redirect_uri']}?code=the-code&state={query['state']}"
        with urllib.request.urlopen(back.replace("%3A", ":").replace("%2F", "/"), timeout=10) as page:
            page.read()
        return True

    monkeypatch.setattr(oauth, "open_in_browser", browser)

    async def sign_in(provider: Any) -> Any:
        context = provider.context

        async def proceed() -> Any:  # mcp's authorization-code grant: the redirect, then the browser's answer
            uri = context.client_metadata.redirect_uris[0]
            await context.redirect_handler(f"https://auth.example/authorize?redirect_uri={uri}&state=s-1&scope=x")
            return (await context.callback_handler()).code, uri

        return await oauth._again(SPEC, kept, here=True)(provider, proceed)

    provider = stepping_up()
    code, uri = asyncio.run(sign_in(provider))
    assert code == "the-code" and uri.startswith("http://127.0.0.1:") and uri != "http://127.0.0.1/callback"
    shown = capsys.readouterr().err
    assert (
        "MCP server notes asks for more access (scope read write): open this address to sign in:\n  https://" in shown
    )
    assert len(opened) == 1
    assert provider.context.client_metadata.redirect_uris == ["http://127.0.0.1/callback"]  # as it was

    for _ in range(oauth.MAX_STEP_UPS - 1):
        asyncio.run(sign_in(stepping_up()))
    with pytest.raises(oauth.LoginNeeded) as stopped:
        asyncio.run(sign_in(stepping_up()))
    assert f"after {oauth.MAX_STEP_UPS} sign-ins; not asked again: run chat mcp login notes" in str(stopped.value)
    assert len(opened) == oauth.MAX_STEP_UPS


def test_a_successful_login_forgets_the_scopes_wanted(kept):
    kept.want("read write")
    signing = oauth._SigningIn(SPEC)
    signing.held = {"tokens": {"access_token": "new", "token_type": "Bearer"}}
    signing.keep()
    assert oauth.StoredAuth(SPEC).wanted() is None
    assert json.loads(kept.path.read_text())["tokens"]["access_token"] == "new"
