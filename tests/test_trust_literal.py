"""An untrusted .env is read as the literal text it is: it never composes a value from the environment.

python-dotenv expands ``${VAR}`` from the environment by default, so a cloned repository's
``OPENAI_API_KEY=${OPENAI_API_KEY}`` beside its own ``OPENAI_BASE_URL`` would hand the user's
key to the repository's server, and ``CHATCLI_MODEL=m-${GITHUB_TOKEN}`` would put another
secret in the request body. Tried for every key an untrusted .env may set, in every form a
variable can be written, and for the endpoint such a file may choose.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from chatcli.config import configure
from chatcli.provider_table import NAMES
from chatcli.providers import provider
from chatcli.trust import on_this_machine, safe_keys
from tests.helpers import KEY, chat

SECRET = "gh-secret-5f3a9c"
# Every way python-dotenv or a shell would take a value from the environment, bare and quoted.
FORMS = (
    "${SECRET}",
    "$SECRET",
    "${SECRET:-fallback}",
    "${SECRET-fallback}",
    "x${SECRET}y",
    '"${SECRET}"',
    "'${SECRET}'",
    '"pre $SECRET post"',
)


def _notes(run) -> list[str]:
    return [line for line in run.err_lines if line.startswith("chat: note: ")]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("key", sorted(safe_keys()))
def test_no_allowed_key_takes_a_value_from_the_environment(tmp_path, key, form):
    (tmp_path / ".env").write_text(f"{key}={form}\n")
    environ = {
        "SECRET": SECRET,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    settings, notes = configure({}, environ=environ, cwd=tmp_path)
    values = json.dumps(asdict(settings), default=str)
    assert SECRET not in values and "${" not in values and "$SECRET" not in values, values
    [note] = notes
    assert key in note and "may not use variables" in note and "chat trust" in note, note


@pytest.mark.parametrize("form", ["${OPENAI_API_KEY}", "$OPENAI_API_KEY", "${OPENAI_API_KEY:-none}"])
def test_a_dotenv_that_names_the_users_key_sends_no_key_to_its_endpoint(chat_env, server, tmp_path, form):
    repo = tmp_path / "cloned"
    repo.mkdir()
    (repo / ".env").write_text(f"OPENAI_BASE_URL={server.base_url}\nOPENAI_API_KEY={form}\n")
    env = {k: v for k, v in chat_env.items() if k != "OPENAI_BASE_URL"}
    run = chat(env, "hi", cwd=repo)
    assert run.code == 0 and run.out == "You said: hi\n", run
    assert KEY not in json.dumps(server.request_headers), "the user's key reached the .env's endpoint"
    notes = "\n".join(_notes(run))
    assert "OPENAI_API_KEY ignored" in notes and "your API key is not sent to 127.0.0.1" in notes, run


def test_a_secret_named_in_the_model_never_reaches_the_request(chat_env, server, tmp_path):
    repo = tmp_path / "cloned"
    repo.mkdir()
    (repo / ".env").write_text("CHATCLI_MODEL=m-${GITHUB_TOKEN}\nCHATCLI_TEMPERATURE=${TEMP:-0.5}\n")
    env = {**{k: v for k, v in chat_env.items() if k != "CHATCLI_MODEL"}, "GITHUB_TOKEN": SECRET, "TEMP": "0.9"}
    run = chat(env, "hi", cwd=repo)
    assert run.code == 0, run
    sent = json.dumps(server.requests[-1]) + json.dumps(server.request_headers)
    assert SECRET not in sent and "${" not in sent and server.requests[-1]["model"] != "m-" + SECRET
    assert "temperature" not in server.requests[-1], "a value composed from the environment was sent"
    [note] = _notes(run)
    assert "CHATCLI_MODEL" in note and "CHATCLI_TEMPERATURE" in note, note


@pytest.mark.parametrize(
    "url, here",
    [
        ("http://localhost:11434/v1", True),
        ("http://LOCALHOST./v1", True),
        ("http://127.0.0.1:8080/v1", True),
        ("http://127.9.8.7/v1", True),
        ("http://[::1]:8000/v1", True),
        ("https://evil.example/v1", False),
        ("http://127.0.0.1.evil.example/v1", False),
        ("http://localhost.evil.example/v1", False),
        ("http://evil.localhost/v1", False),
        ("http://localhost@evil.example/v1", False),
        ("http://0.0.0.0:8080/v1", False),
        ("http://10.0.0.5/v1", False),
        ("http://[::ffff:8.8.8.8]/v1", False),
        ("not a url", False),
    ],
)
def test_an_untrusted_endpoint_must_be_on_this_machine(tmp_path, url, here):
    assert on_this_machine(url) is here
    (tmp_path / ".env").write_text(f"OPENAI_BASE_URL={url}\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path / "d"), "OPENAI_API_KEY": KEY}
    settings, notes = configure({}, environ=environ, cwd=tmp_path)
    if here:
        assert settings.base_url == url and settings.api_key is None, settings  # the user's key stays home
        assert notes and "your API key is not sent" in notes[0]
    else:
        assert settings.base_url is None and settings.api_key == KEY, settings
        [note] = notes
        assert "OPENAI_BASE_URL ignored" in note and "only at this machine" in note, note


def test_the_users_conversation_does_not_follow_a_dotenv_elsewhere(chat_env, server, tmp_path):
    repo = tmp_path / "cloned"
    repo.mkdir()
    (repo / ".env").write_text("OPENAI_BASE_URL=https://collector.example/v1\nOPENAI_API_KEY=sk-theirs\n")
    env = {k: v for k, v in chat_env.items() if k != "OPENAI_API_KEY"}
    (Path(env["XDG_CONFIG_HOME"]) / "chatcli").mkdir(parents=True, exist_ok=True)
    (Path(env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml").write_text(f'api_key = "{KEY}"\n')
    run = chat(env, "-t", "work", "the plan is secret", cwd=repo)
    assert run.code == 0 and run.out == "You said: the plan is secret\n", run  # the user's own endpoint answered
    assert server.requests[-1]["messages"][-1]["content"] == "the plan is secret"  # reached the user's endpoint
    [note] = _notes(run)
    assert "OPENAI_BASE_URL ignored" in note and "collector.example" not in json.dumps(server.requests), note


def test_a_trusted_dotenv_may_use_variables(chat_env, server, tmp_path):
    project = tmp_path / "mine"
    project.mkdir()
    (project / ".env").write_text("CHATCLI_SYSTEM=You help ${TEAM}.\nCHATCLI_MODEL=${TEAM_MODEL:-team-model}\n")
    assert chat(chat_env, "trust", cwd=project).code == 0
    env = {**{k: v for k, v in chat_env.items() if k != "CHATCLI_MODEL"}, "TEAM": "the compiler team"}
    run = chat(env, "hi", cwd=project)
    assert run.code == 0 and not _notes(run), run
    assert server.requests[-1]["messages"][0]["content"] == "You help the compiler team."
    assert server.requests[-1]["model"] == "team-model"


def test_trusting_reads_the_same_literal_text(chat_env, tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / ".env").write_text("CHATCLI_MODEL=${SECRET}\n")
    run = chat({**chat_env, "SECRET": SECRET}, "trust", cwd=project)
    assert run.code == 0 and SECRET not in run.err and "CHATCLI_MODEL" in run.err, run
    assert Path(project / ".env").read_text() == "CHATCLI_MODEL=${SECRET}\n"


@pytest.mark.parametrize("name", NAMES)
def test_no_providers_key_follows_a_dotenv_to_its_endpoint(tmp_path, name):
    """Every provider's address variable, as OPENAI_BASE_URL: on this machine only, and never with the user's key."""
    chosen = provider(name)
    key_var, url_var = chosen.key_var, chosen.url_var
    assert url_var, "every provider can be pointed at another address"
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    if key_var:
        environ[key_var] = "users-own-key-0123456789"
    (tmp_path / ".env").write_text(f"{url_var}=http://127.0.0.1:9999\n")
    settings, notes = configure({}, environ=environ, cwd=tmp_path)
    assert chosen.url(settings) == "http://127.0.0.1:9999"
    if key_var:
        assert chosen.key(settings) is None, "the user's key would go to the .env's endpoint"
        assert any(f"sets {url_var}: your API key is not sent" in note for note in notes), notes
    # With a key of its own, that key goes there; a remote address is not taken at all.
    if key_var:
        (tmp_path / ".env").write_text(f"{url_var}=http://127.0.0.1:9999\n{key_var}=the-dotenv-key\n")
        assert chosen.key(configure({}, environ=environ, cwd=tmp_path)[0]) == "the-dotenv-key"
    (tmp_path / ".env").write_text(f"{url_var}=https://collector.example.net\n")
    settings, notes = configure({}, environ=environ, cwd=tmp_path)
    assert chosen.url(settings) is None and (not key_var or chosen.key(settings) == environ[key_var])
    assert any(url_var in note and "only at this machine" in note for note in notes), notes
