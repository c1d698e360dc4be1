"""Bad input: huge pastes, control characters, undecodable bytes, odd thread ids, bad files.

Each case ends with a clear line and a non-zero exit (or is handled safely), never a
traceback, never a damaged database. Cases already in tests/test_cli.py (invalid UTF-8 on
stdin, empty and blank input, thread ids with a slash or 500 characters, a non-SQLite --db,
an unknown config key) are listed in docs/RELIABILITY.md, not repeated here.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import io
import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Captured, assert_one_error_line, chat
from tests.test_reliability import db_of, integrity, stored, summary, user_turns


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def no_companions(db: Path) -> bool:
    """SQLite left no journal, WAL or shared-memory file next to ``db``."""
    return not any(db.with_name(db.name + s).exists() for s in ("-journal", "-wal", "-shm"))


# --------------------------------------------------------------------------- what the user types


CONTROLS = "nul\x00 bell\x07 esc\x1b[31m title\x1b]0;PWNED\x07 del\x7f back\x08 cr\r tab\t c1\x9b end"


def test_control_characters_are_sent_stored_and_piped_back_exactly(server, chat_env):
    run = chat(chat_env, "--thread", "ctl", stdin=CONTROLS.encode())
    assert run.code == 0, run
    assert user_turns(server.requests[-1]) == [("user", CONTROLS)]
    assert summary(stored(db_of(chat_env), "ctl")) == [("human", CONTROLS, None), ("ai", f"You said: {CONTROLS}", None)]
    assert run.out == f"You said: {CONTROLS}\n", "a pipe gets the model's exact text, escapes included"

    # A 5 MB paste on the same thread: refused before anything is sent; the thread is as it was.
    run = chat(chat_env, "--thread", "ctl", stdin=b"x" * (5 * 1024 * 1024))
    line = assert_one_error_line(run, 2)
    assert "too long" in line and "CHATCLI_CONTEXT_TOKENS" in line
    assert run.out == ""
    assert len(server.requests) == 1, "nothing sent"
    assert summary(stored(db_of(chat_env), "ctl"))[0] == ("human", CONTROLS, None)
    assert len(stored(db_of(chat_env), "ctl")) == 2
    assert integrity(db_of(chat_env)) == "ok"


def test_undecodable_bytes_in_an_argument_are_refused(server, chat_env):
    # What Python makes of the Latin-1 byte 0xE9 in argv: the lone surrogate U+DCE9.
    line = assert_one_error_line(chat(chat_env, "--thread", "latin1", "caf\udce9 au lait"), 2)
    assert "the message is not valid UTF-8 (character 4)" in line
    assert not server.requests


@pytest.mark.parametrize(
    "system, variables, what",
    [("caf\udce9", None, "the system prompt"), (None, {"drink": "caf\udce9"}, "--var drink")],
)
def test_undecodable_system_prompt_or_variable_is_refused(system, variables, what):
    from chatcli.config import Settings
    from chatcli.errors import UsageError
    from chatcli.service.backend import Backend
    from chatcli.service.thread import Thread

    conversation = Thread(Backend(None), "latin1", Settings())  # refused before the graph is read
    with pytest.raises(UsageError, match=f"{what} is not valid UTF-8"):
        asyncio.run(conversation.own("system").set_system(system, variables))
    assert conversation.pending == {}


def test_repl_refuses_undecodable_bytes_and_a_huge_paste_and_goes_on(server, chat_env):
    from tests.doors.prompt import Typed

    # The prompt in this process (tests/doors/prompt.py): the bytes go in as a terminal's would.
    typed = Typed({**chat_env, "CHATCLI_CONTEXT_TOKENS": "6000"}, ["--thread", "odd"])  # the user's own budget
    before = typed.ready()
    at = len(typed.err.getvalue())
    typed.keys.send_bytes(b"caf\xe9 latin-1 bytes\r")  # a terminal set to Latin-1
    typed.ready(before)
    said = typed.err.getvalue()[at:]
    assert "error: " in said and "not valid UTF-8" in said and "Traceback" not in typed.text, typed

    said = " ".join(typed.say("\x1b[200~" + "y" * 30_000 + "\x1b[201~"))  # a bracketed paste over that budget
    assert "error: " in said and "too long" in " ".join(said.split()), typed
    assert not server.requests, "nothing was sent"

    assert "You said: still here?" in typed.say("still here?")[0], typed
    assert typed.leave() == 0, typed
    assert user_turns(server.requests[-1]) == [("user", "still here?")]
    history = (Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "history").read_text()
    assert "still here?" in history and "y" * 1000 not in history, "a refused paste is not kept for Up"


@pytest.mark.parametrize(
    "thread",
    ["it's", 'say "hi"', "..", "with space", "line\nbreak", "ünïcode", "semi;colon", "$(rm -rf ~)", "a\\b"],
)
def test_odd_thread_ids_are_refused_with_a_clear_line(thread, server, chat_env):
    line = assert_one_error_line(chat(chat_env, "--thread", thread, "hi"), 2)
    assert line.startswith("chat: error: invalid thread id") and "letters, digits" in line
    assert not server.requests


# --------------------------------------------------------------------------- files it is pointed at


def test_db_under_a_regular_file_deeper_down_is_a_store_error(server, chat_env, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory\n")
    line = assert_one_error_line(chat(chat_env, "--db", str(blocker / "sub" / "chat.db"), "hi"), 5)
    assert "Not a directory" in line and "--db" in line
    assert blocker.read_text() == "not a directory\n"
    assert not server.requests


def test_db_whose_directory_is_a_regular_file_is_a_store_error(server, chat_env, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory\n")
    line = assert_one_error_line(chat(chat_env, "--db", str(blocker / "chat.db"), "hi"), 5)
    assert "file.txt" in line
    assert blocker.read_text() == "not a directory\n"
    assert not server.requests


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits: a read-only directory is writable to root")
def test_db_in_a_read_only_directory_is_a_store_error(server, chat_env, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        line = assert_one_error_line(chat(chat_env, "--db", str(locked / "chat.db"), "hi"), 5)
    finally:
        locked.chmod(0o700)
    assert "not writable" in line
    assert not server.requests


def test_read_only_directory_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """The same check as above, reachable as root: the directory is reported not writable."""
    from chatcli.errors import StoreError
    from chatcli.store.sqlite import prepare_db_path

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(StoreError, match="not writable"):
        prepare_db_path(str(tmp_path / "chat.db"))
    assert not (tmp_path / "chat.db").exists()


def test_another_programs_sqlite_file_is_refused_and_left_alone(server, chat_env, tmp_path):
    foreign = tmp_path / "notes.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    before = foreign.read_bytes()
    line = assert_one_error_line(chat(chat_env, "--db", str(foreign), "hi"), 5)
    assert "another program" in line
    assert foreign.read_bytes() == before
    assert not server.requests


def test_corrupt_database_is_refused_and_left_as_it_was(server, chat_env, tmp_path):
    corrupt = tmp_path / "corrupt.db"
    stored(corrupt, "good")  # a real chatcli database: every table created, no turn yet
    with closing(sqlite3.connect(corrupt)) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")  # fold the WAL in: one file
    data = bytearray(corrupt.read_bytes())
    assert len(data) > 4 * 4096
    data[4096:] = b"\xab" * (len(data) - 4096)  # every page but the first (the schema) is garbage
    corrupt.write_bytes(bytes(data))
    before = digest(corrupt)
    run = chat(chat_env, "--db", str(corrupt), "--thread", "good", "hi")
    line = assert_one_error_line(run, 5)
    assert "malformed" in line and str(corrupt) in line and "--db" in line
    assert digest(corrupt) == before
    assert not server.requests


def test_truncated_database_is_refused_and_left_as_it_was(server, chat_env, tmp_path):
    truncated = tmp_path / "truncated.db"
    with closing(sqlite3.connect(truncated)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(b"z" * 2000,)] * 20)
        conn.commit()
    truncated.write_bytes(truncated.read_bytes()[:100])
    before = digest(truncated)
    line = assert_one_error_line(chat(chat_env, "--db", str(truncated), "hi"), 5)
    assert str(truncated) in line
    assert digest(truncated) == before and no_companions(truncated)
    assert not server.requests


def test_database_from_a_newer_chatcli_is_refused_unchanged(server, chat_env, tmp_path):
    newer = tmp_path / "newer.db"
    with closing(sqlite3.connect(newer)) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute("PRAGMA user_version = 99")
        conn.commit()
    before = digest(newer)
    line = assert_one_error_line(chat(chat_env, "--db", str(newer), "hi"), 5)
    assert "newer chatcli" in line and "schema 99" in line and "upgrade" in line
    assert digest(newer) == before and no_companions(newer)
    assert not server.requests


def test_config_file_with_a_syntax_error_is_a_config_error(server, chat_env):
    config = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('model = "unterminated\n')
    line = assert_one_error_line(chat(chat_env, "hi"), 3)
    assert str(config) in line and "not valid TOML" in line and "line 1" in line
    assert not server.requests


class Endless(io.RawIOBase):
    """What `yes` writes, for ever."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        line = b"y\n" * (len(buffer) // 2)
        buffer[: len(line)] = line
        return len(line)


def test_endless_stdin_is_refused_at_the_limit_without_filling_the_memory(server, chat_env):
    """`yes | chat`: stdin is read up to the limit, then refused, in bounded time and memory (how far the memory of
    this process rose, as the kernel counts it: tests/test_huge_events.measured)."""
    from chatcli.app.run import MAX_STDIN
    from tests.test_huge_events import measured

    endless = io.TextIOWrapper(io.BufferedReader(Endless()), encoding="utf-8")
    run, peak = measured(chat_env, stdin=endless)
    lines = [line for line in run.err.splitlines() if line.startswith("chat:")]
    assert run.code == 2, run
    assert lines == [
        f"chat: error: stdin holds more than {MAX_STDIN >> 20} MB (chat reads at most {MAX_STDIN >> 20} MB from stdin)"
    ]
    assert peak < 400, f"{peak} MB at peak"
    assert not server.requests


@pytest.mark.e2e
def test_a_reader_that_leaves_early_ends_chat_quietly(server, chat_env):
    import subprocess

    from tests.fakeserver import Reply
    from tests.helpers import CHAT

    server.queue(Reply(" ".join(f"word{i}" for i in range(3000))))
    assert chat(chat_env, "-t", "bp", "first").code == 0  # a thread to list
    for command in (f"{CHAT} 'long answer please' | head -c 20", f"{CHAT} threads | head -0"):
        done = subprocess.run(
            ["bash", "-c", command + '; echo "status ${PIPESTATUS[0]}" >&2'],
            env=chat_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        errors = [line for line in done.stderr.splitlines() if not line.startswith(("thread: ", "status "))]
        assert errors == [], (command, done.stderr)
        assert done.stderr.rstrip().splitlines()[-1] in ("status 141", "status 0"), done.stderr


class Full(Captured):
    """A stdout on a full disk (/dev/full): every write fails so."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_under_stdout_is_one_line(server, chat_env):
    done = chat(chat_env, "hi", out=Full())
    errors = [line for line in done.err.splitlines() if not line.startswith("thread: ")]
    assert done.code == 1 and errors == ["chat: error: cannot write the output: No space left on device"], done


def test_an_input_history_path_that_is_a_directory_is_one_line(chat_env, tmp_path):
    from tests.doors.prompt import Typed

    typed = Typed({**chat_env, "CHATCLI_HISTORY_FILE": str(tmp_path)}, [])  # the prompt in this process
    typed.thread.join(60)
    assert typed.leave() == 3, typed
    assert f"the input history file {tmp_path} is a directory" in typed.text and "Traceback" not in typed.text


@pytest.mark.e2e
@pytest.mark.parametrize("flags", ["", "--jsonl"], ids=["text", "jsonl"])
def test_a_reader_that_leaves_mid_answer_ends_chat_with_141(server, chat_env, flags):
    """`chat --jsonl ... | head -3` ends as plain output does: 141 (SIGPIPE's), not a word on stderr."""
    import subprocess

    from tests.fakeserver import Reply
    from tests.helpers import CHAT

    server.queue(Reply("\n".join(f"word{i}" for i in range(3000)), delay=0.001))  # many lines, each a token
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"{CHAT} {flags} 'long answer please' | head -3 >/dev/null" + '; echo "status ${PIPESTATUS[0]}" >&2',
        ],
        env=chat_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    errors = [line for line in done.stderr.splitlines() if not line.startswith(("thread: ", "status "))]
    assert errors == [] and done.stderr.rstrip().splitlines()[-1] == "status 141", done.stderr


BAD_MODEL_NAMES = ["  ", " gpt-fake", "gpt-fake\t", "two words", "gpt\x1b[2J", "x" * 201]


def _named_by(source: str, name: str, env: dict[str, str]) -> list[str]:
    """Name the model ``name`` the way ``source`` does; the arguments before the question."""
    config = Path(env["XDG_CONFIG_HOME"]) / "chatcli"
    if source == "flag":
        return ["-m", name]
    if source == "environment":
        env["CHATCLI_MODEL"] = name
    elif source == "config file":
        env.pop("CHATCLI_MODEL", None)
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.toml").write_text(f"model = {json.dumps(name)}\n")
    elif source == "role file":
        (config / "roles").mkdir(parents=True, exist_ok=True)
        (config / "roles" / "r.toml").write_text(f'system = "Be brief."\nmodel = {json.dumps(name)}\n')
        return ["--role", "r"]
    return []


@pytest.mark.parametrize("name", BAD_MODEL_NAMES, ids=lambda s: repr(s)[:12])
@pytest.mark.parametrize("source", ["flag", "environment", "config file", "role file"])
def test_a_model_name_that_is_no_name_is_one_line_from_wherever_it_is_named(server, chat_env, source, name):
    """A blank name, one with spaces around or inside, a control character, an endless one: refused in one line
    before anything is asked, whether -m, CHATCLI_MODEL, config.toml or a role names it (the check is where a model
    is built, not at one door); never sent to the server as it is, nor taken as the default model."""
    env = dict(chat_env)
    args = _named_by(source, name, env)
    run = chat(env, *args, "hello")
    line = assert_one_error_line(run, 2 if source == "flag" else 3)  # the user's word, or a setting's
    where = {"flag": "command line: ", "environment": "environment: ", "config file": "config.toml: ",
             "role file": "r.toml: "}  # fmt: skip
    assert f"{where[source]}model must be a model name" in line, line  # where it was named, said
    assert "\x1b" not in line, line
    assert server.requests == []


@pytest.mark.parametrize("name", ["two words", " text-embedding-3-small", "x\x1b[2J"], ids=lambda s: repr(s)[:12])
def test_an_embedding_model_that_is_no_name_is_one_line_as_the_settings_are_read(server, chat_env, name):
    """The embedding model (memories' ranking) is a model's name as the chat model is: refused as it is read, not
    first when a turn ranks the memories."""
    line = assert_one_error_line(chat({**chat_env, "CHATCLI_EMBEDDING_MODEL": name}, "hello"), 3)
    assert "environment: embedding_model must be a model name" in line and "\x1b" not in line, line
    assert server.requests == []
