"""What the stores hand out and take: a thread's row, its place, search hits, the tree's rows, the spending ledger's
sums, what a thread waits on; and the ``Guard`` that turns a driver's errors into ``StoreError``s (the store itself:
chatcli.store.database)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable, ClassVar, NamedTuple, TypeVar

from chatcli.errors import StoreError

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


@dataclass(eq=False)
class Guard:
    """Runs a backend's operations and turns its driver's exceptions into one-line StoreErrors.

    ``errors`` are the driver's exception classes; ``reason(exc)`` is the useful line of
    one (never a password). When ``reopen`` is given, an operation that fails because the
    connection dropped (``dropped(exc)``) opens it again and runs once more.
    """

    name: str
    errors: tuple[type[BaseException], ...]
    reason: Callable[[BaseException], str] = str
    hint: str = "run with --debug for details"
    reopen: Callable[[], Awaitable[None]] | None = None
    dropped: Callable[[BaseException], bool] = lambda exc: False
    busy: Callable[[BaseException], bool] = lambda exc: False  # held by another program: worth waiting for
    on_wait: Callable[[str], None] | None = field(default=None, init=False)  # says, once, that chat waits for it
    busy_wait: float = field(default_factory=lambda: BUSY_WAIT, init=False)  # (read as each opens)

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
        told = reopened = False
        while True:
            try:
                return await operation()
            except self.errors as exc:
                if self.busy(exc) and not reopened and loop.time() < deadline:
                    if not told and self.on_wait is not None:
                        self.on_wait(f"{self.name} is locked by another program: waiting for it (Ctrl-C gives up)")
                    told = True
                    await asyncio.sleep(0.2)
                    continue
                if reopened or self.reopen is None or not self.dropped(exc):
                    raise self.error(exc) from exc
                try:
                    await self.reopen()
                except StoreError as error:
                    raise error from exc
                reopened = True
