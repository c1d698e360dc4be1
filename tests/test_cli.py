"""The installed ``chat`` command, run as a user would, against the fake OpenAI-compatible server."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from chatcli.config import DEFAULT_SYSTEM
from tests.fakeserver import FAULT_TEXT, FakeOpenAIServer, Fault, Reply, closed_port_url, on_a_reused_port
from tests.helpers import CHAT, KEY, THREAD_NOTE, Run, assert_one_error_line, chat, roles

ANSI = "\x1b"


@pytest.mark.e2e
def test_console_script_is_next_to_the_interpreter():
    assert CHAT.exists(), f"{CHAT} missing: is chatcli installed in this venv?"


# --------------------------------------------------------------------------- one-shot answers


def test_piped_question_prints_only_the_reply(server, chat_env):
    server.queue(Reply("Hello there, friend."))
    run = chat(chat_env, stdin="what is up?\n")
    assert run.code == 0, run
    assert run.out == "Hello there, friend.\n"
    assert ANSI not in run.out and ANSI not in run.err
    thread = THREAD_NOTE.search(run.err)
    assert thread, run
    assert thread.group(1) not in run.out
    body = server.requests[-1]
    assert body["model"] == "gpt-fake", "CHATCLI_MODEL reaches the request"
    assert roles(body)[-1][0] == "user" and roles(body)[-1][1].strip() == "what is up?"
    # The default database lives under $XDG_DATA_HOME and, like its companions, is private.
    db = Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "chat.db"
    assert db.is_file()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for path in db.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"


def test_question_argument_prints_only_the_reply(server, chat_env):
    server.queue(Reply("Line one.\nLine two.\n"))
    run = chat(chat_env, "--thread", "named-thread-1", "tell me two lines")
    assert run.code == 0, run
    assert run.out == "Line one.\nLine two.\n", "exact text, no extra blank line"
    assert ANSI not in run.out and ANSI not in run.err
    assert "named-thread-1" in run.err and "named-thread-1" not in run.out
    assert roles(server.requests[-1])[-1] == ("user", "tell me two lines")


@pytest.mark.e2e
def test_python_m_chatcli_version():
    proc = subprocess.run([sys.executable, "-m", "chatcli", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"chatcli \d+\.\d+\S*\n", proc.stdout)


# --------------------------------------------------------------------------- conversations over several runs
#
# The scenarios that need several runs play once per module, each with its own fake server and
# HOME (scripted replies are a FIFO per server); the tests below only check what each recorded.


class Session:
    """One scenario's world: a fake server, a HOME, and the ``chat`` runs made in it."""

    def __init__(self, home: Path, server: FakeOpenAIServer):
        self.server = server
        self.home = home  # also the working directory: no stray .env gets read
        self.env = base_env(home, server.base_url)

    def chat(self, *args: str, stdin: bytes | str = b"", **env: str) -> Run:
        return chat({**self.env, **env}, *args, stdin=stdin, cwd=self.home)

    def last_body(self) -> dict:
        assert self.server.requests, "the server got no request"
        return self.server.requests[-1]


def base_env(home: Path, base_url: str) -> dict[str, str]:
    """Like the ``chat_env`` fixture, for a HOME of the scenario's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCLI_", "NO_COLOR", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY=KEY,
        CHATCLI_MODEL="gpt-fake",
        CHATCLI_TIMEOUT="5",
        CHATCLI_MAX_RETRIES="0",
    )
    return env


SCENARIOS: dict[str, Callable[[Session], Any]] = {}


def scenario(fn: Callable[[Session], Any]) -> Callable[[Session], Any]:
    SCENARIOS[fn.__name__] = fn
    return fn


@scenario
def memory(s: Session) -> tuple[Run, Run, dict]:
    first = s.chat("--thread", "t1", "my name is Zed")
    second = s.chat("--thread", "t1", "what is my name?")
    return first, second, s.last_body()


@scenario
def combined(s: Session) -> tuple[Run, dict]:
    """A question and piped text, with a --model flag that must beat CHATCLI_MODEL."""
    run = s.chat(
        "--model",
        "model-from-flag",
        "Summarize this:",
        stdin="The piped document body.\n",
        CHATCLI_MODEL="model-from-env",
    )
    return run, s.last_body()


@scenario
def pirate(s: Session) -> list[tuple[Run, dict]]:
    runs = []
    for args in (
        ["--thread", "p1", "--system", "You talk like a pirate.", "hello"],
        ["--thread", "p1", "and again"],
        ["--thread", "p2", "new thread"],
    ):
        runs.append((s.chat(*args), s.last_body()))
    return runs


@scenario
def variables(s: Session) -> list[tuple[Run, dict]]:
    runs = []
    for args in (
        ["--thread", "v1", "--system", "Answer in {language}.", "--var", "language=Spanish", "hola"],
        ["--thread", "v1", "otra vez"],
    ):
        runs.append((s.chat(*args), s.last_body()))
    return runs


@dataclass
class ErrorCase:
    item: Fault | None  # scripted for the failing turn; None with refused=True
    pattern: str  # the error line must match this (case-insensitive)
    refused: bool = False
    debug: bool = False
    follow_up: bool = True
    partial: str = ""  # what stdout must show of the answer (plus a newline) when non-empty
    kept_answer: str | None = None  # assistant text the follow-up request must carry


ERROR_CASES: dict[str, ErrorCase] = {
    "refused": ErrorCase(None, r"connection", refused=True),
    # The server echoes the key back, as OpenAI does: it must not reach the terminal.
    "401": ErrorCase(
        Fault(status=401, message=f"Incorrect API key provided: {KEY}"), r"401.*authentication|authentication.*401"
    ),
    "429": ErrorCase(Fault(status=429, headers={"retry-after": "0"}), r"rate"),
    "500": ErrorCase(Fault(status=500), r"500"),
    "cut": ErrorCase(Fault(cut_after=3), r"connection", partial="The quick brown", kept_answer="The quick brown"),
    "no-finish": ErrorCase(
        Fault(no_finish=True), r"cut off|ended early|incomplete|truncated", partial=FAULT_TEXT, kept_answer=FAULT_TEXT
    ),
    "401-echoes-key-debug": ErrorCase(
        Fault(status=401, message=f"Incorrect API key provided: {KEY}"), r"401", debug=True, follow_up=False
    ),
}


@dataclass
class ErrorOutcome:
    failed: Run
    follow: Run | None = None
    follow_body: dict | None = None


def error_scenario(name: str, case: ErrorCase) -> Callable[[Session], ErrorOutcome]:
    def play(s: Session) -> ErrorOutcome:
        if case.item is not None:
            s.server.queue(case.item)
        env = {"OPENAI_BASE_URL": closed_port_url()} if case.refused else {}
        args = ["--debug"] if case.debug else []
        failed = s.chat(*args, "--thread", f"t-{name}", f"failing question {name}", **env)
        if not case.follow_up:
            return ErrorOutcome(failed)
        follow = s.chat("--thread", f"t-{name}", "follow-up question")
        return ErrorOutcome(failed, follow, s.last_body())

    return play


for _name, _case in ERROR_CASES.items():
    SCENARIOS[f"error:{_name}"] = error_scenario(_name, _case)


def _play(name: str, home: Path) -> Any:
    home.mkdir(parents=True)
    with on_a_reused_port() as server:
        try:
            return SCENARIOS[name](Session(home, server))
        except BaseException as exc:  # noqa: BLE001 - reported by the test that reads this scenario
            return exc


@pytest.fixture(scope="module")
def played(tmp_path_factory) -> Callable[[str], Any]:
    """Play every scenario and hand back a getter for one scenario's result."""
    root = tmp_path_factory.mktemp("scenarios")
    results = {name: _play(name, root / re.sub(r"\W", "_", name)) for name in SCENARIOS}

    def get(name: str) -> Any:
        result = results[name]
        if isinstance(result, BaseException):
            raise result
        return result

    return get


def test_memory_across_processes(played):
    first, second, body = played("memory")
    assert first.code == 0, first
    assert first.out == "You said: my name is Zed\n"
    assert second.code == 0, second
    assert "my name is Zed" in second.out
    assert roles(body) == [
        ("system", DEFAULT_SYSTEM),
        ("user", "my name is Zed"),
        ("assistant", "You said: my name is Zed"),
        ("user", "what is my name?"),
    ]


def test_question_and_piped_text_are_combined_question_first(played):
    run, body = played("combined")
    assert run.code == 0, run
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    assert len(users) == 1, "one message, not two"
    assert users[0].startswith("Summarize this:")
    assert "The piped document body." in users[0]


def test_system_prompt_is_kept_with_its_thread(played):
    (first, b1), (second, b2), (other, b3) = played("pirate")
    for run in (first, second, other):
        assert run.code == 0, run
    assert roles(b1)[0] == ("system", "You talk like a pirate.")
    assert roles(b2)[0] == ("system", "You talk like a pirate."), "kept without --system"
    assert roles(b3)[0] == ("system", DEFAULT_SYSTEM), "another thread gets the default"


def test_system_variables_are_filled_and_kept(played):
    (first, b1), (second, b2) = played("variables")
    assert first.code == 0 and second.code == 0, (first, second)
    assert roles(b1)[0] == ("system", "Answer in Spanish.")
    assert roles(b2)[0] == ("system", "Answer in Spanish."), "kept without --system/--var"


def test_model_flag_beats_environment(played):
    run, body = played("combined")
    assert run.code == 0, run
    assert body["model"] == "model-from-flag"


@pytest.mark.parametrize("name", [n for n in ERROR_CASES if not ERROR_CASES[n].debug])
def test_error_is_one_line_with_exit_4(name, played):
    case, outcome = ERROR_CASES[name], played(f"error:{name}")
    line = assert_one_error_line(outcome.failed, 4)
    assert re.search(case.pattern, line, re.I), outcome.failed
    assert outcome.failed.out == (case.partial + "\n" if case.partial else ""), outcome.failed


@pytest.mark.parametrize("name", [n for n in ERROR_CASES if ERROR_CASES[n].follow_up])
def test_failed_question_stays_in_the_thread(name, played):
    case, outcome = ERROR_CASES[name], played(f"error:{name}")
    assert outcome.follow is not None and outcome.follow.code == 0, outcome.follow
    sent = roles(outcome.follow_body)
    question = ("user", f"failing question {name}")
    assert question in sent, sent
    assert sent[-1] == ("user", "follow-up question")
    if case.kept_answer is not None:
        answer = ("assistant", case.kept_answer)
        assert answer in sent, sent
        assert sent.index(question) < sent.index(answer) < len(sent) - 1
    # The echo reply proves the server saw the failed question as earlier history.
    assert f"failing question {name}" in outcome.follow.out


def test_debug_shows_a_traceback(played):
    run = played("error:401-echoes-key-debug").failed
    assert run.code == 4, run
    assert "Traceback" in run.err
    assert run.err.rstrip().splitlines()[-1].startswith("chat: error: "), "the one-line message still ends it"


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_api_key_never_shown(name, played):
    outcome = played(f"error:{name}")
    for run in (outcome.failed, outcome.follow):
        if run is not None:
            assert KEY not in run.out and KEY not in run.err, run
            assert "SECRET-0123456789" not in run.err, run


# --------------------------------------------------------------------------- configuration and usage errors


def test_no_key_and_no_base_url_is_a_config_error(chat_env):
    env = {k: v for k, v in chat_env.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["CHATCLI_LOCAL"] = "0"  # no fallback on the local model, installed or not
    run = chat(env, "hello")
    line = assert_one_error_line(run, 3)
    assert "OPENAI_API_KEY" in line
    assert run.out == ""


def test_bad_config_file_is_a_config_error(chat_env):
    config = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('modle = "typo"\n')
    line = assert_one_error_line(chat(chat_env, "hello"), 3)
    assert "modle" in line


@pytest.mark.parametrize(
    "args, stdin, needle",
    [
        (["--thread", "a/b", "hi"], b"", "thread"),
        (["--thread", "x" * 500, "hi"], b"", "thread"),
        (["--thread", "-leading-dash", "hi"], b"", None),
        (["--var", "no-equals-sign", "hi"], b"", "--var"),
        ([], b"", "empty"),
        ([], b"   \n\t\n", "empty"),
        (["   "], b"", "empty"),
        ([], b"caf\xe9 latin-1\n", "UTF-8"),
    ],
    ids=["slash", "too-long", "dash", "bad-var", "empty-stdin", "blank-stdin", "blank-arg", "latin1-stdin"],
)
def test_usage_errors_exit_2(args, stdin, needle, server, chat_env):
    run = chat(chat_env, *args, stdin=stdin)
    assert run.code == 2, run
    assert "Traceback" not in run.err
    assert run.out == ""
    assert not server.requests, "nothing was sent"
    if needle:
        assert needle in run.err, run
    if args[:1] == ["--thread"] and len(args[1]) == 500:
        assert len(run.err) < 400, "the message does not repeat a huge id"


# --------------------------------------------------------------------------- the database file


def test_db_in_a_missing_directory_is_created_private(server, chat_env, tmp_path):
    db = tmp_path / "new" / "deeper" / "chat.db"
    run = chat(chat_env, "--db", str(db), "hi")
    assert run.code == 0, run
    assert db.is_file()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


@pytest.mark.parametrize("how", ["flag", "env"])
def test_db_that_is_not_sqlite_is_refused_and_untouched(how, server, chat_env, tmp_path):
    db = tmp_path / "notes.txt"
    garbage = b"These are my precious notes, not a database.\n" + bytes(range(256)) * 8
    db.write_bytes(garbage)
    if how == "flag":
        run = chat(chat_env, "--db", str(db), "hi")
    else:
        run = chat({**chat_env, "CHATCLI_DB": str(db)}, "hi")
    line = assert_one_error_line(run, 5)
    assert str(db) in line and "database" in line
    assert db.read_bytes() == garbage
    assert not server.requests
    assert not db.with_name(db.name + "-wal").exists() and not db.with_name(db.name + "-journal").exists()


def test_the_command_line_is_built_once_a_process_and_again_when_a_command_is_added():
    """Typer builds chat's click commands from its functions each time it is asked (some 6 ms); the app keeps them,
    and builds them again should a command be added."""
    from chatcli.app.shared import _App

    app = _App()

    @app.command()
    def first() -> None:
        """The first."""

    @app.command()
    def second() -> None:
        """The second."""

    built = app.commands()
    assert app.commands() is built and sorted(built.commands) == ["first", "second"]

    @app.command()
    def third() -> None:
        """The third."""

    assert sorted(app.commands().commands) == ["first", "second", "third"]
