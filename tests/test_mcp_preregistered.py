"""A client registered by hand with a server's authorization server, in mcp.json's ``oauth`` object (``clientId``,
``clientSecret``, Claude Code's spelling): checked as it is read, the file holding its secret readable by its owner
alone, and signed in as without registering (the conformance suite's ``auth/pre-registration`` runs it end to end:
.ci/mcp-conformance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatcli.errors import ConfigError
from chatcli.tools.mcp.config import read_servers

URL = "https://mcp.example/mcp"


def written(tmp_path: Path, entry: dict, mode: int = 0o600) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"linear": entry}}))
    path.chmod(mode)
    return path


def test_a_client_registered_by_hand_is_read_with_its_secret(tmp_path):
    (spec,) = read_servers(written(tmp_path, {"url": URL, "oauth": {"clientId": "chat", "clientSecret": "s3cret"}}))
    assert spec.oauth == {"clientId": "chat", "clientSecret": "s3cret"}
    assert "s3cret" not in spec.where and "s3cret" not in repr(spec)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_a_file_others_can_read_is_refused_when_it_holds_a_secret_and_the_secret_is_not_said(tmp_path, mode):
    path = written(tmp_path, {"url": URL, "oauth": {"clientId": "chat", "clientSecret": "s3cret-VALUE"}}, mode)
    with pytest.raises(ConfigError) as refused:
        read_servers(path)
    said = f"{refused.value} {refused.value.hint}"
    assert "mcpServers.linear.oauth.clientSecret" in said and f"chmod 600 {path}" in said, said
    assert "s3cret-VALUE" not in said


def test_without_a_secret_the_files_mode_is_its_owners_business(tmp_path):
    (spec,) = read_servers(written(tmp_path, {"url": URL, "oauth": {"clientId": "chat"}}, 0o644))
    assert spec.oauth == {"clientId": "chat"}


@pytest.mark.parametrize(
    "oauth, said",
    [
        ({"clientSecret": "s"}, "give the clientId"),
        ({"clientId": ""}, "give the clientId"),
        ({"clientId": "chat", "client_secret": "s"}, "'client_secret' is not one chat reads"),
        ({"clientId": 7}, "must be an object of strings"),
        ("chat", "must be an object of strings"),
    ],
)
def test_an_oauth_object_chat_cannot_use_is_one_line_naming_it(tmp_path, oauth, said):
    with pytest.raises(ConfigError, match="mcpServers.linear.oauth") as refused:
        read_servers(written(tmp_path, {"url": URL, "oauth": oauth}))
    assert said in str(refused.value)


def test_a_server_chat_starts_does_not_sign_in(tmp_path):
    with pytest.raises(ConfigError, match="a server chat starts .* does not sign in"):
        read_servers(written(tmp_path, {"command": "server", "oauth": {"clientId": "chat"}}))
