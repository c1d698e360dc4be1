"""Where conversations are kept: one store interface (``base.Store``), SQLite and PostgreSQL behind it.

``open_store(db)`` opens a SQLite file for a path (the default) or PostgreSQL for a
``postgresql://`` URL; ``check_store(db)`` does the checks that can fail before the prompt
opens. Nothing outside this package imports a database driver: their errors arrive as
``chatcli.errors.StoreError``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from chatcli.store.base import SearchHit as SearchHit
from chatcli.store.base import ThreadInfo as ThreadInfo
from chatcli.store.database import Store as Store


def is_postgres_url(db: str) -> bool:
    """True when ``db`` names a PostgreSQL database (``postgresql://...`` or ``postgres://...``)."""
    return db[:13].lower().startswith(("postgresql://", "postgres://"))


def check_store(db: str) -> None:
    """Fail early, with one line: a SQLite file that cannot be used, or PostgreSQL support missing.

    A PostgreSQL database itself is checked when it is opened.
    """
    if is_postgres_url(db):
        from chatcli.store.postgres.driver import check_driver

        check_driver()
    else:
        from chatcli.store.sqlite import check

        check(db)


@asynccontextmanager
async def open_store(db: str, read_only: bool = False) -> AsyncIterator[Store]:
    """Open (creating and migrating as needed) the conversation database ``db``.

    ``read_only``: the caller only reads, so a SQLite file chat may not write is opened for
    reading instead of refused.
    """
    if is_postgres_url(db):
        from chatcli.store.postgres.store import open_postgres_store

        async with open_postgres_store(db) as store:
            yield store
    else:
        from chatcli.store.sqlite import open_sqlite_store

        async with open_sqlite_store(db, read_only) as sqlite_store:
            yield sqlite_store


@asynccontextmanager
async def open_checkpointer(db: str) -> AsyncIterator[object]:
    """Open the conversation database and hand back just LangGraph's checkpointer."""
    async with open_store(db) as store:
        yield store.saver


async def read_threads(db: str) -> list[ThreadInfo]:
    """Every thread of ``db``'s index, most recently used first, read without LangGraph's checkpointer:
    cheap enough to check a thread id before the prompt opens. A database not set up yet has none."""
    from chatcli.store.index import COLUMNS

    rows = await _read(db, f"SELECT {COLUMNS} FROM chatcli_threads ORDER BY updated_at DESC", checked=True)
    return [ThreadInfo(*row) for row in rows]


async def read_binding(db: str, thread_id: str) -> str | None:
    """What answers ``thread_id`` as stored (its binding's JSON), read as cheaply as ``read_threads``; None if none."""
    rows = await _read(db, "SELECT binding FROM chatcli_bindings WHERE thread_id = ?", (thread_id,))
    return str(rows[0][0]) if rows else None


async def _read(db: str, sql: str, params: tuple[object, ...] = (), checked: bool = False) -> list[tuple[Any, ...]]:
    """The rows of one query on ``db`` (in SQLite's placeholder style), on a short connection of its own, nothing
    created: none from a database not set up yet, or from before the table. ``checked``: a SQLite file that is
    another program's, or a newer chatcli's, is said as when it is opened."""
    if is_postgres_url(db):
        from chatcli.store.postgres.store import short_read

        return await short_read(db, sql.replace("?", "%s"), params)
    from chatcli.store.sqlite import rows_read_only

    return rows_read_only(db, sql, params, checked)
