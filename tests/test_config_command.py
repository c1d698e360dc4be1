"""`chat config`: each setting, its value and where it came from; keys by their last four characters."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import KEY, chat


def _records(env: dict[str, str], cwd: Path) -> dict[str, dict]:
    run = chat(env, "config", "--json", cwd=cwd)
    assert run.code == 0, run
    return {r["name"]: r for r in json.loads(run.out) if "ignored" not in r["source"]}


def test_each_setting_says_where_it_came_from(chat_env, tmp_path):
    config = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('system = "From the file."\ncontext_tokens = 9000\n')
    (tmp_path / ".env").write_text("CHATCLI_TEMPERATURE=0.3\nCHATCLI_TOOLS=shell\n")
    records = _records({**chat_env, "CHATCLI_MEMORY": "summary"}, tmp_path)
    assert records["system"] == {"name": "system", "value": "From the file.", "source": str(config)}
    assert records["context_tokens"]["value"] == 9000
    assert records["temperature"] == {"name": "temperature", "value": 0.3, "source": f"{tmp_path / '.env'} (untrusted)"}
    assert records["memory"] == {"name": "memory", "value": "summary", "source": "environment (CHATCLI_MEMORY)"}
    assert records["sandbox"] == {"name": "sandbox", "value": "workspace", "source": "default"}
    ignored = [r for r in json.loads(chat(chat_env, "config", "--json", cwd=tmp_path).out) if "ignored" in r["source"]]
    assert ignored == [
        {"name": "tools", "value": None, "source": f"{tmp_path / '.env'}: CHATCLI_TOOLS ignored (untrusted)"}
    ]


def test_a_key_is_shown_by_its_last_four_characters_only(chat_env, tmp_path):
    run = chat(chat_env, "config", cwd=tmp_path)
    assert run.code == 0 and KEY not in run.out and KEY[:-4] not in run.out, run
    line = next(line for line in run.out.splitlines() if line.startswith("api_key"))
    assert f"…{KEY[-4:]}" in line and "environment (OPENAI_API_KEY)" in line, line
    assert _records(chat_env, tmp_path)["api_key"]["value"] == f"…{KEY[-4:]}"


def test_a_key_withheld_from_a_dotenv_endpoint_is_said(chat_env, tmp_path):
    (tmp_path / ".env").write_text("OPENAI_BASE_URL=http://localhost:11434/v1\n")
    env = {k: v for k, v in chat_env.items() if k != "OPENAI_BASE_URL"}
    records = _records(env, tmp_path)
    assert records["base_url"]["value"] == "http://localhost:11434/v1"
    assert records["api_key"]["value"] is None and "withheld" in records["api_key"]["source"]


def test_a_trusted_dotenv_is_named_trusted(chat_env, tmp_path):
    (tmp_path / ".env").write_text("CHATCLI_SYSTEM=Project rules.\n")
    assert chat(chat_env, "trust", cwd=tmp_path).code == 0
    assert _records(chat_env, tmp_path)["system"]["source"] == f"{tmp_path / '.env'} (trusted)"


def test_config_is_a_command_not_a_question(server, chat_env, tmp_path):
    run = chat(chat_env, "config", cwd=tmp_path)
    assert run.code == 0 and "model" in run.out and server.requests == [], run


def test_no_key_or_password_is_shown_whatever_sets_it(chat_env, tmp_path):
    """Every provider's key variable, and every setting that is a URL with a password (the endpoints, the
    database), in the text and in --json: a key by its last four characters, a URL without its password."""
    from chatcli.provider_table import PROVIDERS

    secrets = {row.key_var: f"sk-{row.name}-SECRET-{n}xyzw" for n, row in enumerate(PROVIDERS) if row.key_var}
    urls = {row.url_var: f"http://user{n}:PASS{n}WORD@127.0.0.1:{9000 + n}" for n, row in enumerate(PROVIDERS)}
    urls["CHATCLI_DB"] = "postgresql://me:DBPASSWORD@db.example/chat"
    env = {**chat_env, **secrets, **{k: v for k, v in urls.items() if k}}
    for args in (["config"], ["config", "--json"]):
        run = chat(env, *args, cwd=tmp_path)
        assert run.code == 0 and not run.err, run
        for secret in secrets.values():
            assert secret not in run.out and secret[:-4] not in run.out, (args, secret)
            assert "…" + secret[-4:] in run.out, (args, secret)
        for url in urls.values():
            password = url.split(":")[2].split("@")[0]
            assert password not in run.out and url.replace(password, "***") in run.out, (args, url)
    shown = _records(env, tmp_path)["provider_env"]
    assert shown["source"].startswith("environment (") and "ANTHROPIC_API_KEY" in shown["source"], shown


def test_it_says_where_config_toml_would_go_and_whether_it_is_there(chat_env, tmp_path):
    path = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    record = _records(chat_env, tmp_path)["config_file"]
    assert record["value"] == str(path) and record["source"].startswith("none yet"), record
    text = chat(chat_env, "config", cwd=tmp_path).out
    assert f"{path}  [none yet" in text, text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('model = "gpt-from-file"\n')
    assert _records(chat_env, tmp_path)["config_file"]["source"] == "read"
    elsewhere = tmp_path / "mine.toml"
    assert _records({**chat_env, "CHATCLI_CONFIG": str(elsewhere)}, tmp_path)["config_file"]["value"] == str(elsewhere)


def test_help_names_the_config_file_where_it_is(chat_env, tmp_path):
    for env, shown in (
        ({**chat_env, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}, str(tmp_path / "cfg" / "chatcli" / "config.toml")),
        ({**chat_env, "CHATCLI_CONFIG": str(tmp_path / "mine.toml")}, str(tmp_path / "mine.toml")),
        ({**chat_env, "XDG_CONFIG_HOME": chat_env["HOME"] + "/.config"}, "~/.config/chatcli/config.toml"),
    ):
        run = chat(env, "--help", cwd=tmp_path)
        assert run.code == 0 and shown in "".join(run.out.split()), (shown, run.out)  # wrapped anywhere


def test_config_never_fails_whatever_provider_is_set(chat_env, tmp_path):
    from chatcli.provider_table import PROVIDERS

    for row in PROVIDERS:
        for var in (row.key_var, row.url_var, *row.key_aliases):
            if var:
                value = "http://127.0.0.1:1" if var == row.url_var else "sk-some-key-value-1234"
                for args in (["config"], ["config", "--json"]):
                    run = chat({**chat_env, var: value}, *args, cwd=tmp_path)
                    assert run.code == 0 and not run.err, (var, run)
