"""A SQLite file that cannot be opened is said for what stops it: a full disk, an I/O error, a file that cannot be
opened (each: the file is unharmed), another program's lock, a damaged file. Only a file that is no database at all
"is not a chatcli database". Every SQLite error class at the unit; the real ones where they can be provoked (a 2 MB
tmpfs filled to the last byte, mounted read-only; a file of text; a truncated file)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Iterator

import pytest

from chatcli.store.sqlite import held, opening_error, sqlite_guard
from tests.fakeserver import Reply
from tests.helpers import assert_one_error_line, chat

# SQLite's primary result codes, by name (https://sqlite.org/rescode.html): an extended code is one of these and more.
PRIMARY = (
    "ERROR INTERNAL PERM ABORT BUSY LOCKED NOMEM READONLY INTERRUPT IOERR CORRUPT NOTFOUND FULL CANTOPEN PROTOCOL "
    "EMPTY SCHEMA TOOBIG CONSTRAINT MISMATCH MISUSE NOLFS AUTH FORMAT RANGE NOTADB"
).split()
# Every error code Python's sqlite3 names, primary or extended (SQLITE_IOERR_SHMSIZE is what a full disk gives).
CODES = sorted(
    (name, getattr(sqlite3, name))
    for name in dir(sqlite3)
    if any(name == f"SQLITE_{p}" or name.startswith(f"SQLITE_{p}_") for p in PRIMARY)
)
WORDS = {  # SQLite's own words for each primary code (sqlite3_errstr)
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_FULL": "database or disk is full",
    "SQLITE_CANTOPEN": "unable to open database file",
    "SQLITE_NOTADB": "file is not a database",
    "SQLITE_CORRUPT": "database disk image is malformed",
    "SQLITE_BUSY": "database is locked",
}


def failure(name: str, code: int) -> sqlite3.Error:
    """The error sqlite3 raises for ``code``, as it raises it (its class, SQLite's words, the code and its name)."""
    primary = next(p for p in PRIMARY if name == f"SQLITE_{p}" or name.startswith(f"SQLITE_{p}_"))
    kind = sqlite3.DatabaseError if primary in ("NOTADB", "CORRUPT") else sqlite3.OperationalError
    exc = kind(WORDS.get(f"SQLITE_{primary}", primary.lower()))
    exc.sqlite_errorcode, exc.sqlite_errorname = code, name  # type: ignore[attr-defined]
    return exc


def said(path: Path, exc: sqlite3.Error, room: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("chatcli.store.sqlite._no_room", lambda _: not room)
    return str(opening_error(path, exc))  # the line and its hint, as chat says them


@pytest.mark.parametrize("room", [True, False], ids=["room-left", "disk-full"])
def test_every_sqlite_error_at_open_is_named_for_what_it_is(tmp_path, monkeypatch, room):
    path = tmp_path / "chat.db"
    assert len(CODES) > 60, CODES  # the whole class, extended codes among them
    for name, code in CODES:
        line = said(path, failure(name, code), room, monkeypatch)
        primary = code & 0xFF
        assert ("not a chatcli database" in line) == (primary == sqlite3.SQLITE_NOTADB), (name, line)
        if primary == sqlite3.SQLITE_FULL or (not room and primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN)):
            assert (
                line
                == f"cannot open {path}: the disk it is on is full (the file is unharmed: free some space and try again)"
            ), (name, line)
        elif primary == sqlite3.SQLITE_IOERR:
            assert (
                line
                == f"cannot open {path}: a disk I/O error ({name}) (the file is unharmed: check the disk and try again)"
            ), (name, line)
        elif primary == sqlite3.SQLITE_CANTOPEN:
            assert line.startswith(f"cannot open {path} (unable to open database file) (the file is unharmed: "), (
                name,
                line,
            )
        elif primary == sqlite3.SQLITE_CORRUPT:
            assert (
                line
                == f"database error in {path}: database disk image is malformed (the file is damaged: restore a backup or choose another --db)"
            ), (name, line)
        elif primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            assert line.startswith(f"{path} is locked by another program ("), (name, line)
        if primary != sqlite3.SQLITE_NOTADB:
            assert "choose another --db" not in line or primary == sqlite3.SQLITE_CORRUPT, (name, line)


@pytest.mark.parametrize("verb", ["threads", "continue"])
def test_only_a_file_that_is_no_database_is_not_a_chatcli_database(server, chat_env, tmp_path, verb):
    text = tmp_path / "notes.db"
    text.write_bytes(b"These are my notes, not a database.\n" * 100)
    truncated = tmp_path / "truncated.db"
    with closing(sqlite3.connect(truncated)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(b"z" * 2000,)] * 20)
        conn.commit()
    truncated.write_bytes(truncated.read_bytes()[:100])
    args = ["threads"] if verb == "threads" else ["-c", "hi"]
    line = assert_one_error_line(chat(chat_env, "--db", str(text), *args), 5)
    assert line == f"chat: error: {text} is not a chatcli database (file is not a database) (choose another --db)"
    line = assert_one_error_line(chat(chat_env, "--db", str(truncated), *args), 5)
    assert "not a chatcli database" not in line and "malformed" in line and "damaged" in line, line
    assert not server.requests


def test_a_question_opens_its_database_once_and_a_file_changed_since_is_checked_again(server, chat_env, monkeypatch):
    """A one-shot writes on one connection (its checkpoints, index rows and memories: one thread); before that the
    file is checked and the thread found on one read-only connection. A file that changed since is checked again
    in the same process (the warm worker's): one that became no database is said as at any opening."""
    assert chat(chat_env, "-t", "T", "first").code == 0
    opened: list[str] = []
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda where, *a, **k: opened.append(str(where)) or connect(where, *a, **k))
    assert chat(chat_env, "-t", "T", "again").code == 0
    assert len(opened) == 2 and len([where for where in opened if "mode=ro" not in where]) == 1, opened
    db = Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "chat.db"
    db.write_bytes(b"These are my notes, not a database.\n" * 100)
    assert "is not a chatcli database" in assert_one_error_line(chat(chat_env, "-t", "T", "more"), 5)


# --------------------------------------------------------------------------- a real full disk


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted for the test (skipped where mounting is not permitted)."""
    where = Path(tempfile.mkdtemp(prefix="chatcli-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode(errors='replace').strip() or 'not root'})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def fill(directory: Path) -> Path:
    """Fill the disk ``directory`` is on to the last byte; the file that fills it."""
    filler = directory / "filler"
    # Unbuffered: a buffered file's close would write its last part again and raise the disk being full.
    with open(filler, "wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
    info = os.statvfs(directory)
    assert info.f_bavail == 0, info
    return filler


@pytest.mark.e2e
def test_a_full_disk_at_open_is_said_as_one_and_the_file_is_unharmed(server, chat_env):
    with tmpfs("2m") as disk:
        db = disk / "chat.db"
        server.queue(Reply("First answer."))
        assert chat(chat_env, "--db", str(db), "-t", "kept", "first question").code == 0
        filler = fill(disk)
        before = digest(db)
        full = f"chat: error: cannot open {db}: the disk it is on is full (the file is unharmed: free some space and try again)"
        for args in (
            ["threads"],
            ["-c", "next question"],
            ["-t", "kept", "next question"],
            ["show", "kept"],
            ["next question"],
        ):
            line = assert_one_error_line(chat(chat_env, "--db", str(db), *args), 5)
            assert line == full, (args, line)
        new = disk / "new.db"  # one that would be made now
        line = assert_one_error_line(chat(chat_env, "--db", str(new), "a question"), 5)
        assert line == f"chat: error: cannot create {new}: the disk it is on is full (free some space and try again)"
        assert not new.exists()  # not left behind half set up
        assert len(server.requests) == 1  # nothing sent
        assert digest(db) == before
        filler.unlink()  # room again: everything is there, and goes on
        run = chat(chat_env, "--db", str(db), "threads")
        assert run.code == 0 and "kept" in run.out, run
        server.queue(Reply("Second answer."))
        run = chat(chat_env, "--db", str(db), "-c", "next question")
        assert run.code == 0 and run.out == "Second answer.\n", run
        assert [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"] == [
            "first question",
            "next question",
        ]


@pytest.mark.e2e
def test_a_file_on_a_read_only_disk_that_cannot_be_opened_is_said_as_one(server, chat_env):
    """SQLITE_CANTOPEN, for real: a WAL database on a read-only mount, its shared-memory file gone."""
    with tmpfs("2m") as disk:
        db = disk / "chat.db"
        server.queue(Reply("First answer."))
        assert chat(chat_env, "--db", str(db), "-t", "kept", "first question").code == 0
        for companion in ("-wal", "-shm"):
            db.with_name(db.name + companion).unlink(missing_ok=True)
        before = digest(db)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        for args in (["threads"], ["-c", "next question"]):
            line = assert_one_error_line(chat(chat_env, "--db", str(db), *args), 5)
            assert line.startswith(
                f"chat: error: cannot open {db} (unable to open database file) (the file is unharmed"
            ), line
        assert digest(db) == before and len(server.requests) == 1


def test_a_file_held_by_another_connection_is_waited_for_whatever_words_sqlite_says_it_in(tmp_path):
    """Busy is known by its code: a full-text table's constructor that meets the lock says "vtable constructor failed"
    (as one of eight one-shots opening one new file at once once met), and chat waits for it as for any lock."""
    for name, code in CODES:  # the class: every code, none of them said in the words "locked"
        exc = sqlite3.OperationalError("vtable constructor failed: chatcli_search")
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
        assert held(exc) == (code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)), name
    db = tmp_path / "fts.db"  # the real one: a rollback-journal file, so that a writer's lock stops its readers
    with closing(sqlite3.connect(db, isolation_level=None)) as setup:
        setup.execute("CREATE TABLE m (node INTEGER PRIMARY KEY, text TEXT)")
        setup.execute("CREATE VIRTUAL TABLE s USING fts5(text, content='m', content_rowid='node')")
    guard = sqlite_guard(str(db))
    waits: list[str] = []
    with closing(sqlite3.connect(db, timeout=0)) as reader, closing(sqlite3.connect(db, isolation_level=None)) as other:
        reader.execute("SELECT count(*) FROM m").fetchall()  # its schema read; the full-text table not yet opened
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(sqlite3.OperationalError, match="vtable constructor failed") as met:
            reader.execute("SELECT rowid FROM s WHERE s MATCH 'x'")
        assert "locked" not in str(met.value)

        def told(line: str) -> None:
            waits.append(line)
            other.execute("ROLLBACK")  # the other program lets go once chat says it waits

        guard.on_wait = told

        async def search() -> list[tuple[int]]:
            return reader.execute("SELECT rowid FROM s WHERE s MATCH 'x'").fetchall()

        assert asyncio.run(guard.run(search)) == []
    assert waits == [f"{db} is locked by another program: waiting for it (Ctrl-C gives up)"]


def test_a_write_that_fails_leaves_no_transaction_open_for_the_memories_on_the_same_connection(tmp_path):
    """The thread index, the checkpoints and the memories share one connection: a write of the index that fails
    after its transaction began (here a row that is there already) is rolled back, so the memories' next write,
    which begins its own, is kept."""
    from chatcli.store import open_store

    async def go() -> list[str]:
        async with open_store(str(tmp_path / "chat.db")) as store:
            with pytest.raises(sqlite3.IntegrityError):
                await store.index._execute(
                    "INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m001_base', 0)", ()
                )
            assert not store.index.conn.in_transaction
            await store.memory.aput(("chatcli", "t"), "k", {"text": "kept"})
            return [item.value["text"] for item in await store.memory.asearch(("chatcli", "t"))]

    assert asyncio.run(go()) == ["kept"]
