"""The database opened for managing threads only (list, show, export, search, rename, delete).

Those commands read a few rows: they need neither LangGraph's checkpointer nor the model
stack it imports (about a second of start-up). ``open_light_store`` opens the same tables
through the thread index alone, which reads checkpoints and messages as plain data
(``chatcli.store.decode``). A database that is not set up yet, or not up to date, is opened
the full way instead (``open_store``): that creates and migrates it. ``ReadIndex`` reads the thread
index alone, opening nothing.
"""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator

from chatcli.errors import StoreError
from chatcli.store import is_postgres_url, open_store
from chatcli.store.base import Params, Row
from chatcli.store.database import Store
from chatcli.store.index import ThreadIndex
from chatcli.store.migrations import LOG_TABLE

if TYPE_CHECKING:
    from chatcli.store.postgres.store import PostgresStore
    from chatcli.store.sqlite import SqliteStore


@asynccontextmanager
async def _light_sqlite(path: Path) -> AsyncIterator[SqliteStore | None]:
    import asyncio
    import os

    from chatcli.store.sqlite import ReadOnly, SqliteStore, connect, sqlite_guard
    from chatcli.store.sqlite_index import SqliteThreadIndex
    from chatcli.store.sqlite_schema import MIGRATIONS

    try:  # set up: every migration applied (the full opening says what is wrong with a file: not ours, newer...)
        names = {row[0] for row in ReadOnly(str(path), checked=True).rows(f"SELECT name FROM {LOG_TABLE}")}
    except StoreError:
        names = set()
    if not {m.name for m in MIGRATIONS} <= names:
        yield None
        return
    guard = sqlite_guard(str(path))
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    try:
        conn = await connect(path, read_only=not writable)
    except sqlite3.Error as exc:
        raise guard.error(exc) from None
    try:
        yield SqliteStore(path, SqliteThreadIndex(conn, asyncio.Lock(), guard))
    finally:
        await conn.close()


@asynccontextmanager
async def _light_postgres(url: str) -> AsyncIterator[PostgresStore | None]:
    from chatcli.store.postgres.driver import connect, import_psycopg

    import_psycopg()  # first: a missing extra is one line, before anything imports psycopg
    from chatcli.store.postgres.store import PostgresStore, schema_ready

    store = PostgresStore(await connect(url), url, full=False)
    try:
        yield store if await store.guard.run(lambda: schema_ready(store.conn)) else None
    finally:
        await store.close()


@asynccontextmanager
async def open_light_store(db: str, read_only: bool = False) -> AsyncIterator[Store]:
    """Open ``db`` for managing threads: without the checkpointer when it is set up, the full way otherwise."""
    opening = _light_postgres(db) if is_postgres_url(db) else _light_sqlite(Path(db).expanduser())
    async with opening as light:
        if light is not None:
            light.full = lambda: open_store(db, read_only=True)
            yield light
            return
    async with open_store(db, read_only) as store:
        yield store


class ReadIndex(ThreadIndex):
    """``db``'s thread index read without LangGraph's checkpointer and nothing created (a database not set up yet has
    no threads): cheap enough to check a thread id before the prompt opens. A SQLite file is read on one read-only
    connection, opened by the first read and closed when the index is dropped, and said as when it is opened if it
    is another program's or a newer chatcli's; PostgreSQL each read on a short connection."""

    def __init__(self, db: str):
        self.db = db
        if is_postgres_url(db):
            from chatcli.store.postgres.driver import import_psycopg

            import_psycopg()  # first: a missing extra is one line
            from chatcli.store.postgres.index import PostgresThreadIndex

            self.SQL, self.NO_LIMIT = PostgresThreadIndex.SQL, PostgresThreadIndex.NO_LIMIT
        else:
            from chatcli.store.sqlite import ReadOnly
            from chatcli.store.sqlite_index import SqliteThreadIndex

            self.SQL, self.NO_LIMIT = SqliteThreadIndex.SQL, SqliteThreadIndex.NO_LIMIT
            self.file = ReadOnly(db, checked=True)

    async def _rows(self, sql: str, params: Params = ()) -> list[Row]:
        if is_postgres_url(self.db):
            from chatcli.store.postgres.store import short_read

            return await short_read(self.db, sql, params)
        return self.file.rows(sql, params)
