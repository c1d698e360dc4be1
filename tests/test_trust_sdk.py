"""What a provider's SDK reads from the environment by itself never follows an untrusted `.env`.

chat hands each client the key and address it may use; but the SDKs also read variables of their own
(OLLAMA_API_KEY, ANTHROPIC_AUTH_TOKEN, OPENAI_CUSTOM_HEADERS, GOOGLE_GENAI_ACCESS_TOKEN...:
chatcli.provider_table lists every one, tests/test_provider_registry.py keeps that list whole). With
a `.env` that chose the endpoint, none of them reaches the server: every such variable, of every
provider, is set to a marker in the user's environment, and no request the fake server gets carries one.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from chatcli.provider_table import info, sdk_credentials
from tests.fakeserver import Fault
from tests.helpers import assert_one_error_line, chat
from tests.providers import ROWS, Row

ADDRESS_WORDS = ("URL", "HOST", "ENDPOINT", "API_BASE", "PROXY", "RESOURCE", "DIRECTORY", "HTTP_CLIENT")


def marked(var: str) -> str:
    """A value for ``var`` that a request would show if it carried it (an address where one is expected)."""
    if any(word in var for word in ADDRESS_WORDS):
        return f"http://mark-{var.lower().replace('_', '-')}.invalid"
    return f"MARK-{var}"


@pytest.fixture(params=ROWS, ids=str)
def fake(request: pytest.FixtureRequest):
    row: Row = request.param
    if row.module and importlib.util.find_spec(row.module) is None:
        pytest.skip(f"{row.module} is not installed")
    with row.start() as server:
        yield row, server


def test_no_credential_an_sdk_reads_by_itself_reaches_an_endpoint_a_dotenv_chose(fake, chat_env, tmp_path, monkeypatch):
    row, server = fake
    project = tmp_path / "project"
    project.mkdir()
    pointing = row.env(server)  # the fake's address (and the key it takes: the .env's own may go there)
    (project / ".env").write_text(f"CHATCLI_MODEL={row.model}\n" + "".join(f"{k}={v}\n" for k, v in pointing.items()))
    # Every credential of every SDK in the user's environment; the address the .env sets, not (it would win).
    marks = {var: marked(var) for var in sorted(sdk_credentials()) if var != info(row.name).url_var}
    user = {k: v for k, v in chat_env.items() if not k.startswith("OPENAI_") and k != "CHATCLI_MODEL"}
    user.update(marks)
    for name in list(os.environ):
        if name in marks or name.startswith("OPENAI_"):
            monkeypatch.delenv(name)
    for name, value in marks.items():
        monkeypatch.setenv(name, value)  # what the SDKs read: this process's environment
    run = chat(user, "-t", "t", "hello", cwd=project)
    assert run.code == 0 and run.out.startswith("You said: hello"), run
    sent = json.dumps([server.requests, server.request_headers]).lower()
    leaked = sorted(var for var in marks if marks[var].lower() in sent or f"mark-{var.lower()}" in sent)
    assert leaked == [], f"{row.name}'s client sent the user's {leaked} to the address a .env chose"
    withheld = [var for var in info(row.name).credentials if var not in pointing]
    assert not [var for var in withheld if var in os.environ], "taken out of this process for the rest of it"


@pytest.mark.parametrize("row", [r for r in ROWS if r.name == "ollama"], ids=str)
def test_a_key_the_sdk_read_by_itself_is_masked_when_a_server_echoes_it(row, chat_env, monkeypatch):
    if importlib.util.find_spec(row.module) is None:
        pytest.skip(f"{row.module} is not installed")
    secret = "ollama-users-own-SECRET-key-42"
    monkeypatch.setenv("OLLAMA_API_KEY", secret)  # the user's own, with no .env: sent, as the SDK does
    with row.start() as server:
        env = {**{k: v for k, v in chat_env.items() if not k.startswith("OPENAI_")}, **row.env(server)}
        env.update(CHATCLI_MODEL=row.model, OLLAMA_API_KEY=secret)
        server.queue(Fault(status=401, message=f"unauthorized: key {secret} is not valid"))
        run = chat(env, "-t", "e", "hi")
        assert server.request_headers and secret in json.dumps(server.request_headers), "the SDK sent it itself"
    line = assert_one_error_line(run, 4)
    assert secret not in run.err and "authentication refused" in line, run.err
