"""MessageStoreSaver: a checkpointer wrapper whose checkpoints refer to stored message nodes."""

from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Concatenate, Coroutine, ParamSpec, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)

from chatcli.store.base import Guard
from chatcli.store.keys import REF_KEY, TAIL
from chatcli.store.messages.cache import ThreadCache
from chatcli.store.messages.chains import ChainStore, MessageTable, is_ref

if TYPE_CHECKING:
    from langchain_core.runnables.utils import ConfigurableFieldSpec

__all__ = ["ERROR_CHANNEL", "REF_KEY", "MessageStoreSaver", "scrub_error"]

T = TypeVar("T")
P = ParamSpec("P")


def _guarded(
    method: Callable[Concatenate[MessageStoreSaver, P], Awaitable[T]],
) -> Callable[Concatenate[MessageStoreSaver, P], Coroutine[Any, Any, T]]:
    """Run the method under ``self.guard``: the driver's errors become the store's."""

    async def run(self: MessageStoreSaver, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.guard.run(lambda: method(self, *args, **kwargs))

    run.__name__, run.__doc__ = method.__name__, method.__doc__
    return run


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


class MessageStoreSaver(ChainStore, BaseCheckpointSaver[str]):
    """Wraps an async checkpoint saver; message lists are stored once as node chains.

    Args:
        inner: the saver that stores checkpoints and writes (e.g. ``AsyncSqliteSaver``).
        table: where message nodes live, on the inner saver's connection and under its lock.
        guard: runs each database operation (translating the driver's errors).
    """

    def __init__(self, inner: BaseCheckpointSaver[str], table: MessageTable, *, guard: Guard) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner
        self.table = table
        self.guard = guard
        self._cache: OrderedDict[str, ThreadCache] = OrderedDict()
        self._setup_done = False
        self._setup_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = getattr(inner, "loop", None)

    # ---------------------------------------------------------------- lifecycle

    async def setup(self) -> None:
        """Create the inner saver's tables and the message table (idempotent)."""
        if self._setup_done:
            return
        async with self._setup_lock:
            if self._setup_done:
                return
            await cast(Any, self.inner).setup()  # (LangGraph's SQLite and PostgreSQL savers: a coroutine)
            await self.table.setup()
            self._setup_done = True

    def assume_set_up(self) -> None:
        """Skip ``setup()``: the caller has checked that every table exists and is current."""
        self._setup_done = True

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return self.inner.config_specs

    def get_next_version(self, current: str | None, channel: None) -> str:
        return self.inner.get_next_version(current, channel)

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> MessageStoreSaver:
        # LangGraph's compile() calls this when strict msgpack is on; the node blobs
        # are (de)serialized with the inner saver's serde, so derive both together.
        inner = self.inner.with_allowlist(extra_allowlist)
        if inner is self.inner:
            return self
        clone = copy.copy(self)  # shares the cache and the table
        clone.inner = inner
        clone.serde = inner.serde
        return clone

    # ------------------------------------------------------------- async API

    @_guarded
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        await self.setup()
        tup = await self.inner.aget_tuple(config)
        return None if tup is None else await self._inflate(tup)

    async def alist(self, config: RunnableConfig | None, **options: Any) -> AsyncIterator[CheckpointTuple]:
        """(``options``: the inner saver's ``filter``, ``before`` and ``limit``.)"""

        # The inner SQLite saver holds its lock while its generator is suspended,
        # and loading nodes needs that lock: read the page first, then inflate.
        async def page() -> list[CheckpointTuple]:
            await self.setup()
            return [t async for t in self.inner.alist(config, **options)]

        for tup in await self.guard.run(page):
            yield await self.guard.run(lambda: self._inflate(tup))

    @_guarded
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        await self.setup()
        values = checkpoint.get("channel_values") or {}
        listed = await self._ref_for(config, values.get("messages"))
        if listed is not None:
            checkpoint = {**checkpoint, "channel_values": {**values, "messages": listed}}
        # What a thread's tree reads (chatcli.store.keys.TAIL).
        tail = listed[REF_KEY] if listed is not None else (None if values.get("messages") is None else False)
        marked = cast("CheckpointMetadata", {**metadata, TAIL: tail})  # a key of chat's own beside LangGraph's
        return await self.inner.aput(config, checkpoint, marked, new_versions)

    @_guarded
    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self.setup()
        if any(channel == ERROR_CHANNEL for channel, _ in writes):
            writes = [(ch, scrub_error(v) if ch == ERROR_CHANNEL else v) for ch, v in writes]
        await self.inner.aput_writes(config, writes, task_id, task_path)

    @_guarded
    async def adelete_thread(self, thread_id: str) -> None:
        await self.setup()
        # Checkpoints first: a crash in between leaves orphan nodes, never dangling refs.
        await self.inner.adelete_thread(thread_id)
        await self.table.delete_messages(str(thread_id))
        self._cache.pop(str(thread_id), None)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.inner.adelete_for_runs(run_ids)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        # Nodes of pruned branches stay (they are shared with kept ones).
        await self.inner.aprune(thread_ids, strategy=strategy)

    @_guarded
    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        await self.setup()
        result = dict(await self.inner.aget_delta_channel_history(config=config, channels=channels))
        thread_id = str(config["configurable"]["thread_id"])
        for ch, entry in result.items():
            if is_ref(entry.get("seed")):
                entry = dict(entry)  # type: ignore[assignment]
                entry["seed"] = await self._resolve(thread_id, entry["seed"])
                result[ch] = entry
        return result

    # ------------------------------------------------------------- sync API: from another thread than the saver's
    # loop these bridge to it, as AsyncSqliteSaver's do; on the loop's own thread they refuse.

    def _run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
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

    def list(self, config: RunnableConfig | None, **options: Any) -> Iterator[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [t async for t in self.alist(config, **options)]

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
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        return self._run_sync(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        return self._run_sync(self.adelete_thread(thread_id))
