"""Nothing lost, nobody let in: model-server faults, interruptions and crashes, secrets.

Every fault row is played once in one-shot mode (exit code, the one error line, requests
counted, what the thread holds) and once in the REPL (it survives, the next turn carries the
question and any partial answer). Rows already covered by tests/test_cli.py are not repeated
here; docs/RELIABILITY.md lists which test proves each row.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import stat
import subprocess
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.doors.prompt import Typed
from tests.fakeserver import FAULT_TEXT, FakeOpenAIServer, Fault, Reply, closed_port_url, on_a_reused_port
from tests.helpers import (
    CHAT,
    KEY,
    Captured,
    Run,
    assert_one_error_line,
    chat,
    eventually,
    read_until,
    stored,
    summary,
)
from tests.mcp_servers import chat_argv
from tests.stores import dangling_nodes, is_url
from tests.test_cli import Session

# --------------------------------------------------------------------------- helpers (also used by
# tests/test_concurrency.py and tests/test_badinput.py)


def db_of(env: dict[str, str]) -> Path | str:
    """The database of a ``chat`` environment: its CHATCLI_DB URL (PostgreSQL), else the default file."""
    if is_url(env.get("CHATCLI_DB", "")):
        return env["CHATCLI_DB"]
    return Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db"


def integrity(db: Path | str) -> str:
    """SQLite's integrity check; on PostgreSQL, "ok" when every message node's parent exists."""
    if is_url(db):
        return "ok" if dangling_nodes(str(db)) == 0 else "dangling message nodes"
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def record_times(server: FakeOpenAIServer) -> list[float]:
    """Arrival time of each chat request to ``server`` (monotonic clock), appended as they come."""
    times: list[float] = []
    original = server._record_and_pop

    def record(body: dict, headers: dict, pop: bool = True) -> Any:
        times.append(time.monotonic())
        return original(body, headers, pop)

    server._record_and_pop = record  # type: ignore[method-assign]
    return times


def private_tree(root: Path) -> list[str]:
    """Paths under ``root`` that others could read: files must be 0600, directories 0700."""
    loose = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            loose.append(f"{path} {oct(mode)}")
    return loose


def user_turns(body: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in body["messages"] if m["role"] != "system"]


# --------------------------------------------------------------------------- the fault matrix, one-shot

RETRY = {"CHATCLI_MAX_RETRIES": "2"}
FAST_RETRY = {"retry-after-ms": "20"}
EVIL = "evil \x1b]0;PWNED\x07\x1b[2J text"


@dataclass
class Row:
    items: list[Fault | Reply]  # scripted for the turn, in order (retries consume the next ones)
    code: int
    pattern: str  # the error line (code != 0) or stdout (code 0) matches this
    env: dict[str, str] = field(default_factory=dict)
    requests: int = 1  # chat requests the server must see, retries included
    out: str = ""  # the partial answer printed on stdout (a newline follows when non-empty)
    kept: tuple[str, str | None] | None = None  # (text, interrupted mark) stored after the question
    min_gap: float = 0.0  # the first retry waits at least this long (backoff / Retry-After)


ROWS: dict[str, Row] = {
    # Permanent errors: never retried, even with retries allowed.
    "401-not-retried": Row([Fault(status=401)], 4, r"authentication refused by .*\(401\).*check OPENAI_API_KEY", RETRY),
    "403-not-retried": Row([Fault(status=403)], 4, r"access denied by .*\(403\).*permissions", RETRY),
    "404-not-retried": Row(
        [Fault(status=404)],
        4,
        r"model 'gpt-fake' not found at .*\(404\).*--model.*OPENAI_BASE_URL not the API's /v1",
        RETRY,
    ),
    # Transient errors: retried with backoff, honouring Retry-After.
    "429-retry-after-ms": Row(
        [Fault(status=429, headers={"retry-after-ms": "400"}), Reply("recovered from 429")],
        0,
        r"^recovered from 429\n$",
        RETRY,
        requests=2,
        kept=("recovered from 429", None),
        min_gap=0.38,
    ),
    "429-no-retry-after": Row(
        [Fault(status=429), Reply("recovered after backoff")],
        0,
        r"^recovered after backoff\n$",
        {"CHATCLI_MAX_RETRIES": "1"},
        requests=2,
        kept=("recovered after backoff", None),
        min_gap=0.35,  # the SDK's first backoff: 0.5 s minus up to 25 %
    ),
    "429-exhausted": Row(
        [Fault(status=429, headers=FAST_RETRY)] * 3,
        4,
        r"rate limited by .*\(429\) after 2 retries.*wait",
        RETRY,
        requests=3,
    ),
    "500-then-ok": Row(
        [Fault(status=500, headers=FAST_RETRY), Reply("recovered from 500")],
        0,
        r"^recovered from 500\n$",
        RETRY,
        requests=2,
        kept=("recovered from 500", None),
    ),
    "502": Row([Fault(status=502)], 4, r"server error from .*\(502\)"),
    "503-exhausted": Row(
        [Fault(status=503, headers=FAST_RETRY)] * 3,
        4,
        r"server error from .*\(503\) after 2 retries",
        RETRY,
        requests=3,
    ),
    # Broken streams: the part shown is kept, marked.
    "stall": Row(
        [Fault(stall_after=3, stall=10)],
        4,
        r"stalled: no text for more than 0.5 s.*kept.*CHATCLI_TIMEOUT",
        {"CHATCLI_TIMEOUT": "0.5"},
        out="The quick brown",
        kept=("The quick brown", "error"),
    ),
    "malformed": Row(
        [Fault(malformed=True)], 4, r"sent a malformed stream", out="The quick", kept=("The quick", "error")
    ),
    "empty": Row([Fault(empty=True)], 4, r"empty answer.*kept", kept=("", "empty")),
    "length": Row(
        [Reply("Half an answer", finish_reason="length")],
        4,
        r"cut off at the model's output limit",
        out="Half an answer",
        kept=("Half an answer", "length"),
    ),
    "content-filter": Row(
        [Reply("Some of it", finish_reason="content_filter")],
        4,
        r"content filter",
        out="Some of it",
        kept=("Some of it", "content_filter"),
    ),
    # The server's words are shown, defused.
    "500-escapes": Row([Fault(status=500, message=EVIL)], 4, r"evil ␛\]0;PWNED␇␛\[2J text"),
}


@dataclass
class Outcome:
    run: Run
    requests: int
    times: list[float]
    db: Path


def _play_row(name: str, row: Row, home: Path) -> Outcome:
    home.mkdir(parents=True)
    with on_a_reused_port() as server:
        times = record_times(server)
        server.queue(*row.items)
        session = Session(home, server)
        run = session.chat("--thread", f"r-{name}", f"question {name}", **row.env)
        return Outcome(run, len(server.requests), times, db_of(session.env))


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> Callable[[str], Outcome]:
    """Play every row (each with its own server and HOME); get one row's outcome."""
    root = tmp_path_factory.mktemp("faults")
    results: dict[str, Any] = {}
    for name, row in ROWS.items():  # chat runs in this process: one row at a time
        try:
            results[name] = _play_row(name, row, root / name)
        except BaseException as exc:  # noqa: BLE001 - reported by the row's own test
            results[name] = exc

    def get(name: str) -> Outcome:
        if isinstance(results[name], BaseException):
            raise results[name]
        return results[name]

    return get


@pytest.mark.parametrize("name", list(ROWS))
def test_fault_one_shot_says_what_happened(name, matrix):
    row, outcome = ROWS[name], matrix(name)
    run = outcome.run
    if row.code:
        line = assert_one_error_line(run, row.code)
        assert re.search(row.pattern, line), run
        assert run.out == (row.out + "\n" if row.out else ""), run
    else:
        assert run.code == 0, run
        assert re.search(row.pattern, run.out), run
        assert "Traceback" not in run.err
    assert "\x1b" not in run.err, "no raw escape sequence reaches the terminal"
    assert KEY not in run.out + run.err
    assert outcome.requests == row.requests, f"{outcome.requests} requests, expected {row.requests}"
    if row.min_gap:
        gap = outcome.times[1] - outcome.times[0]
        assert gap >= row.min_gap, f"retried after {gap:.2f} s"


@pytest.mark.parametrize("name", list(ROWS))
def test_fault_keeps_the_question_and_the_partial_answer(name, matrix):
    row, outcome = ROWS[name], matrix(name)
    history = summary(stored(outcome.db, f"r-{name}"))
    expected = [("human", f"question {name}", None)]
    if row.kept is not None:
        expected.append(("ai", *row.kept))
    assert history == expected


# --------------------------------------------------------------------------- the fault matrix, REPL

# (fault, pattern of the error shown, assistant text the next request must carry after the question)
REPL_ROWS: dict[str, tuple[Fault | Reply, str, str | None]] = {
    "401": (Fault(status=401), r"authentication refused .*\(401\)", None),
    "403": (Fault(status=403), r"access denied .*\(403\)", None),
    "404": (Fault(status=404), r"model 'gpt-fake' not found", None),
    "429": (Fault(status=429), r"rate limited .*\(429\)", None),
    "500": (Fault(status=500), r"server error .*\(500\)", None),
    "502": (Fault(status=502), r"server error .*\(502\)", None),
    "503": (Fault(status=503), r"server error .*\(503\)", None),
    "cut": (Fault(cut_after=3), r"connection .* broke in the middle", "The quick brown"),
    "stall": (Fault(stall_after=3, stall=10), r"stalled: no text for more than 2 s", "The quick brown"),
    "malformed": (Fault(malformed=True), r"malformed stream", "The quick"),
    "empty": (Fault(empty=True), r"empty answer", ""),
    "no-finish": (Fault(no_finish=True), r"ended early", FAULT_TEXT),
    "length": (Reply("Half an answer", finish_reason="length"), r"output limit", "Half an answer"),
}


def _one_error_line(shown: str) -> str:
    assert "Traceback" not in shown, shown
    starts = re.findall(r"^error: ", shown, re.M)
    assert len(starts) == 1, shown
    return " ".join(shown[shown.index("error: ") :].split())  # rich may wrap a long line


def test_repl_survives_every_fault_and_the_next_turn_carries_it(server, chat_env):
    typed = Typed({**chat_env, "CHATCLI_TIMEOUT": "2"}, ["--thread", "faults"])
    try:
        for name, (item, pattern, _) in REPL_ROWS.items():
            server.queue(item)
            line = _one_error_line("\n".join(typed.say(f"question {name}")))
            assert re.search(pattern, line), (name, line)
            assert typed.thread.is_alive()
            out, _err = typed.say(f"after {name}")
            assert f"You said: after {name}" in out, typed
        body = server.requests[-1]
    finally:
        code = typed.leave()
    assert code == 0, typed

    # The last request holds every turn: each question, the part kept of its answer, the next turn.
    sent = [
        ("assistant", "<echo>") if text.startswith("You said: ") else (role, text) for role, text in user_turns(body)
    ]
    expected: list[tuple[str, str]] = []
    for name, (_, _, kept) in REPL_ROWS.items():
        expected.append(("user", f"question {name}"))
        if kept is not None:
            expected.append(("assistant", kept))
        expected += [("user", f"after {name}"), ("assistant", "<echo>")]
    assert sent == expected[:-1]
    marks = {
        m.content: (m.response_metadata or {}).get("interrupted")
        for m in stored(db_of(chat_env), "faults")
        if m.type == "ai"
    }
    assert marks["The quick brown"] == "error" and marks["The quick"] == "error"
    assert marks[""] == "empty" and marks[FAULT_TEXT] == "truncated" and marks["Half an answer"] == "length"


def test_repl_with_the_server_down_keeps_the_question_and_stays_up(server, chat_env):
    typed = Typed({**chat_env, "OPENAI_BASE_URL": closed_port_url()}, ["--thread", "down"])
    try:
        line = _one_error_line("\n".join(typed.say("anyone there?")))
        assert "could not open the connection" in line and "is the server running?" in line
        assert typed.thread.is_alive()
    finally:
        code = typed.leave()
    assert code == 0, typed
    # (That the next turn then carries it: tests/test_cli.py::test_failed_question_stays_in_the_thread[refused].)
    assert summary(stored(db_of(chat_env), "down")) == [("human", "anyone there?", None)]


# --------------------------------------------------------------------------- interruptions and crashes


def slow_words(prefix: str, n: int = 40) -> str:
    return " ".join(f"{prefix}{i:02d}" for i in range(1, n + 1))


@pytest.mark.e2e
def test_ctrl_c_in_one_shot_stops_at_once_keeps_the_partial_and_exits_130(server, chat_env):
    full = slow_words("w", 100)
    server.queue(Reply(full, delay=0.2))  # 20 s of answer: the stop and the exit are measured against it
    proc = subprocess.Popen(
        chat_argv(CHAT, "--thread", "intr", "count slowly"),
        env=chat_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As in a terminal: a test run started in the background inherits SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    noted: list[int] = []  # the answer's streams ended when stderr said "stopped"
    err_lines: list[bytes] = []

    def read_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            err_lines.append(line)
            if line.startswith(b"stopped"):
                noted.append(server.streams_ended)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        shown = read_until(proc.stdout, b"w03")  # a few tokens arrived and are on the screen
        ended = server.streams_ended
        proc.send_signal(signal.SIGINT)
        out = shown + proc.stdout.read()  # type: ignore[union-attr]
        proc.wait(timeout=60)
        exited = server.streams_ended  # the answer's streams ended as the process ended
        reader.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out_text, err_text = out.decode(), b"".join(err_lines).decode()
    assert proc.returncode == 130, (out_text, err_text)
    assert noted, err_text
    # Measured: the reply stops and its part is saved within about 0.01 s of the signal, the process is gone in
    # about 0.5 s. Bounded by the answer's own time: both came before it would have ended.
    assert noted[0] == ended, "the stop waited for the answer to end"
    assert exited == ended, "the process waited for the answer to end before it exited"
    assert "Traceback" not in err_text and "kept" in err_text
    partial = out_text.rstrip("\n")
    assert partial.startswith("w01 w02") and full.startswith(partial) and len(partial) < len(full)
    assert summary(stored(db_of(chat_env), "intr")) == [("human", "count slowly", None), ("ai", partial, "cancelled")]

    run = chat(chat_env, "--thread", "intr", "go on")
    assert run.code == 0, run
    assert user_turns(server.requests[-1]) == [("user", "count slowly"), ("assistant", partial), ("user", "go on")]


@pytest.mark.e2e
def test_kill_9_mid_reply_loses_nothing_committed_and_the_database_is_sound(server, chat_env):
    assert chat(chat_env, "--thread", "crash", "first question").code == 0
    server.queue(Reply(slow_words("k"), delay=0.1))
    proc = subprocess.Popen(
        [str(CHAT), "--thread", "crash", "second question"],
        env=chat_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        read_until(proc.stdout, b"k03")  # mid-stream: a few tokens are out, more to come
        assert proc.poll() is None, "still streaming"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    db = db_of(chat_env)
    assert integrity(db) == "ok"
    assert summary(stored(db, "crash")) == [
        ("human", "first question", None),
        ("ai", "You said: first question", None),
        ("human", "second question", None),
    ]
    run = chat(chat_env, "--thread", "crash", "third question")
    assert run.code == 0, run
    assert user_turns(server.requests[-1]) == [
        ("user", "first question"),
        ("assistant", "You said: first question"),
        ("user", "second question"),
        ("user", "third question"),
    ]
    assert integrity(db) == "ok"


# --------------------------------------------------------------------------- secrets and the terminal


def test_api_key_is_nowhere_after_failing_runs_with_debug(server, chat_env, isolated_env):
    # The server echoes the key back (as OpenAI does on a 401), then a stream breaks.
    server.queue(Fault(status=401, message=f"Incorrect API key provided: {KEY}"), Fault(cut_after=2))
    first = chat(chat_env, "--debug", "--thread", "sec", f"my key is not {KEY[:6]}")
    second = chat(chat_env, "--debug", "--thread", "sec", "second")
    for run, code in ((first, 4), (second, 4)):
        assert run.code == code, run
        assert "Traceback" in run.err, "--debug shows the traceback"
        assert KEY not in run.out + run.err and "SECRET-0123456789" not in run.err, run
    assert any(request.get("messages") for request in server.requests)
    files = [p for p in isolated_env.rglob("*") if p.is_file()]
    assert any(p.name == "chat.db" for p in files)
    for path in files:
        assert KEY.encode() not in path.read_bytes(), f"the key is in {path}"
    assert private_tree(db_of(chat_env).parent) == []


def test_escape_sequences_from_the_model_are_defused_in_the_terminal(server, chat_env):
    # (Piped, the exact text goes through: tests/test_badinput.py::test_control_characters_...)
    text = "Look: \x1b]0;PWNED\x07 title and \x1b[2J clear, done."
    server.queue(Reply(text), Fault(status=500, message=EVIL))
    typed = Typed(chat_env, ["--thread", "esc"])
    try:
        assert "done." in typed.say("say something nasty")[0], typed
        line = _one_error_line("\n".join(typed.say("and an error")))
        raw = typed.out.getvalue() + typed.err.getvalue()  # every byte chat wrote to its terminal
        assert "\x1b]0;PWNED" not in raw and "\x1b[2J" not in raw and "\x07" not in raw
        assert "␛]0;PWNED␇" in typed.text and "␛[2J" in typed.text, "shown as visible symbols"
        assert "evil ␛]0;PWNED␇␛[2J text" in line
    finally:
        code = typed.leave()
    assert code == 0, typed
    # Everything the REPL created (database, lock, history) is private.
    assert private_tree(db_of(chat_env).parent) == []
    assert (db_of(chat_env).parent / "history").is_file()


@pytest.mark.stores("sqlite")
def test_repl_on_a_locked_sqlite_database_waits_saying_so_and_goes_on(server, chat_env):
    """Another program holds the file under an open prompt: chat says it waits, then answers."""
    db = db_of(chat_env)
    typed = Typed(chat_env, ["--thread", "lk"])
    try:
        assert "You said: before the lock" in typed.say("before the lock")[0], typed
        before = typed.ready()
        with closing(sqlite3.connect(db, timeout=0)) as holder:
            holder.execute("BEGIN EXCLUSIVE")  # another program holds the whole file
            typed.keys.send_text("while it is locked\r")
            eventually(lambda: "waiting for it" in typed.text, "chat to say it waits", timeout=30)
            holder.rollback()
        typed.ready(before)
        assert "You said: while it is locked" in typed.text, typed
        line = " ".join(typed.text.split())
        assert f"{db} is locked by another program" in line, line
        assert "error" not in line and "Traceback" not in line
    finally:
        code = typed.leave()
    assert code == 0, typed
    asked = [text for kind, text, _ in summary(stored(db, "lk")) if kind == "human"]
    assert asked == ["before the lock", "while it is locked"]


def _hold_exclusive(db, seconds: float, started, release=None) -> None:
    """Hold ``db`` locked for ``seconds``, or until ``release`` (an Event) is set if sooner."""
    import sqlite3
    import threading
    from contextlib import closing

    with closing(sqlite3.connect(db, timeout=0)) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        started.set()
        (release or threading.Event()).wait(seconds)
        holder.rollback()


@pytest.mark.stores("sqlite")
def test_a_lock_held_for_seconds_is_waited_for_with_a_note_and_the_question_goes_first(server, chat_env, monkeypatch):
    """Another program holds the file for a while: chat says it waits, stores the question, then answers.

    The lock is held until chat has said that it waits (at most 10 s): past SQLite's own wait,
    however slow the machine, and no longer than that."""
    import threading

    from chatcli.store import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 300)  # SQLite's own wait, before chat's
    assert chat(chat_env, "-t", "L", "first").code == 0
    started, noted = threading.Event(), threading.Event()

    class Watched(Captured):
        def write(self, text: str) -> int:
            written = super().write(text)
            if "is locked by another program: waiting for it" in self.getvalue():
                noted.set()
            return written

    holder = threading.Thread(target=_hold_exclusive, args=(db_of(chat_env), 10, started, noted))
    holder.start()
    started.wait(5)
    try:
        run = chat(chat_env, "-t", "L", "while locked", err=Watched())
    finally:
        noted.set()
        holder.join()
    assert run.code == 0, run
    assert any("is locked by another program: waiting for it" in line for line in run.err_lines), run
    assert run.out.startswith("You said: while locked")
    assert [t for k, t, _ in summary(stored(db_of(chat_env), "L")) if k == "human"] == ["first", "while locked"]


@pytest.mark.stores("sqlite")
def test_a_question_that_cannot_be_stored_is_not_sent(server, chat_env, monkeypatch):
    """The lock outlasts the wait: one line, exit 5, and the model was never asked.

    The lock is held until chat has given up (at most 30 s), so it outlasts the wait however
    slow the machine, and the test does not sit out a fixed hold after chat is done."""
    import threading

    from chatcli.store import base
    from chatcli.store import sqlite as sqlite_store

    monkeypatch.setattr(base, "BUSY_WAIT", 0.3)
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 100)
    assert chat(chat_env, "-t", "N", "first").code == 0
    asked = len(server.requests)
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_exclusive, args=(db_of(chat_env), 30, started, release))
    holder.start()
    started.wait(5)
    try:
        run = chat(chat_env, "-t", "N", "never sent")
    finally:
        release.set()
        holder.join()
    assert run.code == 5 and "Traceback" not in run.err, run
    errors = [line for line in run.err_lines if line.startswith("chat: error: ")]
    assert len(errors) == 1 and "database is locked" in errors[0], run
    assert len(server.requests) == asked, "nothing reached the model"


@pytest.mark.stores("sqlite")
async def test_a_database_deleted_while_chat_runs_is_noticed_and_said(settings, server, tmp_path):
    """The file is deleted under an open conversation: the next turn says so instead of writing
    into a file that is gone when chat ends."""
    import os

    from chatcli.errors import StoreError
    from tests.helpers import a_thread

    async with a_thread(settings, "gone") as conversation:
        await conversation.send("first")
        os.unlink(settings.db)
        with pytest.raises(StoreError, match="was deleted or replaced while chat was running"):
            await conversation.send("second")
    asked = len(server.requests)
    assert asked == 1, "the second question was not sent"
