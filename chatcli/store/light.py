"""The database opened for managing threads only (list, show, export, search, rename, delete).

Those commands read a few rows: they need neither LangGraph's checkpointer nor the model
stack it imports (about a second of start-up). ``open_light_store`` opens the same tables
through the thread index alone, which reads checkpoints and messages as plain data
(``chatcli.store.decode``). A database that is not set up yet, or not up to date, is opened
the full way instead (``open_store``): that creates and migrates it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncContextManager, AsyncIterator, Awaitable, Callable

from chatcli.store.base import Guard, Store, ThreadIndex, the_row
from chatcli.store.migrations import LOG_TABLE, check_known

if TYPE_CHECKING:
    from psycopg import AsyncConnection

# The lock a turn on a thread holds across processes (given the thread and what to call while it waits).
ThreadLock = Callable[[str, Callable[[], None] | None], AsyncContextManager[None]]

# The tables LangGraph's SQLite saver and chatcli's message store create.
_SQLITE_TABLES = {"checkpoints", "writes", "chatcli_messages", "chatcli_threads", LOG_TABLE}
# As chatcli.store.messages waits (that package imports LangGraph: not from here).
BUSY_TIMEOUT_MS = 5000


class LightStore:
    """An open conversation database without a checkpointer (see chatcli.store.base.Store)."""

    saver = None
    memory = None  # (memories are LangGraph's store's: a full store opens it)

    def memories(self, user: str | None = None) -> Any:
        from chatcli.errors import UsageError

        raise UsageError("the database was opened for managing threads only: memories cannot be used here")

    def __init__(
        self,
        name: str,
        index: ThreadIndex,
        guard: Guard,
        reclaim: Callable[[], Awaitable[None]] | None = None,
        lock: ThreadLock | None = None,
    ):
        self.name = name
        self.index = index
        self.guard = guard
        self._reclaim = reclaim
        self._lock = lock
        # The same database opened the full way, for reading (set by ``open_light_store``): LangGraph's
        # checkpointer, for a thread only LangGraph can read whole (chatcli.threads.deltas).
        self.full: Callable[[], AsyncContextManager[Store]] = _no_full

    def thread_lock(self, thread_id: str, on_wait: Callable[[], None] | None = None) -> AsyncContextManager[None]:
        """The lock a turn on ``thread_id`` holds (another process's turn is waited for)."""
        return self._lock(thread_id, on_wait) if self._lock is not None else contextlib.nullcontext()

    def tell_waits(self, note: Callable[[str], None]) -> None:
        """Say through ``note`` when an operation waits for a database another program holds."""
        self.guard.on_wait = note

    async def live_nodes(self, thread_id: str) -> set[int] | None:
        """Stored ids of the messages in the thread's current history (None: stored the old way)."""
        return await self.index.live_nodes(thread_id)

    async def delete_thread(self, thread_id: str) -> None:
        """Remove the thread's checkpoints, messages and index row, and give the space back."""
        await self.index.purge(thread_id)
        if self._reclaim is not None:
            await self.guard.run(self._reclaim)


def _no_full() -> AsyncContextManager[Store]:
    raise RuntimeError("this store was opened without a way to open it the full way")


def _sqlite_ready(path: Path) -> bool:
    """True when ``path`` is a chatcli database with every table and migration in place."""
    from chatcli.store.sqlite import check_database
    from chatcli.store.sqlite_schema import MIGRATIONS

    if not path.is_file():
        return False
    check_database(path)  # a file that is not ours, or from a newer chatcli: one clear line
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not _SQLITE_TABLES <= tables:
                return False
            names = {row[0] for row in conn.execute(f"SELECT name FROM {LOG_TABLE}")}
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # the full opening reports what is wrong
    return {m.name for m in MIGRATIONS} <= names


@asynccontextmanager
async def _light_sqlite(path: Path) -> AsyncIterator[LightStore]:
    import os

    import aiosqlite

    from chatcli.store.sqlite import reclaim_space, sqlite_guard
    from chatcli.store.sqlite_index import SqliteThreadIndex

    guard = sqlite_guard(str(path))
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    # A file chat may not write is read as immutable: SQLite then takes no lock and writes no -wal/-shm.
    target, uri = (str(path), False) if writable else (f"file:{path.absolute()}?immutable=1", True)
    try:
        conn = await aiosqlite.connect(target, uri=uri)
    except sqlite3.Error as exc:
        raise guard.error(exc) from None
    try:
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        lock = asyncio.Lock()
        from chatcli.store.sqlite import file_thread_lock

        yield LightStore(
            str(path),
            SqliteThreadIndex(conn, lock, guard),
            guard,
            lambda: reclaim_space(conn, lock),
            lambda thread_id, on_wait: file_thread_lock(path, thread_id, on_wait),
        )
    finally:
        await conn.close()


async def _postgres_ready(conn: AsyncConnection[Any]) -> bool:
    """True when LangGraph's tables and chatcli's migrations are all in place."""
    from psycopg.rows import tuple_row

    from chatcli.store.postgres.schema import MIGRATIONS

    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(
            f"SELECT to_regclass('{LOG_TABLE}') IS NOT NULL AND to_regclass('checkpoint_blobs') IS NOT NULL"
        )
        (present,) = the_row(await cur.fetchone())
        if not present:
            return False
        await cur.execute(f"SELECT coalesce(array_agg(name), '{{}}') FROM {LOG_TABLE}")
        (names,) = the_row(await cur.fetchone())
    check_known("the database", names, MIGRATIONS)
    return {m.name for m in MIGRATIONS} <= set(names)


@asynccontextmanager
async def _light_postgres(url: str) -> AsyncIterator[LightStore | None]:
    from chatcli.store.postgres.driver import connect, import_psycopg, reason
    from chatcli.text import redact_url

    psycopg = import_psycopg()  # first: a missing extra is one line, before anything imports psycopg
    from chatcli.store.postgres.index import PostgresThreadIndex

    conn = await connect(url)
    name = redact_url(url)
    guard = Guard(name, (psycopg.Error,), reason=lambda exc: reason(exc, url), hint="check the server and --db")
    try:
        ready = await guard.run(lambda: _postgres_ready(conn))
        from chatcli.store.postgres.store import server_thread_lock

        locked = lambda thread_id, on_wait: server_thread_lock(url, thread_id, on_wait)  # noqa: E731
        yield LightStore(name, PostgresThreadIndex(conn, asyncio.Lock(), guard), guard, lock=locked) if ready else None
    finally:
        await conn.close()


@asynccontextmanager
async def open_light_store(db: str, read_only: bool = False) -> AsyncIterator[Store]:
    """Open ``db`` for managing threads: without the checkpointer when it is set up, the full way otherwise."""
    from chatcli.store import is_postgres_url, open_store

    if is_postgres_url(db):
        async with _light_postgres(db) as light:
            if light is not None:
                light.full = lambda: open_store(db, read_only=True)
                yield light
                return
    else:
        path = Path(db).expanduser()
        if _sqlite_ready(path):
            async with _light_sqlite(path) as light:
                light.full = lambda: open_store(db, read_only=True)
                yield light
                return
    async with open_store(db, read_only) as store:
        yield store
