"""What a newcomer from llm, aichat or ollama expects of the command line.

-h on every command; `chat models`; --temperature; `chat export ID -o FILE`; usage lines that
show ID as the help does; a line for flags that would change nothing; "did you mean" for a
misspelled config key; --help that says where settings go. Runs are in-process (tests.helpers.chat).
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from tests.helpers import assert_one_error_line, chat

# --------------------------------------------------------------------------- -h and usage lines


@pytest.mark.parametrize(
    "args", [["-h"], ["threads", "-h"], ["show", "-h"], ["export", "-h"], ["models", "-h"], ["rm", "-h"]]
)
def test_dash_h_is_help_on_every_command(chat_env, args):
    run = chat(chat_env, *args)
    assert run.code == 0, run
    assert run.out.startswith("Usage: chat"), run
    assert "No such option" not in run.err


@pytest.mark.parametrize("command", ["show", "export", "title", "fork"])
def test_usage_lines_show_id_as_the_help_does(chat_env, command):
    usage = chat(chat_env, command, "--help").out.splitlines()[0]
    assert "{" not in usage and (" [ID]" if command in ("show", "export") else " ID") in usage, usage
    missing = chat(chat_env, command)
    assert missing.code == 2 and "{ID}" not in missing.err, missing  # no thread yet, or no ID where one is needed


def test_help_says_where_settings_go_without_a_clone(chat_env):
    shown = chat(chat_env, "--help").out
    assert ".env.example" not in shown
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHATCLI_MODEL", "CHATCLI_TEMPERATURE", "config.toml"):
        assert name in shown, name


# --------------------------------------------------------------------------- chat models


def test_models_lists_the_server_s_ids_one_a_line(server, chat_env):
    server.models = ["zeta-1", "alpha-2", "gpt-fake"]
    run = chat(chat_env, "models")
    assert run.code == 0, run
    assert run.out.splitlines() == ["alpha-2", "gpt-fake", "zeta-1"]
    assert json.loads(chat(chat_env, "models", "--json").out) == ["alpha-2", "gpt-fake", "zeta-1"]
    assert server.requests == []  # listing asks the model nothing


def test_models_marks_the_one_in_use_in_a_terminal(server, chat_env):
    server.models = ["alpha-2", "gpt-fake"]
    assert chat(chat_env, "models", tty=True).out.splitlines() == ["  alpha-2", "* gpt-fake"]


def test_a_server_that_lists_no_models_says_so_in_one_line(server, chat_env):
    server.models = []
    run = chat(chat_env, "models")
    assert run.code == 0 and run.out == "", run
    assert run.err_lines == [
        f"{server.base_url.split('//')[1].split('/')[0]} lists no models (set one with --model or CHATCLI_MODEL)"
    ], run


def test_a_server_without_a_model_list_is_one_line(server, chat_env):
    line = assert_one_error_line(chat({**chat_env, "OPENAI_BASE_URL": server.base_url + "/nowhere"}, "models"), 4)
    assert "has no model list (404 on /models)" in line


def test_a_server_that_is_down_is_one_line(chat_env):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    line = assert_one_error_line(chat({**chat_env, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}, "models"), 4)
    assert "could not open the connection" in line
    assert json.loads(chat(chat_env, "threads", "--json").out) == []  # "models" was no question


# --------------------------------------------------------------------------- --temperature


def test_temperature_flag_is_sent_and_beats_the_environment_and_a_role(server, chat_env):
    roles = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "roles"
    roles.mkdir(parents=True)
    (roles / "warm.toml").write_text('system = "Be warm."\ntemperature = 0.9\n')
    env = {**chat_env, "CHATCLI_TEMPERATURE": "0.5"}
    assert chat(env, "--temperature", "0.2", "hi").code == 0
    assert chat(env, "--role", "warm", "--temperature", "0", "hi").code == 0
    assert chat(env, "hi").code == 0
    assert [r.get("temperature") for r in server.requests] == [0.2, 0, 0.5]


@pytest.mark.parametrize("value", ["hot", "-1", "nan"])
def test_a_bad_temperature_is_one_line(server, chat_env, value):
    line = assert_one_error_line(chat(chat_env, "--temperature", value, "hi"), 2)  # a flag's value: a usage error
    assert "temperature must be a non-negative number" in line
    assert server.requests == []
    from_the_environment = chat({**chat_env, "CHATCLI_TEMPERATURE": value}, "hi")
    assert "temperature must be a non-negative number" in assert_one_error_line(from_the_environment, 3)


# --------------------------------------------------------------------------- chat export -o


def test_export_to_a_new_file_is_private_and_never_overwrites(server, chat_env, tmp_path):
    assert chat(chat_env, "-t", "kept", "remember this").code == 0
    target = tmp_path / "kept.md"
    run = chat(chat_env, "export", "kept", "-o", str(target))
    assert run.code == 0 and run.out == "", run
    assert f"wrote {target}" in run.err
    assert "remember this" in target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    again = chat(chat_env, "export", "kept", "--format", "json", "--output", str(target))
    assert "already exists" in assert_one_error_line(again, 2)
    assert "remember this" in target.read_text() and not target.read_text().startswith("{")


# --------------------------------------------------------------------------- flags that would change nothing


def test_an_unused_var_and_tools_with_no_tools_are_each_one_line(server, chat_env):
    run = chat(chat_env, "--var", "lang=Rust", "--tools", "shell", "--no-tools", "hi")
    assert run.code == 0, run
    assert "chat: warning: --var lang is unused: the system prompt has no {lang}" in run.err_lines, run
    assert "chat: warning: --tools is ignored: --no-tools turns every tool off" in run.err_lines, run
    used = chat(chat_env, "--system", "You review {lang} code.", "--var", "lang=Rust", "hi")
    assert used.code == 0 and "warning" not in used.err, used
    assert server.requests[-1]["messages"][0]["content"] == "You review Rust code."


def test_a_misspelled_config_key_gets_a_suggestion(chat_env):
    config = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("temprature = 0.3\n")
    line = assert_one_error_line(chat(chat_env, "threads"), 3)
    assert "unknown setting 'temprature'" in line and "did you mean temperature?" in line


def test_help_fits_one_screen_and_help_all_lists_every_option(chat_env):

    from chatcli.app.shared import app

    shown = chat({**chat_env, "COLUMNS": "80"}, "--help").out.splitlines()
    assert len(shown) <= 45 and all(len(line) <= 80 for line in shown), [line for line in shown if len(line) > 80]
    every = chat({**chat_env, "COLUMNS": "80"}, "--help-all").out
    options = [opt for param in app.commands().commands["ask"].params for opt in getattr(param, "opts", [])]
    assert len(options) > 25 and all(opt in every for opt in options), [o for o in options if o not in every]
    assert sum(opt in "\n".join(shown) for opt in options) < len(options)  # the rarer ones wait for --help-all


def test_every_option_that_takes_a_value_is_known_to_the_launcher():
    """The words after `chat` are read before click (a command's name, a question typed without quotes, the warm
    worker's choice) with one list of the options that take a value: an option missing from it has its value read
    as a word of the question (`chat --sandbox off hi` asked "off hi"). Every command's options, from click."""
    from chatcli.app.cli import app
    from chatcli.app.flags import VALUED

    group = app.commands()
    valued = {
        name
        for command in group.commands.values()
        for param in command.params
        if param.param_type_name == "option" and not getattr(param, "is_flag", False) and param.nargs != 0
        for name in param.opts
    }
    assert valued - VALUED == set(), sorted(valued - VALUED)
