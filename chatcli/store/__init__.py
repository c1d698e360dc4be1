"""Where conversations are kept: one store interface (``base.Store``), SQLite and PostgreSQL behind it.

``open_store(db)`` opens a SQLite file for a path (the default) or PostgreSQL for a
``postgresql://`` URL; ``check_store(db)`` does the checks that can fail before the prompt
opens. Nothing outside this package imports a database driver: their errors arrive as
``chatcli.errors.StoreError``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

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
        from chatcli.store.sqlite import check_database, prepare_db_path

        check_database(prepare_db_path(db))  # the directory, the file, its schema


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
