"""The thread index's logic, shared by both backends; each gives its own SQL and driver calls."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from chatcli.store.base import Guard, SearchHit, ThreadInfo
from chatcli.text import make_title

COLUMNS = "thread_id, title, created_at, updated_at, message_count, model"


class SqlThreadIndex:
    """The thread index (``chatcli_threads``) on a backend's connection, under its lock.

    A backend subclass gives ``SQL`` (its statements, in its driver's placeholder style),
    ``NO_LIMIT`` (the LIMIT that means none), ``_fetch``/``_execute`` (its driver calls,
    which run under ``guard``) and ``search``.
    """

    SQL: ClassVar[dict[str, str]]
    NO_LIMIT: ClassVar[Any]

    def __init__(self, conn: Any, lock: Any, guard: Guard):
        self.conn = conn
        self.lock = lock
        self.guard = guard

    async def _fetch(self, sql: str, params: tuple) -> list[tuple]:
        raise NotImplementedError

    async def _execute(self, sql: str, params: tuple) -> int:
        raise NotImplementedError

    async def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        async def read() -> list[tuple]:
            async with self.lock:
                return await self._fetch(sql, params)

        return await self.guard.run(read)

    async def _write(self, sql: str, params: tuple = ()) -> int:
        async def write() -> int:
            async with self.lock:
                return await self._execute(sql, params)

        return await self.guard.run(write)

    async def touch(self, thread_id: str, question: str, message_count: int, model: str | None) -> None:
        """Record a turn: create the row (titled by its first question) or update it."""
        now = time.time()
        await self._write(self.SQL["touch"], (thread_id, make_title(question), now, now, message_count, model))

    async def counted(self, hits: list[SearchHit]) -> list[SearchHit]:
        """``hits`` numbered by the user's questions up to each one (a turn with tool calls holds
        more than two messages), counted along the message's own branch of the thread."""
        from dataclasses import replace

        numbered = []
        for hit in hits:
            rows = await self._rows(self.SQL["turn"], (hit.node,)) if hit.node else []
            numbered.append(replace(hit, turn=max(1, int(rows[0][0]))) if rows else hit)
        return numbered

    async def get(self, thread_id: str) -> ThreadInfo | None:
        rows = await self._rows(self.SQL["get"], (thread_id,))
        return ThreadInfo(*rows[0]) if rows else None

    async def list(self, limit: int | None = None) -> list[ThreadInfo]:
        """Threads, most recently updated first."""
        rows = await self._rows(self.SQL["list"], (self.NO_LIMIT if limit is None else limit,))
        return [ThreadInfo(*row) for row in rows]

    async def ids(self, prefix: str = "") -> list[str]:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [row[0] for row in await self._rows(self.SQL["ids"], (pattern,))]

    async def set_title(self, thread_id: str, title: str) -> bool:
        return await self._write(self.SQL["set_title"], (make_title(title, 200), thread_id)) > 0

    async def set_count(self, thread_id: str, message_count: int) -> None:
        await self._write(self.SQL["set_count"], (message_count, time.time(), thread_id))

    async def delete(self, thread_id: str) -> None:
        await self._write(self.SQL["delete"], (thread_id,))

    async def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        raise NotImplementedError
