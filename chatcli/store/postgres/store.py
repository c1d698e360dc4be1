"""Conversations kept in PostgreSQL (``--db postgresql://user@host/db``).

LangGraph's ``AsyncPostgresSaver`` holds the checkpoints; the message nodes, the thread
index and search live in the same database. The schema is set up by the first process that
needs it: LangGraph's tables, then chatcli's migrations (recorded in ``chatcli_migrations``),
all under one advisory lock so processes starting together wait for each other. LangGraph's own
setup builds indexes CONCURRENTLY, which cannot run inside a transaction, so the lock is the
session-level one, taken by polling (a blocked ``pg_advisory_lock`` would hold a snapshot
that such an index build waits for).

A turn holds the thread with a session-level advisory lock on a connection of its own,
polled so that waiting stays cancellable, like the SQLite store's file lock.

The store's connection is opened again when it drops (the server restarted, say): the
operation that found it gone runs once more on the new one, so the user's message is kept.

Only imported for a PostgreSQL URL: psycopg stays out of the SQLite path.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from chatcli.errors import StoreError
from chatcli.store.base import Guard, Params, Row, poll_lock, the_row
from chatcli.store.database import Store
from chatcli.store.postgres.driver import connect, import_driver, import_psycopg, reason
from chatcli.text import redact_url

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from chatcli.store.postgres.index import PostgresThreadIndex

# Advisory lock keys: the bigint one guards schema setup; turn locks use the two-int form
# (a separate key space) with this first key and a hash of the thread id.
_SCHEMA_LOCK = 0x63686174636C69  # "chatcli"
_TURN_LOCKS = 0x6368_6174  # "chat"
CHECK = "check the server and --db"  # the hint of a database error


async def _fetchone(conn: AsyncConnection[Any], sql: str, params: Params = ()) -> Row:
    """The first row of a query that gives one, as a tuple (whatever the connection's row factory)."""
    from psycopg.rows import tuple_row

    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(sql, params)
        return the_row(await cur.fetchone())


@asynccontextmanager
async def advisory_lock(
    conn: AsyncConnection[Any], *key: int, on_wait: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """Hold a session-level advisory lock on ``conn``, polling so that waiting can be cancelled."""
    args = ", ".join(["%s"] * len(key))

    async def try_lock() -> bool:
        return bool((await _fetchone(conn, f"SELECT pg_try_advisory_lock({args})", key))[0])

    await poll_lock(try_lock, on_wait)
    try:
        yield
    finally:
        psycopg = import_psycopg()  # the driver alone: a light command (chat rm) loads no checkpointer
        with contextlib.suppress(psycopg.OperationalError):  # the session is gone, and its locks with it
            await _fetchone(conn, f"SELECT pg_advisory_unlock({args})", key)


async def short_read(url: str, sql: str, params: Params = ()) -> list[Row]:
    """The rows of one query, on a short connection of its own; none from a database chat has not set up yet."""
    psycopg, _ = import_driver()
    conn = await connect(url)
    try:
        cursor = await conn.execute(sql, params)
        return list(await cursor.fetchall())
    except psycopg.errors.UndefinedTable:  # not set up yet (or from before that table): nothing stored
        return []
    except psycopg.Error as exc:
        raise StoreError(f"database error in {redact_url(url)}: {reason(exc, url)}", hint=CHECK) from None
    finally:
        await conn.close()


class PostgresStore(Store):
    """An open PostgreSQL conversation database (see chatcli.store.database.Store).

    No reclaim: PostgreSQL's autovacuum makes the space of deleted rows reusable.
    """

    index: PostgresThreadIndex

    def __init__(self, conn: AsyncConnection[Any], url: str, full: bool = True):
        """``full``: with LangGraph's checkpointer (``saver``); without it, a store for managing threads only."""
        import asyncio

        from chatcli.store.postgres.index import PostgresThreadIndex

        psycopg = import_psycopg()
        self.conn = conn
        self.dsn = url
        self.name = redact_url(url)
        self.guard = Guard(self.name, (psycopg.Error,), partial(reason, url=url), CHECK, self.reopen, self._dropped)
        self.index = PostgresThreadIndex(conn, asyncio.Lock(), self.guard)
        if full:
            from chatcli.store.messages import MessageStoreSaver

            _, AsyncPostgresSaver = import_driver()
            self.inner = AsyncPostgresSaver(conn)
            self.index.lock = self.inner.lock  # the message nodes are written under the checkpoints' lock
            self.saver = MessageStoreSaver(self.inner, self.index, guard=self.guard)

    def _dropped(self, exc: BaseException) -> bool:
        """True when ``exc`` means the connection is gone (so opening it again may help)."""
        psycopg = import_psycopg()
        return isinstance(exc, psycopg.OperationalError) and bool(self.conn.closed or self.conn.broken)

    async def reopen(self) -> None:
        """Open the connection again and hand it to the saver and the index."""
        from psycopg.rows import dict_row

        conn = await connect(self.dsn, prepare_threshold=0, row_factory=dict_row)
        old, self.conn = self.conn, conn
        self.index.conn = conn
        if self.saver is not None:
            self.inner.conn = conn
        with contextlib.suppress(Exception):  # it is broken already; closing is a courtesy
            await old.close()

    @asynccontextmanager
    async def thread_lock(self, thread_id: str, on_wait: Callable[[], None] | None = None) -> AsyncIterator[None]:
        """Hold ``thread_id`` for one turn, across processes and hosts, so concurrent turns queue up.

        The lock lives on a connection of its own, closed afterwards: neither a cancelled wait
        nor a killed process can leave the thread locked (the server drops a closed session's locks).
        """
        conn = await connect(self.dsn)
        try:  # the key: a 32-bit signed hash of the thread's id
            async with advisory_lock(conn, _TURN_LOCKS, zlib.crc32(thread_id.encode()) - (1 << 31), on_wait=on_wait):
                yield
        finally:
            await conn.close()

    async def close(self) -> None:
        await self.conn.close()


async def schema_ready(conn: AsyncConnection[Any], saver_migrations: int = 0) -> bool:
    """True when LangGraph's tables and chatcli's migrations are all in place (one query); ``saver_migrations``:
    how many LangGraph's saver has (0: its tables are enough)."""
    from chatcli.store.migrations import LOG_TABLE, check_known
    from chatcli.store.postgres.schema import MIGRATIONS

    psycopg = import_psycopg()
    both = f"SELECT (SELECT array_agg(name) FROM {LOG_TABLE}), (SELECT coalesce(max(v), -1) FROM checkpoint_migrations)"
    try:  # autocommit: a failed statement leaves the session usable
        ours, theirs = await _fetchone(conn, both)
    except psycopg.errors.UndefinedTable:
        return False
    check_known("the database", ours or [], MIGRATIONS)
    return {m.name for m in MIGRATIONS} <= set(ours or []) and theirs >= saver_migrations - 1


async def _check_legacy(conn: AsyncConnection[Any]) -> None:
    """Refuse a database that a newer release set up before migrations were recorded by name."""
    from chatcli.store.postgres.schema import MIGRATIONS

    psycopg, _ = import_driver()
    try:
        (version,) = await _fetchone(conn, "SELECT coalesce(max(version), 0) FROM chatcli_schema")
    except psycopg.errors.UndefinedTable:
        return
    if version > len(MIGRATIONS):
        newer = f"the database was set up by a newer chatcli (schema {version}, this one knows {len(MIGRATIONS)})"
        raise StoreError(newer, hint="upgrade chatcli")


async def _memory_store(conn: Any, pool: Any) -> Any:
    """LangGraph's PostgreSQL store on ``pool``, its tables made first (over ``conn``) when missing, by one process at
    a time, its memories those of the database's own user (its session user: chatcli.store.memories.MemoryBook)."""
    from langgraph.store.postgres.aio import AsyncPostgresStore

    memory: Any = AsyncPostgresStore(pool)
    try:
        (version,) = await _fetchone(conn, "SELECT max(v) FROM store_migrations")
    except Exception:  # noqa: BLE001 - no table yet: set up below
        version = None
    if version is None or version < len(memory.MIGRATIONS) - 1:
        async with advisory_lock(conn, _SCHEMA_LOCK):
            await memory.setup()
    (who,) = await _fetchone(conn, "SELECT session_user")
    memory.chatcli_user = f"pg:{who}" if who else None
    return memory


@asynccontextmanager
async def open_postgres_store(url: str) -> AsyncIterator[PostgresStore]:
    """Open the PostgreSQL database at ``url``, setting up its schema on first use."""
    psycopg, AsyncPostgresSaver = import_driver()
    from psycopg.rows import dict_row

    from chatcli.store.migrations import migrate
    from chatcli.store.postgres.schema import MIGRATIONS, PostgresMigrationLog

    # The options LangGraph's saver needs: autocommit, prepared statements, rows as dicts.
    conn = await connect(url, prepare_threshold=0, row_factory=dict_row)
    store = PostgresStore(conn, url)
    saver = store.saver
    assert saver is not None  # (a store opened full)
    try:
        if await schema_ready(conn, len(AsyncPostgresSaver.MIGRATIONS)):
            saver.assume_set_up()
        else:
            async with advisory_lock(conn, _SCHEMA_LOCK):
                await _check_legacy(conn)
                await saver.setup()
                await migrate(PostgresMigrationLog(conn), MIGRATIONS, "the database")
        # LangGraph's store (memories), on connections of its own (the saver writes in the background meanwhile): a
        # small pool that checks a connection before it lends it, so a server restarted under a long session is
        # reconnected to, as the saver is.
        from psycopg_pool import AsyncConnectionPool

        options = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        pool = AsyncConnectionPool(
            url, min_size=1, max_size=2, kwargs=options, open=False, check=AsyncConnectionPool.check_connection
        )
        await pool.open(wait=True, timeout=30)
        try:
            async with pool.connection() as first:
                store.memory = await _memory_store(first, pool)
            yield store
        finally:
            if store.memory is not None:
                from chatcli.store.memories import stop_batching

                await stop_batching(store.memory)
            await pool.close()
    except psycopg.Error as exc:
        raise store.guard.error(exc) from None
    finally:
        await store.close()
