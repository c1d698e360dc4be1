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

Prefix matching costs O(1) per message and serializes nothing: a per-thread cache
keeps the recent chains (node ids + the very message objects that were stored or
handed out), and a new list is compared by object identity (plus same ``id`` and the
same ``content`` object, which catches a reassigned ``content``).  With no cache
(a fresh process that did not read through this wrapper) the chain of the parent
checkpoint is loaded and compared by id and equality.  In-place mutation of a
message's nested structures after it was saved is not detected (LangGraph does not
do that; ``add_messages`` builds new lists and only fills in missing ids).

The message table sits behind ``MessageTable`` so a PostgreSQL version can be added
next to ``SqliteMessageTable``.
"""

from __future__ import annotations

import asyncio
import copy
import operator
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    SerializerProtocol,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

__all__ = [
    "REF_KEY",
    "MessageStoreSaver",
    "MessageTable",
    "SqliteMessageTable",
    "open_sqlite_saver",
    "sqlite_saver",
]

REF_KEY = "__chatcli_msgref__"
"""Key of the dict that replaces a message list inside a stored checkpoint."""

MESSAGES_TABLE = "chatcli_messages"

_MAX_CHAINS_PER_THREAD = 16
_MAX_CACHED_THREADS = 32

_get_id = operator.attrgetter("id")
_get_content = operator.attrgetter("content")


# --------------------------------------------------------------------------- refs


def make_ref(tail: int | None, n: int) -> dict[str, Any]:
    return {REF_KEY: tail, "n": n}


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and REF_KEY in value


def _is_message_list(value: Any) -> bool:
    if not isinstance(value, list):
        return False
    # One check per distinct type, not per item.
    return all(issubclass(t, BaseMessage) for t in set(map(type, value)))


def _message_text(msg: BaseMessage) -> str:
    text = getattr(msg, "text", "")
    if isinstance(text, str):  # 1.x: a str subclass that is also callable (deprecated)
        return str(text)
    return str(text()) if callable(text) else ""  # langchain-core < 1.0: a method


# -------------------------------------------------------------------- the table


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

    async def load_chain(
        self, thread_id: str, tail: int
    ) -> list[tuple[int, int, str, bytes]]:
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
                        f"INSERT INTO {MESSAGES_TABLE} (node, {cols}) "
                        "VALUES (?,?,?,?,?,?,?,?,?)",
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

    async def load_chain(
        self, thread_id: str, tail: int
    ) -> list[tuple[int, int, str, bytes]]:
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
                return list(await cur.fetchall())

    async def delete_thread(self, thread_id: str) -> None:
        async with self.lock:
            await self.conn.execute(
                f"DELETE FROM {MESSAGES_TABLE} WHERE thread_id = ?", (thread_id,)
            )
            await self.conn.commit()


# -------------------------------------------------------------------- the cache


class _Chain:
    """A stored message list: node ids and the message objects, position-aligned."""

    __slots__ = ("nodes", "msgs", "ids", "contents")

    def __init__(self, nodes: list[int], msgs: list[BaseMessage]) -> None:
        self.nodes = nodes
        self.msgs = msgs
        self.ids = list(map(_get_id, msgs))
        self.contents = list(map(_get_content, msgs))

    def extend(self, nodes: list[int], msgs: list[BaseMessage]) -> None:
        """Append in place: refs into the old prefix stay valid (nodes are immutable)."""
        self.nodes.extend(nodes)
        self.msgs.extend(msgs)
        self.ids.extend(map(_get_id, msgs))
        self.contents.extend(map(_get_content, msgs))

    def has(self, tail: int, n: int) -> bool:
        # A node's path to the root is unique, so a match at n-1 means the whole
        # prefix [:n] is that node's chain.
        return len(self.nodes) >= n and self.nodes[n - 1] == tail

    def prefix_len(self, new: list[BaseMessage]) -> tuple[int, bool]:
        """Common prefix length by identity (O(1) per message, C loops).

        The flag is True when the first difference is a message object that was
        changed in place since it was stored (its id or content object differs).
        """
        n = min(len(new), len(self.msgs))
        if (
            all(map(operator.is_, new, self.msgs))
            and all(map(operator.eq, map(_get_id, new), self.ids))
            and all(map(operator.is_, map(_get_content, new), self.contents))
        ):
            return n, False
        for i in range(n):
            m = new[i]
            if m is not self.msgs[i]:
                return i, False
            if m.id != self.ids[i] or m.content is not self.contents[i]:
                return i, True
        return n, False


class _ThreadCache:
    __slots__ = ("chains", "by_node")

    def __init__(self) -> None:
        self.chains: list[_Chain] = []  # most recently used first
        self.by_node: dict[int, BaseMessage] = {}

    def find(self, tail: int, n: int) -> _Chain | None:
        for i, chain in enumerate(self.chains):
            if chain.has(tail, n):
                if i:
                    self.chains.insert(0, self.chains.pop(i))
                return chain
        return None

    def touch(self, chain: _Chain) -> None:
        for i, c in enumerate(self.chains):
            if c is chain:
                if i:
                    self.chains.insert(0, self.chains.pop(i))
                return

    def add(self, chain: _Chain) -> None:
        """Add ``chain`` as most recent, dropping chains that are prefixes of it."""
        m = len(chain.nodes)
        self.chains = [
            c
            for c in self.chains
            if not (c.nodes and len(c.nodes) <= m and chain.nodes[len(c.nodes) - 1] == c.nodes[-1])
        ]
        self.chains.insert(0, chain)
        del self.chains[_MAX_CHAINS_PER_THREAD:]
        self.by_node.update(zip(chain.nodes, chain.msgs))


# -------------------------------------------------------------------- the saver


class MessageStoreSaver(BaseCheckpointSaver):
    """Wraps an async checkpoint saver; message lists are stored once as node chains.

    Args:
        inner: the saver that stores checkpoints and writes (e.g. ``AsyncSqliteSaver``).
        table: where message nodes live. Defaults to ``SqliteMessageTable`` on the
            inner saver's connection and lock when ``inner`` is an ``AsyncSqliteSaver``.
        channels: channels whose message lists are stored as nodes.
    """

    def __init__(
        self,
        inner: BaseCheckpointSaver,
        table: MessageTable | None = None,
        *,
        channels: Collection[str] = ("messages",),
    ) -> None:
        super().__init__(serde=inner.serde)
        if table is None:
            if not isinstance(inner, AsyncSqliteSaver):
                raise TypeError("pass a MessageTable for a non-SQLite inner saver")
            table = SqliteMessageTable(inner.conn, inner.lock)
        self.inner = inner
        self.table = table
        self.channels = tuple(channels)
        self._cache: OrderedDict[str, _ThreadCache] = OrderedDict()
        self._setup_done = False
        self._setup_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = getattr(inner, "loop", None)
        self._conn_to_close: aiosqlite.Connection | None = None

    # ---------------------------------------------------------------- lifecycle

    async def setup(self) -> None:
        """Create the inner saver's tables and the message table (idempotent)."""
        if self._setup_done:
            return
        async with self._setup_lock:
            if self._setup_done:
                return
            inner_setup = getattr(self.inner, "setup", None)
            if inner_setup is not None:
                res = inner_setup()
                if asyncio.iscoroutine(res):
                    await res
            await self.table.setup()
            self._setup_done = True

    async def aclose(self) -> None:
        """Close the connection if this saver was opened by ``open_sqlite_saver``."""
        self._cache.clear()
        if self._conn_to_close is not None:
            conn, self._conn_to_close = self._conn_to_close, None
            await conn.close()

    @property
    def config_specs(self) -> list:
        return self.inner.config_specs

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.inner.get_next_version(current, channel)

    def with_allowlist(
        self, extra_allowlist: Collection[tuple[str, ...]]
    ) -> MessageStoreSaver:
        # LangGraph's compile() calls this when strict msgpack is on; the node blobs
        # are (de)serialized with the inner saver's serde, so derive both together.
        inner = self.inner.with_allowlist(extra_allowlist)
        if inner is self.inner:
            return self
        clone = copy.copy(self)  # shares the cache and the table
        clone.inner = inner
        clone.serde = inner.serde
        return clone

    # --------------------------------------------------------------- the cache

    def _thread_cache(self, thread_id: str) -> _ThreadCache:
        tc = self._cache.get(thread_id)
        if tc is None:
            tc = self._cache[thread_id] = _ThreadCache()
            while len(self._cache) > _MAX_CACHED_THREADS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(thread_id)
        return tc

    async def _resolve(self, thread_id: str, ref: Mapping[str, Any]) -> list[BaseMessage]:
        """Message list for a ref (a fresh list; the message objects are shared)."""
        tail, n = ref[REF_KEY], ref["n"]
        if tail is None or n == 0:
            return []
        tc = self._thread_cache(thread_id)
        chain = tc.find(tail, n)
        if chain is None:
            rows = await self.table.load_chain(thread_id, tail)
            if len(rows) != n or any(pos != i for i, (_, pos, _, _) in enumerate(rows)):
                raise RuntimeError(
                    f"message chain of thread {thread_id!r} ending at node {tail} is "
                    f"broken: expected {n} messages, found {len(rows)}"
                )
            loads = self.inner.serde.loads_typed
            by_node = tc.by_node
            msgs = [
                m if (m := by_node.get(node)) is not None else loads((type_, blob))
                for node, _, type_, blob in rows
            ]
            chain = _Chain([r[0] for r in rows], msgs)
            tc.add(chain)
        return chain.msgs[:n]

    async def _inflate(self, tup: CheckpointTuple | None) -> CheckpointTuple | None:
        if tup is None:
            return None
        values = tup.checkpoint.get("channel_values")
        if not values:
            return tup
        refs = {k: v for k, v in values.items() if is_ref(v)}
        if not refs:
            return tup  # old format (inline lists) or no messages: pass through
        thread_id = str(tup.config["configurable"]["thread_id"])
        new_values = dict(values)
        for k, ref in refs.items():
            new_values[k] = await self._resolve(thread_id, ref)
        checkpoint = dict(tup.checkpoint)
        checkpoint["channel_values"] = new_values
        return tup._replace(checkpoint=checkpoint)  # type: ignore[arg-type]

    async def _store(
        self,
        thread_id: str,
        config: RunnableConfig,
        channel: str,
        msgs: list[BaseMessage],
    ) -> dict[str, Any]:
        """Insert what is new in ``msgs``; return the ref that replaces it."""
        has_parent = bool(config["configurable"].get("checkpoint_id"))
        if not has_parent:
            # First checkpoint of a thread (or of a re-created one): cached nodes may
            # belong to a deleted incarnation, so start from nothing.
            self._cache.pop(thread_id, None)
        tc = self._thread_cache(thread_id)

        best: _Chain | None = None
        k = 0
        for chain in tc.chains:
            j, mutated = chain.prefix_len(msgs)
            if mutated:
                # A stored message was edited in place: cached objects no longer match
                # the database. Forget them and compare with the stored parent below.
                tc.chains.clear()
                tc.by_node.clear()
                best, k = None, 0
                break
            if j > k:
                best, k = chain, j
            if j and (j == len(msgs) or j == len(chain.nodes)):
                break

        if k == 0 and msgs and has_parent:
            # Fresh process, or objects that did not come through this saver: compare
            # with what the parent checkpoint holds, by id and equality.
            parent = await self.inner.aget_tuple(config)
            pref = parent.checkpoint["channel_values"].get(channel) if parent else None
            if is_ref(pref) and pref["n"]:
                await self._resolve(thread_id, pref)
                chain = tc.find(pref[REF_KEY], pref["n"])
                assert chain is not None
                for j, (a, b) in enumerate(zip(msgs, chain.msgs[: pref["n"]])):
                    if not (a is b or (a.id == b.id and a == b)):
                        break
                else:
                    j = min(len(msgs), pref["n"])
                best, k = chain, j

        if best is not None and k:
            tc.touch(best)
        if k == len(msgs):
            return make_ref(best.nodes[k - 1] if (best is not None and k) else None, k)

        tail_msgs = msgs[k:]
        dumps = self.inner.serde.dumps_typed
        rows = []
        for m in tail_msgs:
            type_, blob = dumps(m)
            rows.append((type_, blob, m.type, _message_text(m)))
        parent_node = best.nodes[k - 1] if (best is not None and k) else None
        new_nodes = await self.table.insert_chain(thread_id, parent_node, k, rows)
        # (re-checked after the await: a concurrent put may have extended `best`)
        if best is not None and k and k == len(best.nodes):
            best.extend(new_nodes, tail_msgs)  # the usual turn: O(new messages)
            tc.by_node.update(zip(new_nodes, tail_msgs))
        else:  # a branch (retry, edit) or a new thread
            prefix_nodes = best.nodes[:k] if (best is not None and k) else []
            tc.add(_Chain(prefix_nodes + new_nodes, list(msgs)))
        return make_ref(new_nodes[-1], len(msgs))

    # ------------------------------------------------------------- async API

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        await self.setup()
        return await self._inflate(await self.inner.aget_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        await self.setup()
        # The inner SQLite saver holds its lock while its generator is suspended,
        # and loading nodes needs that lock: read the page first, then inflate.
        tuples = [
            t
            async for t in self.inner.alist(
                config, filter=filter, before=before, limit=limit
            )
        ]
        for tup in tuples:
            yield await self._inflate(tup)  # type: ignore[misc]

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        await self.setup()
        values = checkpoint.get("channel_values") or {}
        refs: dict[str, Any] = {}
        thread_id = str(config["configurable"]["thread_id"])
        for ch in self.channels:
            value = values.get(ch)
            if _is_message_list(value):
                refs[ch] = await self._store(thread_id, config, ch, value)
        if refs:
            checkpoint = {**checkpoint, "channel_values": {**values, **refs}}  # type: ignore[typeddict-item]
        return await self.inner.aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self.setup()
        await self.inner.aput_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.setup()
        # Checkpoints first: a crash in between leaves orphan nodes, never dangling refs.
        await self.inner.adelete_thread(thread_id)
        await self.table.delete_thread(str(thread_id))
        self._cache.pop(str(thread_id), None)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.inner.adelete_for_runs(run_ids)

    async def aprune(
        self, thread_ids: Sequence[str], *, strategy: str = "keep_latest"
    ) -> None:
        # Nodes of pruned branches stay (they are shared with kept ones).
        await self.inner.aprune(thread_ids, strategy=strategy)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        raise NotImplementedError(
            "MessageStoreSaver cannot copy threads (nodes are per thread); fork with "
            "aupdate_state({'configurable': {'thread_id': new}}, {'messages': msgs}, "
            "as_node=...) instead"
        )

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        await self.setup()
        result = dict(
            await self.inner.aget_delta_channel_history(config=config, channels=channels)
        )
        thread_id = str(config["configurable"]["thread_id"])
        for ch, entry in result.items():
            if is_ref(entry.get("seed")):
                entry = dict(entry)  # type: ignore[assignment]
                entry["seed"] = await self._resolve(thread_id, entry["seed"])
                result[ch] = entry
        return result

    # -------------------------------------------------------------- sync API
    # The app is async. From another thread these bridge to the saver's loop, like
    # AsyncSqliteSaver does; on the loop's own thread they refuse.

    def _run_sync(self, coro: Any) -> Any:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None or running is self._loop:
            coro.close()
            raise NotImplementedError(
                "MessageStoreSaver is async: use aget_state / ainvoke / astream "
                "(sync calls work only from a thread other than the saver's loop)"
            )
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._run_sync(self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [
                t
                async for t in self.alist(config, filter=filter, before=before, limit=limit)
            ]

        yield from self._run_sync(collect())

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._run_sync(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        return self._run_sync(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        return self._run_sync(self.adelete_thread(thread_id))


# ----------------------------------------------------------------- factories


async def open_sqlite_saver(
    path: str | Path, *, serde: SerializerProtocol | None = None
) -> MessageStoreSaver:
    """Open ``path`` and return a ready ``MessageStoreSaver``; close with ``aclose()``."""
    conn = await aiosqlite.connect(str(path))
    try:
        await conn.execute("PRAGMA busy_timeout=5000")
        inner = AsyncSqliteSaver(conn, serde=serde)
        saver = MessageStoreSaver(inner)
        await saver.setup()
    except BaseException:
        await conn.close()
        raise
    saver._conn_to_close = conn
    return saver


@asynccontextmanager
async def sqlite_saver(
    path: str | Path, *, serde: SerializerProtocol | None = None
) -> AsyncIterator[MessageStoreSaver]:
    """``async with sqlite_saver(path) as saver:`` -- opens, sets up, closes."""
    saver = await open_sqlite_saver(path, serde=serde)
    try:
        yield saver
    finally:
        await saver.aclose()
