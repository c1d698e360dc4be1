"""Message lists to refs and back: the half of ``MessageStoreSaver`` that stores and resolves chains."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from chatcli.store.keys import REF_KEY
from chatcli.store.messages.cache import Chain, ThreadCache
from chatcli.store.messages.reducer import carried_over

_MAX_CACHED_THREADS = 32


class MessageTable(Protocol):
    """Where message nodes live: one row per message, never updated (chatcli.store.index.ThreadIndex). Its writes
    are serialized with the inner saver's on the same connection, so a chain is committed before the checkpoint that
    refers to it."""

    async def setup(self) -> None: ...

    async def insert_chain(
        self, thread_id: str, parent: int | None, start_pos: int, rows: Sequence[tuple[str, bytes, str, str]]
    ) -> list[int]:
        """Insert ``rows`` (type, blob, role, text) as a chain below ``parent``; the new node ids in order."""

    async def load_chain(self, thread_id: str, tail: int) -> list[tuple[Any, ...]]:
        """The chain ending at ``tail`` as (node, pos, type, blob), root first."""

    async def delete_messages(self, thread_id: str) -> None: ...


def make_ref(tail: int | None, n: int) -> dict[str, Any]:
    return {REF_KEY: tail, "n": n}


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and REF_KEY in value


def _is_message_list(value: Any) -> bool:
    # One check per distinct type, not per item.
    return isinstance(value, list) and all(issubclass(t, BaseMessage) for t in set(map(type, value)))


class ChainStore:
    """Turns message lists into refs to node chains and back, through a per-thread cache.

    A mixin for ``MessageStoreSaver``, which provides ``inner`` (the wrapped saver: its
    serde, and the parent checkpoint when the cache cannot tell), ``table`` and ``_cache``.
    """

    inner: BaseCheckpointSaver[str]
    table: MessageTable
    _cache: OrderedDict[str, ThreadCache]

    def _thread_cache(self, thread_id: str) -> ThreadCache:
        tc = self._cache.get(thread_id)
        if tc is None:
            tc = self._cache[thread_id] = ThreadCache()
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
            loads, by_node = self.inner.serde.loads_typed, tc.by_node
            msgs = [by_node.get(node) or loads((type_, blob)) for node, _, type_, blob in rows]
            chain = Chain([r[0] for r in rows], msgs)
            tc.add(chain)
        handed = chain.msgs[:n]
        tc.handed.append((handed, n))
        return handed

    async def _inflate(self, tup: CheckpointTuple) -> CheckpointTuple:
        values = tup.checkpoint.get("channel_values")
        if not values:
            return tup
        refs = {k: v for k, v in values.items() if is_ref(v)}
        if not refs:
            return tup  # old format (inline lists) or no messages: pass through
        thread_id = str(tup.config["configurable"]["thread_id"])
        resolved = {k: await self._resolve(thread_id, ref) for k, ref in refs.items()}
        return tup._replace(checkpoint={**tup.checkpoint, "channel_values": {**values, **resolved}})

    async def _ref_for(self, config: RunnableConfig, value: Any) -> dict[str, Any] | None:
        """The ref that replaces ``value``, a checkpoint's ``messages`` channel (chat's graph's, and any graph's that
        has one), or None if it is not a message list.

        Messages carried over unchanged (from a list this saver handed out, or by an
        append-only update) are only compared by identity with the cached chain; the
        others are checked for in-place changes too.
        """
        if not isinstance(value, list):
            return None
        thread_id = str(config["configurable"]["thread_id"])
        tc = self._cache.get(thread_id)
        trusted = max(carried_over(value), tc.carried(value) if tc is not None else 0)
        # The carried-over messages came from a message list: check the types of the rest.
        if not _is_message_list(value[trusted:] if trusted else value):
            return None
        return await self._store(thread_id, config, value, trusted)

    async def _store(
        self, thread_id: str, config: RunnableConfig, msgs: list[BaseMessage], trusted: int
    ) -> dict[str, Any]:
        """Insert what is new in ``msgs``; return the ref that replaces it."""
        has_parent = bool(config["configurable"].get("checkpoint_id"))
        if not has_parent:
            # First checkpoint of a thread (or of a re-created one): cached nodes may
            # belong to a deleted incarnation, so start from nothing.
            self._cache.pop(thread_id, None)
        tc = self._thread_cache(thread_id)

        best: Chain | None = None
        k = 0
        for chain in tc.chains:
            j, mutated = chain.prefix_len(msgs, trusted)
            if mutated:
                # A stored message was edited in place: cached objects no longer match
                # the database. Forget them and compare with the stored parent below.
                tc.forget()
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
            pref = parent.checkpoint["channel_values"].get("messages") if parent else None
            if pref is not None and is_ref(pref) and pref["n"]:
                await self._resolve(thread_id, pref)
                found = tc.find(pref[REF_KEY], pref["n"])
                assert found is not None
                for j, (a, b) in enumerate(zip(msgs, found.msgs[: pref["n"]])):
                    if not (a is b or (a.id == b.id and a == b)):
                        break
                else:
                    j = min(len(msgs), pref["n"])
                best, k = found, j

        parent_node = best.nodes[k - 1] if best is not None and k else None
        if best is not None and k:
            tc.touch(best)
        if k == len(msgs):
            return make_ref(parent_node, k)

        tail_msgs = msgs[k:]
        rows = [(*self.inner.serde.dumps_typed(m), m.type, str(m.text)) for m in tail_msgs]
        new_nodes = await self.table.insert_chain(thread_id, parent_node, k, rows)
        # (re-checked after the await: a concurrent put may have extended `best`)
        if best is not None and k and k == len(best.nodes):
            best.extend(new_nodes, tail_msgs)  # the usual turn: O(new messages)
            tc.by_node.update(zip(new_nodes, tail_msgs))
        else:  # a branch (retry, edit) or a new thread
            tc.add(Chain((best.nodes[:k] if best is not None else []) + new_nodes, list(msgs)))
        return make_ref(new_nodes[-1], len(msgs))
