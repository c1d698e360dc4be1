"""chatcli's tables in the SQLite file: the migrations, and where the file records them."""

from __future__ import annotations

import sqlite3
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, AsyncIterator

from chatcli.store.base import the_row
from chatcli.store.migrations import LOG_TABLE, Migration, shared

if TYPE_CHECKING:
    import aiosqlite

# The same names, in the same order, as chatcli.store.postgres.schema.MIGRATIONS.
MIGRATIONS: list[Migration] = [
    # Checkpoint and message tables: created by LangGraph's saver and chatcli.store.messages.
    Migration("m001_base"),
    shared(
        "m002_threads",
        # Threads written before the index existed: title from the first question.
        """INSERT OR IGNORE INTO chatcli_threads (thread_id, title, created_at, updated_at, message_count)
           SELECT thread_id,
                  (SELECT substr(text, 1, 80) FROM chatcli_messages f
                    WHERE f.thread_id = m.thread_id AND f.pos = 0 ORDER BY node LIMIT 1),
                  min(created_at), max(created_at), max(pos) + 1
             FROM chatcli_messages m GROUP BY thread_id""",
    ),
    Migration(
        "m003_search",
        (
            """CREATE VIRTUAL TABLE IF NOT EXISTS chatcli_search USING fts5(
                text, content='chatcli_messages', content_rowid='node')""",
            """CREATE TRIGGER IF NOT EXISTS chatcli_search_insert AFTER INSERT ON chatcli_messages BEGIN
                INSERT INTO chatcli_search(rowid, text) VALUES (new.node, new.text);
            END""",
            """CREATE TRIGGER IF NOT EXISTS chatcli_search_delete AFTER DELETE ON chatcli_messages BEGIN
                INSERT INTO chatcli_search(chatcli_search, rowid, text) VALUES ('delete', old.node, old.text);
            END""",
            "INSERT INTO chatcli_search(chatcli_search) VALUES ('rebuild')",
        ),
    ),
    shared("m004_bindings"),
    # Where each thread was made (the directory, and an editor's additional directories as a JSON list), kept
    # with its index row from its first turn on; NULL for a thread made before (not known).
    Migration(
        "m005_places",
        ("ALTER TABLE chatcli_threads ADD COLUMN cwd TEXT", "ALTER TABLE chatcli_threads ADD COLUMN dirs TEXT"),
    ),
    shared("m006_labels"),
    # What each model call cost (or, while it runs, the most it may cost: held), by thread and time: the spending
    # limits sum it before each call. Kept when a thread is deleted: what was spent was spent.
    Migration(
        "m007_spending",
        (
            """CREATE TABLE IF NOT EXISTS chatcli_spending (
                id INTEGER PRIMARY KEY, thread_id TEXT NOT NULL, at REAL NOT NULL, usd REAL NOT NULL,
                held INTEGER NOT NULL DEFAULT 0)""",
            "CREATE INDEX IF NOT EXISTS chatcli_spending_at ON chatcli_spending (at)",
            "CREATE INDEX IF NOT EXISTS chatcli_spending_thread ON chatcli_spending (thread_id)",
        ),
    ),
    shared("m008_waiting"),
]

_LOG = f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"


@asynccontextmanager
async def transaction(conn: aiosqlite.Connection, begin: bool = True) -> AsyncIterator[None]:
    """One transaction on the file: begun holding its write lock (``begin``; else where the first write begins it),
    committed as the block ends, rolled back on any failure."""
    if begin:
        await conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        await conn.commit()
    except BaseException:
        await conn.rollback()
        raise


class SqliteMigrationLog:
    """Applied migrations in the ``chatcli_migrations`` table of the file.

    ``PRAGMA user_version`` is kept at the number applied: releases from before the names
    were recorded counted with it, and refuse a file whose count is higher than theirs.
    """

    def __init__(self, conn: aiosqlite.Connection):
        self.conn = conn

    async def names(self) -> list[str] | None:
        """The names recorded, or None for a file from before the log (read only: adopts nothing)."""
        try:
            async with self.conn.execute(f"SELECT name FROM {LOG_TABLE} ORDER BY rowid") as cursor:
                return [row[0] for row in await cursor.fetchall()]
        except sqlite3.OperationalError as exc:  # a file from before the log
            if "no such table" not in str(exc):
                raise
            return None

    async def applied(self) -> list[str]:
        names = await self.names()
        if names is not None:
            return names
        async with self.conn.execute("PRAGMA user_version") as cursor:
            (counted,) = the_row(await cursor.fetchone())
        if not counted:
            return []
        async with transaction(self.conn):  # adopt the count: its first names were applied
            names = await self.names()
            if names is None:
                await self.conn.execute(_LOG)
                names = [m.name for m in MIGRATIONS[:counted]]
                await self.conn.executemany(
                    f"INSERT INTO {LOG_TABLE} (name, applied_at) VALUES (?, ?)", [(n, time.time()) for n in names]
                )
        return names

    async def apply(self, migration: Migration, count: int) -> bool:
        async with transaction(self.conn):  # one process migrates; the others wait, then see it done
            await self.conn.execute(_LOG)
            async with self.conn.execute(f"SELECT 1 FROM {LOG_TABLE} WHERE name = ?", (migration.name,)) as cursor:
                if await cursor.fetchone():
                    return False
            for statement in migration.statements:
                await self.conn.execute(statement)
            await self.conn.execute(
                f"INSERT INTO {LOG_TABLE} (name, applied_at) VALUES (?, ?)", (migration.name, time.time())
            )
            await self.conn.execute(f"PRAGMA user_version = {count}")
        return True
