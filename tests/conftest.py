"""Shared fixtures: every test runs with its own HOME, XDG dirs and a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakeserver import FakeOpenAIServer

_OUR_VARS = ("OPENAI_", "CHATCLI_", "NO_COLOR", "XDG_")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG dirs at a temp dir and drop any real keys or endpoints."""
    for name in list(os.environ):
        if name.startswith(_OUR_VARS):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def server():
    """A fake OpenAI-compatible server on 127.0.0.1 for the length of the test."""
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def chat_env(server: FakeOpenAIServer, isolated_env: Path) -> dict[str, str]:
    """Environment for running the installed ``chat`` against the fake server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_VARS)}
    env.update(
        HOME=str(isolated_env),
        XDG_CONFIG_HOME=str(isolated_env / ".config"),
        XDG_DATA_HOME=str(isolated_env / ".local" / "share"),
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="sk-test-SECRET-0123456789",
        CHATCLI_MODEL="gpt-fake",
        CHATCLI_TIMEOUT="5",
        CHATCLI_MAX_RETRIES="0",
    )
    return env
