"""Files and settings from elsewhere: imports checked whole, .env files that redirect a key,
undecodable bytes, odd URLs and paths: one line each, nothing written, nothing leaked."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.helpers import assert_one_error_line, chat
from tests.test_reliability import db_of

GOOD = {
    "format": "chatcli-thread", "version": 1, "thread_id": "x", "title": "T", "created_at": 1.0, "updated_at": 2.0,
    "message_count": 2, "model": "m", "system": None, "vars": {},
    "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
}  # fmt: skip

BAD_EXPORTS = {
    "system not a string": ({**GOOD, "system": 5}, "system: expected a string, got 5"),
    "vars a string": ({**GOOD, "vars": "abc"}, "vars: expected an object, got 'abc'"),
    "vars a list": ({**GOOD, "vars": [1, 2]}, "vars: expected an object, got a list"),
    "var not a string": ({**GOOD, "vars": {"a": 1}}, "vars.a: expected a string, got 1"),
    "created_at a string": ({**GOOD, "created_at": "[/red]"}, "created_at: expected an ISO 8601 time, got '[/red]'"),
    "model a list": ({**GOOD, "model": ["a"]}, "model: expected a string, got a list"),
    "model of control characters": ({**GOOD, "model": "\x1b]0;IMPORTED\x07evil"}, "model: not a model name"),
    "title a number": ({**GOOD, "title": 12345}, "title: expected a string, got 12345"),
    "messages an object": ({**GOOD, "messages": {"a": 1}}, "messages: expected a list, got an object"),
    "messages a string": ({**GOOD, "messages": "hello"}, "messages: expected a list, got 'hello'"),
    "a message not an object": ({**GOOD, "messages": ["hi"]}, "messages[0]: expected an object, got 'hi'"),
    "a bad role": ({**GOOD, "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    "a result without its call": (
        {**GOOD, "messages": [{"role": "tool", "content": "x", "tool_call_id": "c1"}]},
        "messages[0].tool_call_id",
    ),
    "content a number": (
        {**GOOD, "messages": [{"role": "user", "content": 5}]},
        "messages[0].content: expected a string, got 5",
    ),
    "a message time a number": (
        {**GOOD, "messages": [{"role": "user", "content": "q", "created_at": 5}]},
        "messages[0].created_at",
    ),
}


def thread_count(env: dict[str, str]) -> int:
    db = db_of(env)
    if not Path(db).exists():
        return 0
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT count(*) FROM chatcli_threads").fetchone()[0]


@pytest.mark.parametrize("case", BAD_EXPORTS)
def test_an_export_that_breaks_its_format_is_refused_naming_where(chat_env, tmp_path, case):
    data, where = BAD_EXPORTS[case]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    line = assert_one_error_line(chat(chat_env, "import", str(path)), 2)
    assert where in line, line
    assert thread_count(chat_env) == 0, "nothing written"


def test_deeply_nested_json_is_refused_not_a_recursion_error(chat_env, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    line = assert_one_error_line(chat(chat_env, "import", str(path)), 2)
    assert "nested too deeply" in line or "expected an object" in line


def test_a_good_export_still_imports_and_shows(chat_env, tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({**GOOD, "title": "\x1b]0;IMPORTED\x07evil"}))
    run = chat(chat_env, "import", str(path))
    assert run.code == 0, run
    listed = chat(chat_env, "threads", tty=True)
    assert listed.code == 0 and "\x1b]0;" not in listed.out, "control characters in stored names are defused"


# --------------------------------------------------------------------------- the smaller ones


def test_config_and_dotenv_that_are_not_utf8_name_the_file(chat_env, tmp_path):
    config = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_bytes(b'model = "caf\xe9"\n')
    line = assert_one_error_line(chat(chat_env, "hi"), 3)
    assert str(config) in line and "not valid UTF-8" in line
    config.unlink()
    project = tmp_path / "p"
    project.mkdir()
    (project / ".env").write_bytes(b"CHATCLI_MODEL=caf\xe9\n")
    line = assert_one_error_line(chat(chat_env, "hi", cwd=project), 3)
    assert str(project / ".env") in line and "not valid UTF-8" in line


def test_a_boolean_for_a_number_says_it_wants_a_number(chat_env):
    config = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("context_tokens = true\n")
    line = assert_one_error_line(chat(chat_env, "hi"), 3)
    assert "context_tokens must be a non-negative number, got True" in line


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/v1", "http://[::1", "ftp://example.com/v1", "localhost:8080"])
def test_a_base_url_that_is_not_one_is_a_config_error(chat_env, url):
    line = assert_one_error_line(chat({**chat_env, "OPENAI_BASE_URL": url}, "hi"), 3)
    assert "OPENAI_BASE_URL" in line


@pytest.mark.parametrize("args", [["-m", "gpt\udcff", "hi"], ["title", "t1", "bad \udcff"], ["search", "bad\udcff"]])
def test_undecodable_bytes_in_arguments_are_a_usage_line(server, chat_env, args):
    assert chat(chat_env, "-t", "t1", "hello").code == 0
    run = chat(chat_env, *args)
    assert run.code in (2, 3) and "not valid UTF-8" in assert_one_error_line(run, run.code), run


def test_dev_null_as_the_database_is_refused_and_left_alone(chat_env):
    line = assert_one_error_line(chat(chat_env, "--db", "/dev/null", "hi"), 5)
    assert "not a regular file" in line and not Path("/dev/null-journal").exists()


def test_bidirectional_overrides_from_the_model_are_defused_in_a_terminal(server, chat_env):
    from tests.fakeserver import Reply

    server.queue(Reply("abc \u202e evil \u2066 x"))
    run = chat(chat_env, "hi", tty=True)
    assert run.code == 0 and "\u202e" not in run.out and "\u2066" not in run.out, run


@pytest.fixture
def read_only_db(server, chat_env):
    """The default database with two threads, made read-only (immutable for root, 0400 otherwise)."""
    import os
    import subprocess

    assert chat(chat_env, "-t", "ro1", "about the lighthouse").code == 0
    assert chat(chat_env, "-t", "ro2", "about the bees").code == 0
    db = Path(db_of(chat_env))
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
            pytest.skip("cannot make the file immutable here (chattr +i)")
    else:
        db.chmod(0o400)
    before = db.read_bytes()
    yield db, before
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(db)], capture_output=True)


def test_a_read_only_database_can_still_be_read(chat_env, read_only_db):
    db, before = read_only_db
    listed = chat(chat_env, "threads")
    assert listed.code == 0 and {line.split("\t")[0] for line in listed.out.splitlines()} == {"ro1", "ro2"}, listed
    shown = chat(chat_env, "show", "ro1")
    assert shown.code == 0 and "about the lighthouse" in shown.out, shown
    exported = chat(chat_env, "export", "ro2", "-f", "json")
    assert exported.code == 0 and json.loads(exported.out)["messages"][0]["content"] == "about the bees"
    found = chat(chat_env, "search", "lighthouse")
    assert found.code == 0 and "ro1" in found.out, found
    # Writing is still refused, in one line.
    assert_one_error_line(chat(chat_env, "-t", "ro1", "one more"), 5)
    assert db.read_bytes() == before
