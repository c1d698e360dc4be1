"""Message nodes: one immutable row per message, chained by parent pointers (SQLite version)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import aiosqlite

MESSAGES_TABLE = "chatcli_messages"


class MessageTable:
    """Storage of message nodes. One row per message; rows are never updated.

    Implementations must serialize their access with whatever the inner saver uses
    for the same connection, so node inserts are committed before the checkpoint
    that refers to them.
    """

    async def setup(self) -> None:
        raise NotImplementedError

    async def insert_chain(
        self,
        thread_id: str,
        parent: int | None,
        start_pos: int,
        rows: Sequence[tuple[str, bytes, str, str]],
    ) -> list[int]:
        """Insert ``rows`` (type, blob, role, text) as a chain below ``parent``.

        The first row gets position ``start_pos``. Returns the new node ids in order.
        """
        raise NotImplementedError

    async def load_chain(self, thread_id: str, tail: int) -> list[tuple[int, int, str, bytes]]:
        """Return the chain ending at ``tail`` as (node, pos, type, blob), root first."""
        raise NotImplementedError

    async def delete_thread(self, thread_id: str) -> None:
        raise NotImplementedError


class SqliteMessageTable(MessageTable):
    """Message nodes in the SQLite file of an ``AsyncSqliteSaver``.

    Uses the saver's connection and its ``asyncio.Lock``.
    """

    def __init__(self, conn: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        self.conn = conn
        self.lock = lock

    async def setup(self) -> None:
        async with self.lock:
            await self.conn.executescript(
                f"""
                CREATE TABLE IF NOT EXISTS {MESSAGES_TABLE} (
                    node INTEGER PRIMARY KEY,
                    thread_id TEXT NOT NULL,
                    parent INTEGER NULL,
                    pos INTEGER NOT NULL,
                    type TEXT,
                    blob BLOB,
                    role TEXT,
                    text TEXT,
                    created_at REAL
                );
                CREATE INDEX IF NOT EXISTS {MESSAGES_TABLE}_thread
                    ON {MESSAGES_TABLE}(thread_id);
                """
            )
            await self.conn.commit()

    async def insert_chain(
        self,
        thread_id: str,
        parent: int | None,
        start_pos: int,
        rows: Sequence[tuple[str, bytes, str, str]],
    ) -> list[int]:
        if not rows:
            return []
        now = time.time()
        cols = "thread_id, parent, pos, type, blob, role, text, created_at"
        async with self.lock:
            try:
                if not self.conn.in_transaction:
                    # Take the write lock now: the ids after the first are assigned
                    # explicitly, which is only safe while no one else can insert.
                    await self.conn.execute("BEGIN IMMEDIATE")
                cur = await self.conn.execute(
                    f"INSERT INTO {MESSAGES_TABLE} ({cols}) VALUES (?,?,?,?,?,?,?,?)",
                    (thread_id, parent, start_pos, *rows[0], now),
                )
                first = cur.lastrowid
                await cur.close()
                assert first is not None
                if len(rows) > 1:
                    await self.conn.executemany(
                        f"INSERT INTO {MESSAGES_TABLE} (node, {cols}) VALUES (?,?,?,?,?,?,?,?,?)",
                        [
                            (first + i, thread_id, first + i - 1, start_pos + i, *row, now)
                            for i, row in enumerate(rows)
                            if i
                        ],
                    )
                await self.conn.commit()
            except BaseException:
                await self.conn.rollback()
                raise
        return list(range(first, first + len(rows)))

    async def load_chain(self, thread_id: str, tail: int) -> list[tuple[int, int, str, bytes]]:
        query = f"""
            WITH RECURSIVE chain(node, parent, pos, type, blob) AS (
                SELECT node, parent, pos, type, blob FROM {MESSAGES_TABLE}
                 WHERE node = ? AND thread_id = ?
                UNION ALL
                SELECT m.node, m.parent, m.pos, m.type, m.blob
                  FROM {MESSAGES_TABLE} AS m JOIN chain AS c ON m.node = c.parent
            )
            SELECT node, pos, type, blob FROM chain ORDER BY pos
        """
        async with self.lock:
            async with self.conn.execute(query, (tail, thread_id)) as cur:
                return [tuple(row) for row in await cur.fetchall()]

    async def delete_thread(self, thread_id: str) -> None:
        async with self.lock:
            await self.conn.execute(f"DELETE FROM {MESSAGES_TABLE} WHERE thread_id = ?", (thread_id,))
            await self.conn.commit()
