"""MessageStoreSaver: a checkpointer wrapper whose checkpoints refer to stored message nodes."""

from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from chatcli.msgstore.bridge import SyncBridge
from chatcli.msgstore.cache import _Chain, _ThreadCache
from chatcli.msgstore.table import MessageTable, SqliteMessageTable

REF_KEY = "__chatcli_msgref__"
"""Key of the dict that replaces a message list inside a stored checkpoint."""

_MAX_CACHED_THREADS = 32

ERROR_CHANNEL = "__error__"
"""Where LangGraph records a failed task's exception (it stores the exception's repr)."""


def scrub_error(value: Any) -> str:
    """What is stored of a failed task's error: its type and HTTP status, never its message.

    Error messages can carry secrets: OpenAI's 401 echoes the API key back
    ("Incorrect API key provided: sk-..."). LangGraph only reads this value back to
    report the error, so a short description loses nothing the thread needs.
    """
    if not isinstance(value, BaseException):
        return "error"
    status = getattr(value, "status_code", None)
    return type(value).__name__ + (f" (HTTP {status})" if isinstance(status, int) else "")


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


class MessageStoreSaver(SyncBridge, BaseCheckpointSaver):
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

    def assume_set_up(self) -> None:
        """Skip ``setup()``: the caller has checked that every table exists and is current."""
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

    async def live_nodes(self, thread_id: str, channel: str = "messages") -> set[int] | None:
        """Node ids of the messages in the thread's current history (not undone or replaced ones).

        None when the thread's head is stored in the old inline format (nothing to filter by).
        """
        await self.setup()
        head = await self.inner.aget_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
        ref = (head.checkpoint.get("channel_values") or {}).get(channel) if head else None
        if not is_ref(ref):
            return None if head and ref else set()
        if ref[REF_KEY] is None:
            return set()
        return {row[0] for row in await self.table.load_chain(thread_id, ref[REF_KEY])}

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
        if any(channel == ERROR_CHANNEL for channel, _ in writes):
            writes = [(ch, scrub_error(v) if ch == ERROR_CHANNEL else v) for ch, v in writes]
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
