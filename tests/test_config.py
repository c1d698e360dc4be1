"""Settings precedence: defaults < config.toml < .env in cwd < environment < flags."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from chatcli.config import DEFAULT_MODEL, DEFAULT_SYSTEM, Settings, load_settings, resolve_settings
from chatcli.errors import ConfigError, ExitStatus

LAYERS = ("config", "dotenv", "env", "flag")


def write_config(text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def settings_with(layers: set[str], cwd: Path) -> Settings:
    """Set model and context_tokens in each chosen layer to a value naming the layer."""
    numbers = {"config": 1000, "dotenv": 2000, "env": 3000, "flag": 4000}
    if "config" in layers:
        write_config(f'model = "from-config"\ncontext_tokens = {numbers["config"]}\n')
    if "dotenv" in layers:
        (cwd / ".env").write_text(f"CHATCLI_MODEL=from-dotenv\nCHATCLI_CONTEXT_TOKENS={numbers['dotenv']}\n")
    environ = {"CHATCLI_MODEL": "from-env", "CHATCLI_CONTEXT_TOKENS": str(numbers["env"])} if "env" in layers else {}
    flags = (
        {"model": "from-flag", "context_tokens": numbers["flag"]}
        if "flag" in layers
        else {"model": None, "context_tokens": None}
    )
    return load_settings(flags, environ=environ, cwd=cwd)


ALL_SUBSETS = [set(combo) for n in range(len(LAYERS) + 1) for combo in itertools.combinations(LAYERS, n)]


@pytest.mark.parametrize("layers", ALL_SUBSETS, ids=lambda s: "+".join(sorted(s, key=LAYERS.index)) or "defaults")
def test_highest_layer_wins(layers, tmp_path):
    settings = settings_with(layers, tmp_path)
    winner = max(layers, key=LAYERS.index) if layers else None
    expected_model = {
        None: DEFAULT_MODEL,
        "config": "from-config",
        "dotenv": "from-dotenv",
        "env": "from-env",
        "flag": "from-flag",
    }
    expected_tokens = {None: Settings().context_tokens, "config": 1000, "dotenv": 2000, "env": 3000, "flag": 4000}
    assert settings.model == expected_model[winner]
    assert settings.context_tokens == expected_tokens[winner]
    assert isinstance(settings.context_tokens, int) or (winner is None and settings.context_tokens is None)


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([], Settings()),
        ([("a", {"model": "m1"})], Settings(model="m1")),
        ([("a", {"model": "m1"}), ("b", {"model": None})], Settings(model="m1")),
        ([("a", {"model": "m1"}), ("b", {"model": ""})], Settings(model="m1")),
        ([("a", {"timeout": "2.5"}), ("b", {"max_retries": "0"})], Settings(timeout=2.5, max_retries=0)),
        ([("a", {"temperature": 0}), ("b", {})], Settings(temperature=0.0)),
        ([("a", {"system": "Be terse."}), ("b", {"model": "x"})], Settings(system="Be terse.", model="x")),
    ],
)
def test_resolve_settings_table(layers, expected):
    assert resolve_settings(*layers) == expected


def test_flags_left_none_do_not_override(tmp_path):
    settings = load_settings(
        {"model": None, "db": None},
        environ={"CHATCLI_MODEL": "env-model", "CHATCLI_DB": str(tmp_path / "e.db")},
        cwd=tmp_path,
    )
    assert settings.model == "env-model"
    assert settings.db == str(tmp_path / "e.db")


def test_every_environment_variable_is_read(tmp_path):
    environ = {
        "OPENAI_API_KEY": "sk-env-key-123456",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "CHATCLI_MODEL": "m",
        "CHATCLI_DB": str(tmp_path / "x.db"),
        "CHATCLI_SYSTEM": "Be brief.",
        "CHATCLI_CONTEXT_TOKENS": "1234",
        "CHATCLI_TIMEOUT": "7.5",
        "CHATCLI_MAX_RETRIES": "0",
        "CHATCLI_TEMPERATURE": "0.3",
        "CHATCLI_HISTORY_FILE": str(tmp_path / "hist"),
    }
    s = load_settings({}, environ=environ, cwd=tmp_path)
    assert (s.api_key, s.base_url, s.model, s.db, s.system) == (
        "sk-env-key-123456",
        "http://127.0.0.1:9/v1",
        "m",
        str(tmp_path / "x.db"),
        "Be brief.",
    )
    assert (s.context_tokens, s.timeout, s.max_retries, s.temperature, s.history_file) == (
        1234,
        7.5,
        0,
        0.3,
        str(tmp_path / "hist"),
    )


def test_config_file_accepts_dashed_keys(tmp_path):
    write_config('context-tokens = 800\nmax-retries = 1\nsystem = "From the file."\n')
    s = load_settings({}, environ={}, cwd=tmp_path)
    assert (s.context_tokens, s.max_retries, s.system) == (800, 1, "From the file.")


def test_chatcli_config_points_at_another_file(tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text('model = "from-other-file"\n')
    write_config('model = "from-default-file"\n')
    assert load_settings({}, environ={"CHATCLI_CONFIG": str(other)}, cwd=tmp_path).model == "from-other-file"


def test_dotenv_is_read_from_cwd_only_and_does_not_touch_environ(tmp_path):
    (tmp_path / ".env").write_text("CHATCLI_MODEL=dot-model\nUNRELATED=1\nOPENAI_API_KEY=sk-dotenv-abcdef\n")
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    assert load_settings({}, environ={}, cwd=tmp_path).model == "dot-model"
    assert load_settings({}, environ={}, cwd=tmp_path).api_key == "sk-dotenv-abcdef"
    assert load_settings({}, environ={}, cwd=elsewhere).model == DEFAULT_MODEL
    assert "CHATCLI_MODEL" not in os.environ and "OPENAI_API_KEY" not in os.environ


def test_unknown_key_in_config_file_names_the_key(tmp_path):
    path = write_config('modle = "typo"\n')
    with pytest.raises(ConfigError) as info:
        load_settings({}, environ={}, cwd=tmp_path)
    assert "modle" in str(info.value)
    assert str(path) in str(info.value)
    assert info.value.exit_status == ExitStatus.CONFIG


def test_toml_syntax_error_names_the_file(tmp_path):
    path = write_config('model = "unterminated\n')
    with pytest.raises(ConfigError) as info:
        load_settings({}, environ={}, cwd=tmp_path)
    assert str(path) in str(info.value)
    assert "TOML" in str(info.value)


@pytest.mark.parametrize(
    "where, value, setting",
    [
        ("env", "fast", "timeout"),
        ("env", "-1", "max_retries"),
        ("env", "many", "context_tokens"),
        ("env", "warm", "temperature"),
        ("config", '"lots"', "context_tokens"),
        ("config", "-3", "timeout"),
        ("config", "1.5", "max_retries"),
        ("dotenv", "1e", "timeout"),
    ],
)
def test_bad_number_is_a_config_error(where, value, setting, tmp_path):
    env_name = "CHATCLI_" + setting.upper()
    environ = {}
    if where == "env":
        environ[env_name] = value
    elif where == "config":
        write_config(f"{setting} = {value}\n")
    else:
        (tmp_path / ".env").write_text(f"{env_name}={value}\n")
    with pytest.raises(ConfigError) as info:
        load_settings({}, environ=environ, cwd=tmp_path)
    assert setting in str(info.value)


def test_wrong_type_for_a_text_setting(tmp_path):
    write_config("model = 5\n")
    with pytest.raises(ConfigError, match="model"):
        load_settings({}, environ={}, cwd=tmp_path)


def test_context_tokens_too_small(tmp_path):
    with pytest.raises(ConfigError, match="context_tokens"):
        load_settings({}, environ={"CHATCLI_CONTEXT_TOKENS": "10"}, cwd=tmp_path)


def test_repr_never_shows_the_key():
    s = Settings(api_key="sk-test-SECRET-0123456789", model="m")
    for shown in (repr(s), str(s), f"{s}", f"{s!r}", repr([s]), repr({"s": s})):
        assert "sk-test-SECRET-0123456789" not in shown
        assert "SECRET" not in shown
    assert "model='m'" in repr(s)
    assert "api_key=None" in repr(Settings())


def test_default_paths_live_under_xdg_data_home(tmp_path):
    s = load_settings({}, environ={}, cwd=tmp_path)
    data = Path(os.environ["XDG_DATA_HOME"]) / "chatcli"
    assert Path(s.db).parent == data
    assert Path(s.history_file).parent == data
    assert s.system == DEFAULT_SYSTEM
    assert not data.exists(), "loading settings creates nothing"
