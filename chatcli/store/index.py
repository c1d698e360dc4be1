"""The thread index's logic, shared by both backends; each gives its own SQL and driver calls."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, List, Sequence, TypeVar

from chatcli.store.base import (
    EPSILON,
    QUESTION,
    START_CHARS,
    Asked,
    Guard,
    Held,
    Params,
    Place,
    Point,
    Row,
    Said,
    SearchHit,
    Spent,
    ThreadInfo,
    Waiting,
)
from chatcli.store.decode import loads
from chatcli.store.keys import REF_KEY
from chatcli.text import make_title, redact_url

if TYPE_CHECKING:
    import asyncio

COLUMNS = "thread_id, title, created_at, updated_at, message_count, model"
# The statements both databases run alike, in SQLite's placeholder style (PostgreSQL's index takes them as
# ``postgres_style`` writes them).
STATEMENTS = {
    "touch": f"""INSERT INTO chatcli_threads ({COLUMNS}, cwd) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(thread_id) DO UPDATE SET updated_at = excluded.updated_at,
            message_count = excluded.message_count, model = excluded.model,
            title = coalesce(chatcli_threads.title, excluded.title)""",
    "get": f"SELECT {COLUMNS} FROM chatcli_threads WHERE thread_id = ?",
    "list": f"SELECT {COLUMNS} FROM chatcli_threads ORDER BY updated_at DESC LIMIT ?",
    # starts_with: a range of the key where the database's collation is C, right under any other (SQLite has its own).
    "matching": f"SELECT {COLUMNS} FROM chatcli_threads WHERE starts_with(thread_id, ?) LIMIT ?",
    "latest": f"""SELECT {COLUMNS} FROM chatcli_threads WHERE CAST(? AS TEXT) IS NULL OR model = ?
        ORDER BY updated_at DESC LIMIT 1""",
    "set_title": "UPDATE chatcli_threads SET title = ? WHERE thread_id = ?",
    "set_count": "UPDATE chatcli_threads SET message_count = ?, updated_at = ? WHERE thread_id = ?",
    "wait": """INSERT INTO chatcli_waiting (thread_id, since, asked) VALUES (?, ?, ?)
        ON CONFLICT(thread_id) DO UPDATE SET asked = excluded.asked""",
    "unwait": "DELETE FROM chatcli_waiting WHERE thread_id = ?",
    "waiting": """SELECT w.thread_id, w.since, coalesce(t.title, ''), w.asked, b.binding FROM chatcli_waiting AS w
        LEFT JOIN chatcli_threads AS t ON t.thread_id = w.thread_id
        LEFT JOIN chatcli_bindings AS b ON b.thread_id = w.thread_id ORDER BY w.since""",
    "place": "UPDATE chatcli_threads SET cwd = ?, dirs = ? WHERE thread_id = ?",
    "places": "SELECT thread_id, cwd, dirs FROM chatcli_threads WHERE cwd IS NOT NULL",
    "binding": "SELECT binding FROM chatcli_bindings WHERE thread_id = ?",
    "bind": """INSERT INTO chatcli_bindings (thread_id, binding) VALUES (?, ?)
        ON CONFLICT(thread_id) DO UPDATE SET binding = excluded.binding""",
    "turn": """WITH RECURSIVE up(node, parent, role) AS (
            SELECT node, parent, role FROM chatcli_messages WHERE node = ?
            UNION ALL SELECT m.node, m.parent, m.role FROM chatcli_messages m JOIN up ON m.node = up.parent)
        SELECT count(*) FROM up WHERE role = 'human'""",
    # A message chain, root first: the rows from the tail up through the parent pointers.
    "chain": """WITH RECURSIVE chain(node, parent, pos, type, blob) AS (
            SELECT node, parent, pos, type, blob FROM chatcli_messages WHERE node = ? AND thread_id = ?
            UNION ALL SELECT m.node, m.parent, m.pos, m.type, m.blob FROM chatcli_messages AS m JOIN chain AS c
            ON m.node = c.parent)
        SELECT node, pos, type, blob FROM chain ORDER BY pos""",
    "delete_messages": "DELETE FROM chatcli_messages WHERE thread_id = ?",
    "said": f"""SELECT node, parent, role, coalesce(substr(text, 1, {START_CHARS}), ''), pos, created_at
        FROM chatcli_messages WHERE thread_id = ?""",
    # The ledger's three sums: the thread's, the day's since a time, and the thread's since its question's start.
    "spent": """SELECT coalesce(sum(CASE WHEN thread_id = ? THEN usd END), 0),
            coalesce(sum(CASE WHEN at >= ? THEN usd END), 0),
            coalesce(sum(CASE WHEN thread_id = ? AND at >= (SELECT coalesce(max(at), 0) FROM chatcli_spending
                          WHERE thread_id = ?) THEN usd END), 0)
        FROM chatcli_spending WHERE thread_id = ? OR at >= ?""",
    "settle": "UPDATE chatcli_spending SET usd = ?, held = false WHERE id = ?",
    "labels": "SELECT node, label FROM chatcli_labels WHERE thread_id = ?",
    "label": """INSERT INTO chatcli_labels (thread_id, label, node) VALUES (?, ?, ?)
        ON CONFLICT(thread_id, label) DO UPDATE SET node = excluded.node""",
}
T = TypeVar("T")
# What a snippet's matches are wrapped in, from the database to ``marked`` (control characters:
# they are not in what people type, and a stored one only moves a highlight).
OPEN, CLOSE = "\x02", "\x03"


def _here() -> str | None:
    """The directory this process runs in (None: it was removed)."""
    try:
        return os.getcwd()
    except OSError:
        return None


def _directories(stored: Any) -> tuple[str, ...]:
    """The additional directories a row keeps (a JSON list of paths); none for anything else."""
    try:
        value = json.loads(stored) if isinstance(stored, str) else None
    except ValueError:
        return ()
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def marked(hit: SearchHit) -> SearchHit:
    """``hit`` with its snippet's match marks taken out and kept as (start, end) spans."""
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for char in hit.snippet:
        if char == OPEN:
            start = len(text)
        elif char == CLOSE:
            if start is not None:
                spans.append((start, len(text)))
            start = None
        else:
            text.append(char)
    return replace(hit, snippet="".join(text), marks=tuple(spans))


class ThreadIndex:
    """The thread index (``chatcli_threads``) and the message nodes (``chatcli_messages``) on a backend's connection,
    under its lock.

    A backend subclass gives ``SQL`` (its statements, in its driver's placeholder style),
    ``NO_LIMIT`` (the LIMIT that means none), ``MESSAGES`` (the statements that make the message table),
    ``_fetch``/``_execute`` (its driver calls, which run under ``guard``), ``insert_chain`` and ``search``.
    """

    SQL: dict[str, str]
    NO_LIMIT: int | None
    MESSAGES: ClassVar[tuple[str, ...]]

    def __init__(self, conn: Any, lock: asyncio.Lock, guard: Guard):
        self.conn = conn
        self.lock = lock
        self.guard = guard

    async def _fetch(self, sql: str, params: Params) -> list[Row]:
        raise NotImplementedError

    async def _execute(self, sql: str, params: Params) -> int:
        raise NotImplementedError

    async def _execute_all(self, statements: list[str], params: Params) -> None:
        """Run ``statements``, each with ``params``, in one transaction."""
        raise NotImplementedError

    async def _locked(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``await operation()`` under the lock, run by the guard (the driver's errors as StoreErrors)."""

        async def run() -> T:
            async with self.lock:
                return await operation()

        return await self.guard.run(run)

    async def _rows(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._locked(lambda: self._fetch(sql, params))

    async def _write(self, sql: str, params: Params = ()) -> int:
        return await self._locked(lambda: self._execute(sql, params))

    # The message nodes (chatcli.store.messages.chains.MessageTable): one immutable row per message, chained by parent
    # pointers. The saver runs these under its guard and under the lock it writes checkpoints under, so a chain is
    # committed before the checkpoint that refers to it.

    async def setup(self) -> None:
        """Create the message table (idempotent)."""
        async with self.lock:
            await self._execute_all(list(self.MESSAGES), ())

    async def load_chain(self, thread_id: str, tail: int) -> List[Row]:
        """The chain ending at ``tail`` as (node, pos, type, blob), root first."""
        async with self.lock:
            return await self._fetch(self.SQL["chain"], (tail, thread_id))

    async def delete_messages(self, thread_id: str) -> None:
        async with self.lock:
            await self._execute(self.SQL["delete_messages"], (thread_id,))

    async def touch(
        self, thread_id: str, question: str, message_count: int, model: str | None, cwd: str | None = None
    ) -> None:
        """Record a turn: create the row (titled by its first question, placed in ``cwd``, the directory the door
        works in: this process's when not given) or update it (its place kept)."""
        now = time.time()
        row = (thread_id, make_title(question), now, now, message_count, model, cwd or _here())
        await self._write(self.SQL["touch"], row)

    async def place(self, thread_id: str, cwd: str, dirs: Sequence[str] = ()) -> None:
        """Keep with the thread's row where it was made: ``cwd`` and the additional directories ``dirs`` (an
        editor's session: its own directory, not the agent's)."""
        await self._write(self.SQL["place"], (cwd, json.dumps(list(dirs)) if dirs else None, thread_id))

    async def places(self) -> dict[str, Place]:
        """Where each thread whose place is known was made (a thread made before places were kept has none)."""
        rows = await self._rows(self.SQL["places"])
        return {str(tid): Place(str(cwd), _directories(dirs)) for tid, cwd, dirs in rows}

    async def counted(self, hits: List[SearchHit]) -> List[SearchHit]:
        """``hits`` numbered by the user's questions up to each one (a turn with tool calls holds
        more than two messages), counted along the message's own branch of the thread."""
        numbered = []
        for hit in hits:
            rows = await self._rows(self.SQL["turn"], (hit.node,)) if hit.node else []
            numbered.append(replace(hit, turn=max(1, int(rows[0][0]))) if rows else hit)
        return numbered

    async def get(self, thread_id: str) -> ThreadInfo | None:
        """The thread's row; None if the index has none."""
        rows = await self._rows(self.SQL["get"], (thread_id,))
        return ThreadInfo(*rows[0]) if rows else None

    async def list(self, limit: int | None = None) -> list[ThreadInfo]:
        """Threads, most recently updated first."""
        rows = await self._rows(self.SQL["list"], (self.NO_LIMIT if limit is None else limit,))
        return [ThreadInfo(*row) for row in rows]

    async def latest(self, model: str | None = None) -> ThreadInfo | None:
        """The most recently used thread (of those ``model`` answered last, when given); None if there is none."""
        rows = await self._rows(self.SQL["latest"], (model, model))
        return ThreadInfo(*rows[0]) if rows else None

    async def matching(self, start: str, limit: int) -> List[ThreadInfo]:
        """Threads whose id starts with ``start``, at most ``limit`` of them, read through the index's key."""
        return [ThreadInfo(*row) for row in await self._rows(self.SQL["matching"], (start, limit))]

    async def set_title(self, thread_id: str, title: str) -> bool:
        """Rename a thread; False if the index has no row for it."""
        return await self._write(self.SQL["set_title"], (make_title(title, 200), thread_id)) > 0

    async def set_count(self, thread_id: str, message_count: int) -> None:
        """The thread's size, now (it moves to the top of the list)."""
        await self._write(self.SQL["set_count"], (message_count, time.time(), thread_id))

    async def waits(self, thread_id: str, asked: Sequence[Asked]) -> None:
        """Record what the thread waits on now (since when it first waited is kept); nothing: the thread leaves the
        inbox."""
        if not asked:
            await self._write(self.SQL["unwait"], (thread_id,))
            return
        listed = json.dumps([{"kind": a.kind, "id": a.id, "text": a.text} for a in asked])
        await self._write(self.SQL["wait"], (thread_id, time.time(), listed))

    async def waiting(self) -> List[Waiting]:
        """The threads that wait for the user, the longest waiting first."""
        found = []
        for thread_id, since, title, listed, bound in await self._rows(self.SQL["waiting"]):
            try:
                items = [item for item in json.loads(listed) if isinstance(item, dict)]
            except ValueError:
                items = []
            asked = tuple(Asked(*(str(item.get(k, "")) for k in ("kind", "id", "text"))) for item in items)
            found.append(Waiting(str(thread_id), float(since), str(title), asked, _server(bound)))
        return found

    async def binding(self, thread_id: str) -> str | None:
        """What answers the thread, as stored (chatcli.core.binding.Binding's JSON); None if nothing is stored."""
        rows = await self._rows(self.SQL["binding"], (thread_id,))
        return str(rows[0][0]) if rows else None

    async def bind(self, thread_id: str, binding: str) -> None:
        """Store what answers the thread (``binding``: chatcli.core.binding.Binding's JSON)."""
        await self._write(self.SQL["bind"], (thread_id, binding))

    async def search(self, text: str, limit: int = 20) -> List[SearchHit]:
        """Messages matching ``text``, best first, their turns not numbered yet (see ``counted``)."""
        raise NotImplementedError

    async def _channel_values(self, thread_id: str) -> dict[str, Any] | None:
        """The channel values of the thread's latest checkpoint, decoded; None if it has none."""
        raise NotImplementedError

    async def _chain(self, thread_id: str, values: dict[str, Any], decode: bool = True) -> List[tuple[int, Any]] | None:
        """(node, message) of the messages a checkpoint's ref names (message None unless ``decode``); None when the list
        is stored inline."""
        ref = values.get("messages")
        if not (isinstance(ref, dict) and REF_KEY in ref):
            return None
        if ref[REF_KEY] is None or not ref.get("n"):
            return []
        rows = await self._rows(self.SQL["chain"], (ref[REF_KEY], thread_id))
        return [(node, loads(type_, blob) if decode else None) for node, _, type_, blob in rows]

    async def branch(self, thread_id: str, node: int) -> List[Any]:
        """The messages from the thread's first to stored message ``node`` (chatcli.threads.tree: a node's last
        message), as plain data."""
        rows = await self._rows(self.SQL["chain"], (node, thread_id))
        return [loads(type_, blob) for _node, _pos, type_, blob in rows]

    async def head(self, thread_id: str) -> dict[str, Any] | None:
        """The thread's current state as plain data (messages as dicts, system, vars); None if it has none."""
        values = await self._channel_values(thread_id)
        if values is None:
            return None
        chain = await self._chain(thread_id, values)
        if chain is not None:
            values["messages"] = [message for _, message in chain]
        elif not isinstance(values.get("messages"), list):
            values["messages"] = []
        return values

    async def live_nodes(self, thread_id: str) -> set[int] | None:
        """Stored ids of the messages in the thread's current history (None: stored the old way)."""
        values = await self._channel_values(thread_id)
        if values is None:
            return set()
        chain = await self._chain(thread_id, values, decode=False)
        if chain is None:
            return None if values.get("messages") else set()
        return {node for node, _message in chain}

    async def _points(self, thread_id: str) -> List[tuple[str, str | None, Any, Any, Any, Any]]:
        """Each checkpoint of the thread, oldest first: its id, its parent's, its ``messages`` value (decoded, or made
        from its metadata's ``TAIL``), the ``model`` and ``MARK`` fields of its metadata and its time (ISO 8601, or
        seconds since the epoch)."""
        raise NotImplementedError

    async def tree_rows(self, thread_id: str) -> tuple[List[Said], List[Point]] | None:
        """What a thread's tree is built from (chatcli.threads.tree): its stored messages and its checkpoints, oldest
        first; None when a checkpoint keeps its messages another way (stored before chat kept them as nodes, or a
        graph's channel of its own)."""
        from datetime import datetime

        points: List[Point] = []
        for checkpoint_id, parent, ref, model, mark, ts in await self._points(thread_id):
            if ref is not None and not (isinstance(ref, dict) and REF_KEY in ref):
                return None
            try:
                at = datetime.fromisoformat(ts).timestamp() if isinstance(ts, str) else ts
            except ValueError:
                at = None
            model, mark = (value if isinstance(value, str) else None for value in (model, mark))
            points.append(Point(checkpoint_id, ref[REF_KEY] if ref else None, model, parent, mark, at))
        if not points:
            return None
        return [Said._make(row) for row in await self._rows(self.SQL["said"], (thread_id,))], points

    async def spent(self, thread_id: str, day_start: float) -> Spent:
        """What the spending ledger says of the thread and of the day since ``day_start``, held calls included."""
        return spent_of(await self._rows(self.SQL["spent"], self.spent_params(thread_id, day_start)))

    @staticmethod
    def spent_params(thread_id: str, day_start: float) -> tuple[str | float, ...]:
        """The ``spent`` query's parameters."""
        return (thread_id, day_start, thread_id, QUESTION + thread_id, thread_id, day_start)

    async def hold(self, thread_id: str, usd: float, limits: tuple[float | None, ...], day_start: float) -> Held:
        """Hold ``usd`` for a model call unless the thread's, the day's or the question's spending would pass its limit
        (``limits``, as ``Spent`` sums them): the sums and the row in one transaction that one process at a time may
        write (two cannot both pass a limit)."""
        return await self._locked(lambda: self._hold(thread_id, usd, limits, day_start))

    async def _hold(self, thread_id: str, usd: float, limits: tuple[float | None, ...], day_start: float) -> Held:
        raise NotImplementedError

    async def settle(self, row: int, usd: float) -> None:
        """The held call's cost, now known (0 for a call that failed before it was charged)."""
        await self._write(self.SQL["settle"], (usd, row))

    async def labels(self, thread_id: str) -> dict[int, List[str]]:
        """The names given to nodes of the thread's tree, by node."""
        found: dict[int, List[str]] = {}
        for node, label in await self._rows(self.SQL["labels"], (thread_id,)):
            found.setdefault(int(node), []).append(str(label))
        return found

    async def label(self, thread_id: str, node: int, label: str) -> None:
        """Name node ``node`` of the thread's tree ``label`` (taken from the node it named before, if any)."""
        await self._write(self.SQL["label"], (thread_id, label, node))

    async def purge(self, thread_id: str) -> None:
        """Remove the thread (``purging``), in one transaction."""
        await self._locked(lambda: self._execute_all(self.SQL["purge"].split("; "), (thread_id,)))


def purging(*checkpoint_tables: str) -> str:
    """The statements that remove a thread: its checkpoints first (a crash in between leaves orphan nodes, never
    dangling refs), then its messages, row, binding, labels and inbox entry (its spending stays)."""
    tables = (*checkpoint_tables, "chatcli_messages", "chatcli_threads", "chatcli_bindings", "chatcli_labels")
    return "; ".join(f"DELETE FROM {table} WHERE thread_id = ?" for table in (*tables, "chatcli_waiting"))


def postgres_style(statements: dict[str, str]) -> dict[str, str]:
    """SQLite's placeholders (``?``) written as psycopg's (``%s``)."""
    return {key: sql.replace("?", "%s") for key, sql in statements.items()}


def spent_of(rows: Sequence[Row]) -> Spent:
    """The ledger's three sums as the ``spent`` query gives them."""
    (thread, day, question), *_ = list(rows) or [(0, 0, 0)]
    return Spent(float(thread or 0), float(day or 0), float(question or 0))


def passes(spent: Spent, usd: float, limits: tuple[float | None, ...]) -> bool:
    """Whether ``usd`` more keeps the thread, the day and the question within their limits (None: no limit)."""
    return all(limit is None or total + usd <= limit + EPSILON for total, limit in zip(spent, limits))


def _server(binding: str | None) -> str | None:
    """The Agent Server a thread's stored binding (chatcli.core.binding's JSON) names; None for any other."""
    try:
        found = json.loads(binding or "")
    except ValueError:
        return None
    url = found.get("url") if isinstance(found, dict) and found.get("kind") == "remote" else None
    return redact_url(url) if isinstance(url, str) else None  # (a password in it is never shown)
