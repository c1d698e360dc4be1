"""The thread index (title, times, size, model) and full-text search, with ordered schema migrations."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

# Each migration is a list of statements, applied once, in order, inside one transaction;
# the database's PRAGMA user_version counts how many have been applied.
MIGRATIONS: list[tuple[str, list[str]]] = [
    # Checkpoint and message tables: created by LangGraph's saver and chatcli.msgstore.
    ("m001_base", []),
    (
        "m002_threads",
        [
            """CREATE TABLE IF NOT EXISTS chatcli_threads (
                thread_id TEXT PRIMARY KEY,
                title TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                message_count INTEGER NOT NULL DEFAULT 0,
                model TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS chatcli_threads_updated ON chatcli_threads(updated_at)",
            # Threads written before the index existed: title from the first question.
            """INSERT OR IGNORE INTO chatcli_threads (thread_id, title, created_at, updated_at, message_count)
               SELECT thread_id,
                      (SELECT substr(text, 1, 80) FROM chatcli_messages f
                        WHERE f.thread_id = m.thread_id AND f.pos = 0 ORDER BY node LIMIT 1),
                      min(created_at), max(created_at), max(pos) + 1
                 FROM chatcli_messages m GROUP BY thread_id""",
        ],
    ),
    (
        "m003_search",
        [
            """CREATE VIRTUAL TABLE IF NOT EXISTS chatcli_search USING fts5(
                text, content='chatcli_messages', content_rowid='node')""",
            """CREATE TRIGGER IF NOT EXISTS chatcli_search_insert AFTER INSERT ON chatcli_messages BEGIN
                INSERT INTO chatcli_search(rowid, text) VALUES (new.node, new.text);
            END""",
            """CREATE TRIGGER IF NOT EXISTS chatcli_search_delete AFTER DELETE ON chatcli_messages BEGIN
                INSERT INTO chatcli_search(chatcli_search, rowid, text) VALUES ('delete', old.node, old.text);
            END""",
            "INSERT INTO chatcli_search(chatcli_search) VALUES ('rebuild')",
        ],
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)


async def migrate(conn: Any) -> int:
    """Apply the migrations this database has not seen yet; return its schema version."""
    async with conn.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()
    if version >= SCHEMA_VERSION:
        return version
    await conn.execute("BEGIN IMMEDIATE")  # one process migrates; others wait, then see it done
    try:
        async with conn.execute("PRAGMA user_version") as cursor:
            (version,) = await cursor.fetchone()
        for number, (_name, statements) in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {number}")
        await conn.commit()
    except BaseException:
        await conn.rollback()
        raise
    return SCHEMA_VERSION


def make_title(text: str, width: int = 60) -> str:
    """A one-line title from a question: its first line, cut at a word near ``width``."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    cut = line[:width].rsplit(" ", 1)[0] or line[:width]
    return cut.rstrip(",.;:") + "…"


@dataclass
class ThreadInfo:
    """One row of the thread index."""

    thread_id: str
    title: str | None
    created_at: float
    updated_at: float
    message_count: int
    model: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchHit:
    """A message that matches a search: where it is and a snippet around the match."""

    thread_id: str
    title: str | None
    turn: int
    role: str
    snippet: str
    node: int = 0


_COLUMNS = "thread_id, title, created_at, updated_at, message_count, model"


class ThreadIndex:
    """The index of threads kept beside the checkpoints, on the saver's connection."""

    def __init__(self, conn: Any, lock: Any):
        self.conn = conn
        self.lock = lock

    async def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        async with self.lock:
            async with self.conn.execute(sql, params) as cursor:
                return list(await cursor.fetchall())

    async def _write(self, sql: str, params: tuple = ()) -> int:
        async with self.lock:
            cursor = await self.conn.execute(sql, params)
            await self.conn.commit()
            return cursor.rowcount

    async def touch(self, thread_id: str, question: str, message_count: int, model: str | None) -> None:
        """Record a turn: create the row (titled by its first question) or update it."""
        now = time.time()
        await self._write(
            f"""INSERT INTO chatcli_threads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(thread_id) DO UPDATE SET updated_at = excluded.updated_at,
                    message_count = excluded.message_count, model = excluded.model,
                    title = coalesce(chatcli_threads.title, excluded.title)""",
            (thread_id, make_title(question), now, now, message_count, model),
        )

    async def get(self, thread_id: str) -> ThreadInfo | None:
        rows = await self._rows(f"SELECT {_COLUMNS} FROM chatcli_threads WHERE thread_id = ?", (thread_id,))
        return ThreadInfo(*rows[0]) if rows else None

    async def list(self, limit: int | None = None) -> list[ThreadInfo]:
        """Threads, most recently updated first."""
        rows = await self._rows(
            f"SELECT {_COLUMNS} FROM chatcli_threads ORDER BY updated_at DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [ThreadInfo(*row) for row in rows]

    async def ids(self, prefix: str = "") -> list[str]:
        rows = await self._rows(
            "SELECT thread_id FROM chatcli_threads WHERE thread_id LIKE ? ESCAPE '\\' ORDER BY updated_at DESC",
            (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        )
        return [row[0] for row in rows]

    async def set_title(self, thread_id: str, title: str) -> bool:
        return await self._write(
            "UPDATE chatcli_threads SET title = ? WHERE thread_id = ?", (make_title(title, 200), thread_id)
        ) > 0

    async def set_count(self, thread_id: str, message_count: int) -> None:
        await self._write(
            "UPDATE chatcli_threads SET message_count = ?, updated_at = ? WHERE thread_id = ?",
            (message_count, time.time(), thread_id),
        )

    async def delete(self, thread_id: str) -> None:
        await self._write("DELETE FROM chatcli_threads WHERE thread_id = ?", (thread_id,))

    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Messages matching ``text`` (words, all required), best first."""
        query = " ".join('"' + word.replace('"', '""') + '"' for word in text.split())
        if not query:
            return []
        rows = await self._rows(
            """SELECT m.thread_id, t.title, m.pos, m.role,
                      snippet(chatcli_search, 0, '[', ']', '…', 12), m.node
                 FROM chatcli_search s
                 JOIN chatcli_messages m ON m.node = s.rowid
                 LEFT JOIN chatcli_threads t ON t.thread_id = m.thread_id
                WHERE chatcli_search MATCH ?
                ORDER BY rank LIMIT ?""",
            (query, limit),
        )
        return [SearchHit(tid, title, pos // 2 + 1, role, snip, node) for tid, title, pos, role, snip, node in rows]
