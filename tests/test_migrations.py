"""Schema migrations: named, recorded in the database, the same list shape on both stores; databases
written by release 0.1.0 (kept in tests/fixtures) upgrade in place and keep every thread."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from chatcli.errors import StoreError
from chatcli.store.migrations import Migration, migrate
from chatcli.store.sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS
from chatcli.store.sqlite_schema import SqliteMigrationLog
from tests.helpers import assert_one_error_line, chat

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_both_stores_have_the_same_migrations_in_the_same_order():
    pytest.importorskip("psycopg")
    from chatcli.store.postgres.schema import MIGRATIONS as PG_MIGRATIONS

    assert [m.name for m in SQLITE_MIGRATIONS] == [m.name for m in PG_MIGRATIONS]
    assert all(isinstance(m, Migration) for m in (*SQLITE_MIGRATIONS, *PG_MIGRATIONS))


def upgraded_thread_checks(env: dict[str, str], server) -> None:
    """What a user of the old database must still have: threads, titles, system prompt, search, memory."""
    listed = chat(env, "threads")
    assert listed.code == 0, listed
    titles = {line.split("\t")[0]: line.split("\t")[-1] for line in listed.out.splitlines()}
    assert titles == {"alpha": "hello there", "beta": "Bees"}
    found = chat(env, "search", "lighthouses")
    assert found.code == 0 and found.out.startswith("alpha\t2\tYou\t"), found
    export = json.loads(chat(env, "export", "alpha", "-f", "json").out)
    assert export["system"] == "You are terse, {who}." and export["vars"] == {"who": "Ann"}
    assert [m["content"] for m in export["messages"] if m["role"] == "user"] == [
        "hello there",
        "second question about lighthouses",
    ]
    again = chat(env, "-t", "alpha", "and a third")
    assert again.code == 0, again
    assert again.out == "You said: and a third (earlier: hello there | second question about lighthouses)\n"
    sent = server.requests[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "You are terse, Ann."}


@pytest.mark.stores("sqlite")
def test_a_sqlite_file_from_release_0_1_0_upgrades_in_place(server, chat_env, tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(FIXTURES / "chat-0.1.0.db", db)
    db.chmod(0o600)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (3,)
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'chatcli_migrations'").fetchall()
    env = {**chat_env, "CHATCLI_DB": str(db)}
    upgraded_thread_checks(env, server)
    with closing(sqlite3.connect(db)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM chatcli_migrations ORDER BY rowid")]
        assert names == [m.name for m in SQLITE_MIGRATIONS]  # adopted from the count, not run again
        assert conn.execute("PRAGMA user_version").fetchone() == (len(SQLITE_MIGRATIONS),)


def _load_dump(url: str, path: Path) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(path.read_text())  # no parameters: every statement of the script runs


@pytest.mark.e2e  # a PostgreSQL server
@pytest.mark.stores("sqlite")
def test_a_postgresql_database_from_release_0_1_0_upgrades_in_place(server, chat_env, pg_server):
    if pg_server is None:
        pytest.skip("needs CHATCLI_TEST_PG")
    name = pg_server.create()
    url = pg_server.url(name)
    try:
        _load_dump(url, FIXTURES / "pg-0.1.0.sql")
        upgraded_thread_checks({**chat_env, "CHATCLI_DB": url}, server)
        import psycopg

        with psycopg.connect(url) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM chatcli_migrations ORDER BY applied_at, name")]
        assert names == [m.name for m in SQLITE_MIGRATIONS]
    finally:
        pg_server.drop(name)


def _run_sqlite(db: Path, migrations: list[Migration]) -> list[str]:
    import aiosqlite

    async def go() -> list[str]:
        async with aiosqlite.connect(db) as conn:
            return await migrate(SqliteMigrationLog(conn), migrations, str(db))

    return asyncio.run(go())


def test_a_new_migration_runs_once_and_is_recorded(tmp_path):
    db = tmp_path / "m.db"
    base = [Migration("m001_base"), Migration("m002_notes", ("CREATE TABLE notes (x)",))]
    assert _run_sqlite(db, base) == ["m001_base", "m002_notes"]
    assert _run_sqlite(db, base) == []
    more = [*base, Migration("m003_more", ("INSERT INTO notes VALUES (1)",))]
    assert _run_sqlite(db, more) == ["m003_more"]
    assert _run_sqlite(db, more) == []
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (1,)
        assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    with pytest.raises(StoreError, match=r"newer chatcli \(migration m003_more; this one knows 2\)"):
        _run_sqlite(db, base)


def test_a_failed_migration_leaves_nothing_half_done(tmp_path):
    db = tmp_path / "m.db"
    broken = [Migration("m001_ok", ("CREATE TABLE a (x)",)), Migration("m002_bad", ("CREATE TABLE b (x)", "NOT SQL"))]
    with pytest.raises(sqlite3.OperationalError):
        _run_sqlite(db, broken)
    with closing(sqlite3.connect(db)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "a" in tables and "b" not in tables
        assert [r[0] for r in conn.execute("SELECT name FROM chatcli_migrations")] == ["m001_ok"]


@pytest.mark.stores("sqlite")
def test_a_sqlite_file_set_up_by_a_newer_chatcli_is_refused(server, chat_env, tmp_path):
    db = tmp_path / "new.db"
    env = {**chat_env, "CHATCLI_DB": str(db)}
    assert chat(env, "hello").code == 0
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m099_future', 0)")
        conn.commit()
    line = assert_one_error_line(chat(env, "hello again"), 5)
    assert "newer chatcli" in line and "m099_future" in line and "upgrade chatcli" in line


def test_a_new_sqlite_file_made_in_one_step_is_the_one_its_migrations_make(tmp_path):
    """chatcli/store/new.sql makes a new store at once: the same tables, indexes, triggers and logs as an empty file
    migrated one step at a time (after a new migration: python tests/store_script.py > chatcli/store/new.sql)."""
    from chatcli.store import open_store
    from tests.store_script import migrated, schema, script

    stepwise, new = tmp_path / "stepwise.db", tmp_path / "new.db"
    migrated(stepwise)

    async def opened() -> None:
        async with open_store(str(new)):
            pass

    asyncio.run(opened())
    assert schema(new) == schema(stepwise)
    shipped = (Path(__file__).resolve().parents[1] / "chatcli" / "store" / "new.sql").read_text()
    assert shipped.split("\n", 1)[1] == script(stepwise)
    assert not [path for path in tmp_path.iterdir() if ".new" in path.name]  # nothing left beside it
    with closing(sqlite3.connect(new)) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental: see SqliteStore.reclaim
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_processes_making_the_same_new_sqlite_file_at_once_each_open_it(tmp_path):
    """Four processes start on a file none of them finds: one makes it, each opens it, none fails."""
    import subprocess
    import sys

    db = tmp_path / "chat.db"
    program = f"import asyncio; from chatcli.store import open_store\nasync def o():\n async with open_store({str(db)!r}): pass\nasyncio.run(o())"
    runs = [subprocess.Popen([sys.executable, "-c", program], stderr=subprocess.PIPE) for _ in range(4)]
    assert [(run.wait(timeout=60), run.stderr.read()) for run in runs] == [(0, b"")] * 4  # type: ignore[union-attr]
    assert not [path for path in tmp_path.iterdir() if ".new" in path.name]
