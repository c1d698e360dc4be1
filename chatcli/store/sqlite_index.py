"""The thread index and full-text search (FTS5) in the SQLite file."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from chatcli.store.base import Held, Params, Row, SearchHit
from chatcli.store.decode import loads
from chatcli.store.fts import fts5_query
from chatcli.store.index import CLOSE, COLUMNS, OPEN, STATEMENTS, ThreadIndex, marked, passes, purging, spent_of
from chatcli.store.keys import MARK, REF_KEY, TAIL, uuid6_time
from chatcli.store.sqlite_schema import transaction

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import aiosqlite


class SqliteThreadIndex(ThreadIndex):
    """The index of threads on the saver's aiosqlite connection, under the saver's lock."""

    conn: aiosqlite.Connection
    NO_LIMIT = -1
    SQL = {
        **STATEMENTS,
        "head": """SELECT type, checkpoint FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''
            ORDER BY checkpoint_id DESC LIMIT 1""",
        "purge": purging("checkpoints", "writes"),
        # (No starts_with in SQLite: the range of the key that starts with ?1.)
        "matching": f"""SELECT {COLUMNS} FROM chatcli_threads
            WHERE thread_id >= ?1 AND thread_id < ?1 || char(1114111) LIMIT ?""",
        # Each checkpoint's id, its parent's, the last message of its list and the two fields of its metadata the tree
        # reads; the checkpoint itself only where its metadata does not name that message (TAIL).
        "points": f"""SELECT checkpoint_id, parent_checkpoint_id,
                   CASE WHEN json_type(m, '$.{TAIL}') IN ('integer', 'null') THEN NULL ELSE type END,
                   CASE WHEN json_type(m, '$.{TAIL}') IN ('integer', 'null') THEN NULL ELSE checkpoint END,
                   json_extract(m, '$.{TAIL}'), json_extract(m, '$.model'), json_extract(m, '$.{MARK}')
              FROM (SELECT *, CAST(metadata AS TEXT) AS m FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '')
             ORDER BY checkpoint_id""",
    }

    MESSAGES = (
        """CREATE TABLE IF NOT EXISTS chatcli_messages (
            node INTEGER PRIMARY KEY, thread_id TEXT NOT NULL, parent INTEGER NULL, pos INTEGER NOT NULL, type TEXT,
            blob BLOB, role TEXT, text TEXT, created_at REAL)""",
        "CREATE INDEX IF NOT EXISTS chatcli_messages_thread ON chatcli_messages(thread_id)",
    )

    async def _fetch(self, sql: str, params: Params) -> list[Row]:
        async with self.conn.execute(sql, params) as cursor:
            # No row factory on this connection: its rows are tuples (typed as sqlite3.Row).
            return list(cast("Iterable[Row]", await cursor.fetchall()))

    async def _execute(self, sql: str, params: Params) -> int:
        async with transaction(self.conn, begin=False):  # (rolled back if it fails: the memories share this connection)
            cursor = await self.conn.execute(sql, params)
        return cursor.rowcount

    async def _execute_all(self, statements: list[str], params: Params) -> None:
        async with transaction(self.conn, begin=False):  # one commit (and one sync to disk) for the lot
            for statement in statements:
                await self.conn.execute(statement, params)

    async def insert_chain(
        self, thread_id: str, parent: int | None, start_pos: int, rows: Sequence[tuple[str, bytes, str, str]]
    ) -> list[int]:
        if not rows:
            return []
        now = time.time()
        cols = "thread_id, parent, pos, type, blob, role, text, created_at"
        # The write lock taken first: the ids after the first are assigned explicitly, which is only safe while no
        # one else can insert.
        async with self.lock, transaction(self.conn, begin=not self.conn.in_transaction):
            cur = await self.conn.execute(
                f"INSERT INTO chatcli_messages ({cols}) VALUES (?,?,?,?,?,?,?,?)",
                (thread_id, parent, start_pos, *rows[0], now),
            )
            first = cur.lastrowid
            await cur.close()
            assert first is not None
            await self.conn.executemany(
                f"INSERT INTO chatcli_messages (node, {cols}) VALUES (?,?,?,?,?,?,?,?,?)",
                [(first + i, thread_id, first + i - 1, start_pos + i, *row, now) for i, row in enumerate(rows) if i],
            )
        return list(range(first, first + len(rows)))

    async def _hold(self, thread_id: str, usd: float, limits: tuple[float | None, ...], day_start: float) -> Held:
        async with transaction(self.conn):  # one process at a time sums and holds
            async with self.conn.execute(self.SQL["spent"], self.spent_params(thread_id, day_start)) as cursor:
                spent = spent_of(list(cast("Iterable[Row]", await cursor.fetchall())))
            if not passes(spent, usd, limits):
                return Held(None, spent)
            cursor = await self.conn.execute(
                "INSERT INTO chatcli_spending (thread_id, at, usd, held) VALUES (?, ?, ?, 1)",
                (thread_id, time.time(), usd),
            )
            row = cursor.lastrowid
        assert row is not None
        return Held(row, spent)

    async def _channel_values(self, thread_id: str) -> dict[str, Any] | None:
        rows = await self._rows(self.SQL["head"], (thread_id,))
        return dict(loads(*rows[0]).get("channel_values") or {}) if rows else None

    async def _points(self, thread_id: str) -> "list[tuple[str, str | None, Any, Any, Any, Any]]":
        found: list[tuple[str, str | None, Any, Any, Any, Any]] = []
        for checkpoint_id, parent, type_, blob, tail, model, mark in await self._rows(self.SQL["points"], (thread_id,)):
            if type_ is None:  # its metadata names the message: nothing to decode
                ref, at = None if tail is None else {REF_KEY: tail}, uuid6_time(checkpoint_id)
            else:
                checkpoint = loads(type_, blob) or {}
                ref, at = checkpoint.get("channel_values", {}).get("messages"), checkpoint.get("ts")
            found.append((checkpoint_id, parent, ref, model, mark, at))
        return found

    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Messages matching ``text`` (words, all required; ``word*`` a prefix), best first."""
        query = fts5_query(text)
        if not query:
            return []
        rows: list[Any] = await self._rows(
            f"""SELECT m.thread_id, t.title, m.pos, m.role,
                      snippet(chatcli_search, 0, char({ord(OPEN)}), char({ord(CLOSE)}), '…', 12), m.node, m.created_at
                 FROM chatcli_search s
                 JOIN chatcli_messages m ON m.node = s.rowid
                 LEFT JOIN chatcli_threads t ON t.thread_id = m.thread_id
                WHERE chatcli_search MATCH ?
                ORDER BY rank LIMIT ?""",
            (query, limit),
        )
        return [marked(SearchHit(tid, title, pos // 2 + 1, *rest)) for tid, title, pos, *rest in rows]
