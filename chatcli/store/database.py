"""An open conversation database (``Store``), whichever database keeps it.

A ``Store`` is opened by ``chatcli.store.open_store`` (SQLite for a path, PostgreSQL for a ``postgresql://`` URL) and
offers the same things on both: LangGraph's checkpointer (``saver``), the thread index (``index``), a per-thread turn
lock across processes, deletion and space reclaiming. Every error of the database driver is turned into a
``StoreError`` inside the backend (by its ``Guard``): nothing above this package knows which driver is underneath.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncContextManager, Callable

from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.store.base import Guard
    from chatcli.store.index import ThreadIndex
    from chatcli.store.messages import MessageStoreSaver


class Store:
    """An open conversation database: what both backends do the same way on top of their saver, index and guard.

    ``saver`` is LangGraph's checkpointer; None in a store opened for managing threads only (chatcli.store.light),
    whose ``full`` opens the same database the full way, for reading (for a thread only LangGraph can read whole,
    chatcli.threads.deltas).
    """

    name: str  # what messages call it: the file, or the URL without its password
    saver: MessageStoreSaver | None = None
    index: ThreadIndex
    guard: Guard
    memory: Any = None  # LangGraph's store (a BaseStore) beside the threads: memories (None: opened without it)
    full: Callable[[], AsyncContextManager[Store]] | None = None

    def thread_lock(self, thread_id: str, on_wait: Callable[[], None] | None = None) -> AsyncContextManager[None]:
        """Hold ``thread_id`` for one turn, across processes, so concurrent turns queue up."""
        raise NotImplementedError

    def memories(self, user: str | None = None) -> Any:
        """The memories of ``user`` (the login name by default): a chatcli.store.memories.MemoryBook."""
        from chatcli.store.memories import MemoryBook

        if self.memory is None:
            why = "is open for reading only" if self.saver is not None else "was opened for managing threads only"
            raise UsageError(f"the database {why}: memories cannot be used")
        return MemoryBook(self.memory, user, self.guard.run)

    def tell_waits(self, note: Callable[[str], None]) -> None:
        """Say through ``note`` when an operation waits for a database another program holds."""
        self.guard.on_wait = note

    async def delete_thread(self, thread_id: str) -> None:
        """Remove the thread's checkpoints, messages and index row, and give the space back."""
        if self.saver is not None:
            await self.saver.adelete_thread(thread_id)  # (and the saver's cache of it)
        await self.index.purge(thread_id)  # all else
        await self.guard.run(self.reclaim)

    async def reclaim(self) -> None:
        """Give the space of deleted rows back, where the database does not do it by itself."""
