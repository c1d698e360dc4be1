"""Where conversations are kept: one store interface (``base.Store``), SQLite and PostgreSQL behind it.

``open_store(db)`` opens a SQLite file for a path (the default) or PostgreSQL for a
``postgresql://`` URL; ``check_store(db)`` does the checks that can fail before the prompt
opens. Nothing outside this package imports a database driver: their errors arrive as
``chatcli.errors.StoreError``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from chatcli.store.base import SearchHit, Store, ThreadInfo

__all__ = [
    "SearchHit",
    "Store",
    "ThreadInfo",
    "check_store",
    "is_postgres_url",
    "open_checkpointer",
    "open_store",
    "read_binding",
    "read_threads",
]


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
    if is_postgres_url(db):
        from chatcli.store.postgres.store import read_threads as read_postgres

        return await read_postgres(db)
    from chatcli.store.sqlite import read_threads as read_sqlite

    return read_sqlite(db)


async def read_binding(db: str, thread_id: str) -> str | None:
    """What answers ``thread_id`` as stored (its binding's JSON), read as cheaply as ``read_threads``; None if none."""
    if is_postgres_url(db):
        from chatcli.store.postgres.store import read_binding as read_postgres

        return await read_postgres(db, thread_id)
    from chatcli.store.sqlite import read_binding as read_sqlite

    return read_sqlite(db, thread_id)
