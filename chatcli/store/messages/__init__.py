"""Store chat messages once; let checkpoints refer to them.

LangGraph writes ~3 checkpoints per turn and every checkpoint holds the whole
``messages`` list, so a thread's storage grows quadratically.  ``MessageStoreSaver``
wraps any async ``BaseCheckpointSaver`` (here ``AsyncSqliteSaver``) and keeps
messages in a separate table of immutable *nodes*: one row per message, each
pointing at its parent, so a message list is a chain ``root -> ... -> tail`` and a
thread is a tree (retry and undo create branches).  Before a checkpoint reaches the
inner saver, each message list in ``channel_values`` is replaced by a small ref::

    {"__chatcli_msgref__": <tail node id or None>, "n": <list length>}

and only the messages not already stored are inserted.  Reading (``aget_tuple`` /
``alist``) turns refs back into lists.  Checkpoints without refs (written before
this wrapper, list stored inline) pass through unchanged and are converted on the
next write.

Prefix matching serializes nothing: a per-thread cache keeps the recent chains (node
ids + the very message objects that were stored or handed out), and a new list is
compared by object identity, a C loop over pointers.  Messages that may have been
changed are also checked for the same ``id`` and the same ``content`` object (which
catches a reassigned ``content``); messages carried over unchanged are not: those of
a list this saver handed out, and those an append-only update kept (the chat graph's
reducer, ``chatcli.store.messages.reducer.add_messages``, says which).  So a usual turn
reads the attributes of its new messages only.  With no cache (a fresh process that
did not read through this wrapper) the chain of the parent checkpoint is loaded and
compared by id and equality.  A message changed in place without being handed back in
an update, and in-place mutation of a message's nested structures, are not detected
(LangGraph does not do that; ``add_messages`` builds new lists and only fills in
missing ids).

The message table sits behind ``MessageTable``: ``SqliteMessageTable`` (sqlite_table.py), and
``chatcli.store.messages.postgres_table.PostgresMessageTable`` for ``AsyncPostgresSaver`` (imported
from there only, so that SQLite users never load psycopg).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from chatcli.store.messages.saver import REF_KEY, MessageStoreSaver, Runner

if TYPE_CHECKING:
    from langgraph.checkpoint.serde.base import SerializerProtocol

__all__ = [
    "REF_KEY",
    "MessageStoreSaver",
    "open_sqlite_saver",
    "sqlite_saver",
]


# How long SQLite itself waits for a lock before an operation fails (the store's Guard then
# waits longer, saying so).
BUSY_TIMEOUT_MS = 5000


async def _probe(conn: aiosqlite.Connection) -> None:
    """Read the first row of every table before writing anything (setup turns on WAL).

    A file whose pages are garbage fails here and is left exactly as it was. Corruption
    is reported as ``sqlite3.OperationalError`` so callers that map operational errors
    to "cannot use this database" report it the same way (the plain DatabaseError that
    SQLite raises would otherwise look like a programming error).
    """
    try:
        async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
            names = [row[0] for row in await cursor.fetchall()]
        for name in names:
            quoted = name.replace('"', '""')
            async with conn.execute(f'SELECT 1 FROM "{quoted}" LIMIT 1') as cursor:
                await cursor.fetchall()
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise sqlite3.OperationalError(f"{exc} (the file is damaged: restore a backup or choose another --db)") from exc


async def open_sqlite_saver(
    path: str | Path,
    *,
    serde: SerializerProtocol | None = None,
    guard: Runner | None = None,
    read_only: bool = False,
    probed: bool = False,
) -> MessageStoreSaver:
    """Open ``path`` and return a ready ``MessageStoreSaver``; close with ``aclose()``.

    ``guard`` runs each of its database operations (see ``MessageStoreSaver``). ``read_only``
    opens a file chat may not write (its tables must already be set up) for reading only. ``probed``: the caller
    has read every table already (chatcli.store.sqlite.check_database), so it is not read again here.
    """
    if read_only:  # immutable: SQLite takes no lock and writes no -wal/-shm beside the file
        conn = await aiosqlite.connect(f"file:{Path(path).absolute()}?immutable=1", uri=True)
    else:
        conn = await aiosqlite.connect(str(path))
    try:
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if not probed:
            await _probe(conn)
        inner = AsyncSqliteSaver(conn, serde=serde)
        saver = MessageStoreSaver(inner, guard=guard) if guard else MessageStoreSaver(inner)
        if read_only:
            saver.assume_set_up()
        else:
            await saver.setup()
    except BaseException:
        await conn.close()
        raise
    saver._conn_to_close = conn
    return saver


@asynccontextmanager
async def sqlite_saver(
    path: str | Path,
    *,
    serde: SerializerProtocol | None = None,
    guard: Runner | None = None,
    read_only: bool = False,
    probed: bool = False,
) -> AsyncIterator[MessageStoreSaver]:
    """``async with sqlite_saver(path) as saver:`` -- opens, sets up, closes."""
    saver = await open_sqlite_saver(path, serde=serde, guard=guard, read_only=read_only, probed=probed)
    try:
        yield saver
    finally:
        await saver.aclose()
