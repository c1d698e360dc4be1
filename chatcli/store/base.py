"""The store interface: what chat needs of a conversation database, whichever database keeps it.

A ``Store`` is opened by ``chatcli.store.open_store`` (SQLite for a path, PostgreSQL for a
``postgresql://`` URL) and offers the same things on both: LangGraph's checkpointer
(``saver``), the thread index (``index``), a per-thread turn lock across processes,
deletion and space reclaiming. Every error of the database driver is turned into a
``StoreError`` inside the backend (by its ``Guard``): nothing above this package knows
which driver is underneath.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncContextManager,
    Awaitable,
    Callable,
    ClassVar,
    List,
    NamedTuple,
    Protocol,
    Sequence,
    TypeVar,
)

from chatcli.errors import StoreError

if TYPE_CHECKING:
    from chatcli.store.messages import MessageStoreSaver

T = TypeVar("T")
# A row as the database driver gives it, and the parameters of a statement.
Row = tuple[Any, ...]
Params = tuple[object, ...]
# Seconds between two tries of a lock another process holds, and the tries before saying so.
LOCK_POLL = 0.05
LOCK_NOTE_AFTER = 20
# How long an operation waits, in all, for a database another program holds busy.
BUSY_WAIT = 30.0


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
        """The row for JSON: times in ISO 8601, UTC ("2026-11-23T10:40:12+00:00"), as messages keep theirs."""
        from chatcli.text import iso_time

        return {**asdict(self), "created_at": iso_time(self.created_at), "updated_at": iso_time(self.updated_at)}


@dataclass(frozen=True)
class Place:
    """Where a thread was made: its directory (absolute) and the additional directories it was given (an editor's
    session's ``additionalDirectories``)."""

    cwd: str
    dirs: tuple[str, ...] = ()


@dataclass
class SearchHit:
    """A message that matches a search: where it is, when it was said, and a snippet around the match."""

    thread_id: str
    title: str | None
    turn: int
    role: str
    snippet: str
    node: int = 0
    created_at: float | None = None  # when the message was stored (epoch seconds)
    marks: tuple[tuple[int, int], ...] = ()  # where the snippet matches: (start, end) offsets


class Said(NamedTuple):
    """One stored message as a thread's tree reads it: its key (its node in the thread's message tree, increasing in the
    order stored), the key of the message before it, its type ("human", "ai", "tool", "system"), the start of its text
    (``START_CHARS``), its position in the thread's list and when it was stored (seconds since the epoch)."""

    key: int
    parent: int | None
    role: str
    text: str
    pos: int
    at: float | None = None


# How much of a question and of an answer a node of the tree carries (a line of /tree shows less).
START_CHARS = 200


class Point(NamedTuple):
    """One checkpoint of a thread as its tree reads it (chatcli.threads.tree), from chat's database or any app's state
    history: its id, the key of the last message of its list (None: no message yet), the model its run named (None:
    not one of chat's), its parent's id, what chat's change made it (``MARK``: "compact", "edit" or "undo") and when
    (seconds since the epoch)."""

    checkpoint_id: str
    tail: int | None
    model: str | None = None
    parent: str | None = None
    mark: str | None = None
    at: float | None = None


# Dollars: sums of floats within this of a spending limit do not pass it (a hundred $0.01 make 0.9999999...).
EPSILON = 1e-8
# A question's start is a row of no dollars under its thread's id after this (never a thread's id's first character:
# chatcli.core.inputs.THREAD_ID): what the thread spent since is the question's, whichever process goes on with it.
QUESTION = "?"


class Spent(NamedTuple):
    """Dollars spent (and held for calls under way) in a thread, in the day and in the thread's question so far, as
    the spending ledger says."""

    thread: float
    day: float
    question: float = 0.0


class Held(NamedTuple):
    """A model call's most it may cost, held in the spending ledger until its cost is known (``row``: None when a limit
    refused it), with what was spent before it."""

    row: int | None
    spent: Spent


@dataclass(frozen=True)
class Asked:
    """One question a thread waits on: ``kind`` "approval" (a tool call to approve; ``id`` the call's), "question"
    (a tool's server asks; ``id`` the interrupt's) or "interrupt" (a graph's own; ``id`` the interrupt's), and
    ``text``, a line saying what is asked."""

    kind: str
    id: str
    text: str

    CUT_FIELDS: ClassVar[tuple[str, ...]] = ("text",)  # cut from a longer text: a credential cut at its end is masked


@dataclass(frozen=True)
class Waiting:
    """A thread that waits for the user (chat inbox): since when, its title, and what it asks."""

    thread_id: str
    since: float
    title: str
    asked: tuple[Asked, ...]
    server: str | None = None  # the Agent Server that keeps the thread (None: chat's database does)

    def as_dict(self) -> dict[str, Any]:
        from chatcli.text import iso_time

        return {
            "thread_id": self.thread_id,
            "since": iso_time(self.since),
            "title": self.title,
            "server": self.server,
            "asked": [asdict(a) for a in self.asked],
        }


class ThreadIndex(Protocol):
    """Titles, times, sizes and models of the threads, and full-text search over their messages."""

    async def touch(self, thread_id: str, question: str, message_count: int, model: str | None) -> None:
        """Record a turn: create the row (titled by its first question) or update it."""

    async def get(self, thread_id: str) -> ThreadInfo | None: ...

    async def list(self, limit: int | None = None) -> list[ThreadInfo]:
        """Threads, most recently updated first."""

    async def set_title(self, thread_id: str, title: str) -> bool:
        """Rename a thread; False if the index has no row for it."""

    async def set_count(self, thread_id: str, message_count: int) -> None: ...

    async def place(self, thread_id: str, cwd: str, dirs: Sequence[str] = ()) -> None:
        """Keep with the thread's row where it was made (its directory, its additional directories)."""

    async def places(self) -> dict[str, Place]:
        """Where each thread whose place is known was made."""

    async def binding(self, thread_id: str) -> str | None:
        """What answers the thread, as stored (chatcli.core.binding.Binding's JSON); None if nothing is stored."""

    async def bind(self, thread_id: str, binding: str) -> None:
        """Store what answers the thread."""

    async def waits(self, thread_id: str, asked: Sequence[Asked]) -> None:
        """Record what the thread waits on now (nothing: it waits on nothing, and leaves the inbox)."""

    async def waiting(self) -> List[Waiting]:
        """The threads that wait for the user, the longest waiting first."""

    async def search(self, text: str, limit: int = 20) -> List[SearchHit]:
        """Messages matching ``text`` (words, all required; ``word*`` a prefix), best first, turns not numbered yet."""

    async def counted(self, hits: List[SearchHit]) -> List[SearchHit]:
        """``hits`` with their turn numbers."""

    async def head(self, thread_id: str) -> dict[str, Any] | None:
        """The thread's current state as plain data (messages as dicts, system, vars); None if it has none."""

    async def live_nodes(self, thread_id: str) -> set[int] | None:
        """Stored ids of the messages in the thread's current history (None: stored the old way)."""

    async def tree_rows(self, thread_id: str) -> tuple[List[Said], List[Point]] | None:
        """What a thread's tree is built from: its stored messages and its checkpoints (None: kept another way)."""

    async def branch(self, thread_id: str, node: int) -> List[Any]:
        """The messages from the thread's first to stored message ``node``, as plain data."""

    async def labels(self, thread_id: str) -> dict[int, List[str]]:
        """The names given to nodes of the thread's tree, by node."""

    async def label(self, thread_id: str, node: int, label: str) -> None:
        """Name node ``node`` of the thread's tree ``label``."""

    async def hold(self, thread_id: str, usd: float, limits: tuple[float | None, ...], day_start: float) -> Held:
        """Hold ``usd`` for a model call in the spending ledger, unless the thread's spending, the day's (since
        ``day_start``, seconds since the epoch) or the thread's question's (since its row: QUESTION) and it would
        pass its limit (``limits``, in that order; None or none: no limit); one transaction, so that two processes
        cannot both pass a limit."""

    async def settle(self, row: int, usd: float) -> None:
        """The held call's cost, now known (0 for a call that failed before it was charged)."""

    async def spent(self, thread_id: str, day_start: float) -> Spent:
        """What the ledger says of the thread and the day so far."""

    async def purge(self, thread_id: str) -> None:
        """Remove the thread's checkpoints, messages, row, binding, labels and inbox entry (its spending stays)."""


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
        from chatcli.errors import UsageError
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


def the_row(row: T | None) -> T:
    """The row of a query that always gives one (a PRAGMA, an aggregate, a function's value)."""
    assert row is not None, "the query gave no row"
    return row


async def poll_lock(try_acquire: Callable[[], Awaitable[bool]], on_wait: Callable[[], None] | None = None) -> None:
    """Take a lock by trying until it is free, so that waiting stays cancellable (Ctrl-C).

    ``on_wait`` is called once, after about a second of waiting.
    """
    tries = 0
    while not await try_acquire():
        tries += 1
        if tries == LOCK_NOTE_AFTER and on_wait is not None:
            on_wait()
        await asyncio.sleep(LOCK_POLL)


class Guard:
    """Runs a backend's operations and turns its driver's exceptions into one-line StoreErrors.

    ``errors`` are the driver's exception classes; ``reason(exc)`` is the useful line of
    one (never a password). When ``reopen`` is given, an operation that fails because the
    connection dropped (``dropped(exc)``) opens it again and runs once more.
    """

    def __init__(
        self,
        name: str,
        errors: tuple[type[BaseException], ...],
        reason: Callable[[BaseException], str] = str,
        hint: str = "run with --debug for details",
        reopen: Callable[[], Awaitable[None]] | None = None,
        dropped: Callable[[BaseException], bool] = lambda exc: False,
        busy: Callable[[BaseException], bool] = lambda exc: False,
    ):
        self.name = name
        self.errors = errors
        self.reason = reason
        self.hint = hint
        self.reopen = reopen
        self.dropped = dropped
        self.busy = busy  # the database is held by another program: worth waiting for
        self.on_wait: Callable[[str], None] | None = None  # says, once, that chat waits for it
        self.busy_wait = BUSY_WAIT

    def error(self, exc: BaseException) -> StoreError:
        """The StoreError a driver exception means to the user."""
        return StoreError(f"database error in {self.name}: {self.reason(exc)}", hint=self.hint)

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``await operation()``, with the driver's errors translated (and one retry after a reconnect).

        While another program holds the database busy, the operation is tried again for up to
        ``busy_wait`` seconds (``on_wait`` says so once) before it fails.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_wait
        told = False
        while True:
            try:
                return await operation()
            except self.errors as exc:
                if self.busy(exc) and loop.time() < deadline:
                    if not told and self.on_wait is not None:
                        self.on_wait(f"{self.name} is locked by another program: waiting for it (Ctrl-C gives up)")
                    told = True
                    await asyncio.sleep(0.2)
                    continue
                if self.reopen is None or not self.dropped(exc):
                    raise self.error(exc) from exc
                failure = exc
                break
        try:
            await self.reopen()
        except StoreError as exc:
            raise exc from failure
        try:
            return await operation()
        except self.errors as exc:
            raise self.error(exc) from exc

    async def __call__(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await self.run(operation)
