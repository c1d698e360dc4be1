"""Where memories are kept: LangGraph's store (a ``BaseStore``) in the conversation database, beside the threads.

LangGraph's own store is opened on chat's database with the threads (SQLite's, chatcli.store.sqlite: on the
checkpointer's connection, under its lock; PostgreSQL's, chatcli.store.postgres.store: a connection of its own), its
tables set up on first use. Chat's graph is compiled with it, so its nodes (and a ``--graph`` app that takes a store)
reach it as LangGraph's runtime gives it. ``MemoryBook`` is what chat does with it: the memories of one user (namespace
``("chatcli", "memories", USER)``), each a ``Memory``, read strictly (a value of another shape is skipped, never
half-read). Which of them a request carries is chatcli.core.memories'.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from chatcli.errors import StoreError

if TYPE_CHECKING:
    from array import array

    from langgraph.store.base import BaseStore

MAX_TEXT = 2000  # characters of one memory
MAX_MEMORIES = 1000  # kept for one user (the oldest go first past it)
SOURCES = ("prompt", "command", "tool", "import")  # how a memory came: /remember, chat memory, the tool, an import


class MemoryRefused(ValueError):
    """A text that cannot be a memory (empty, too long, not printable): the reason, in one line."""


@dataclass(frozen=True)
class Memory:
    """One thing remembered: its id (to forget or edit it), the user's words, when, and how it came."""

    id: str
    text: str
    created_at: float  # epoch seconds
    source: str = "command"

    def as_json(self) -> dict[str, Any]:
        from chatcli.text import iso_time

        return {"id": self.id, "text": self.text, "created_at": iso_time(self.created_at), "source": self.source}


def checked_text(text: str) -> str:
    """``text`` as a memory keeps it: one paragraph of printable text, at most MAX_TEXT characters."""
    kept = " ".join(str(text).split())
    if not kept:
        raise MemoryRefused("nothing to remember: give the words to keep")
    if len(kept) > MAX_TEXT:
        raise MemoryRefused(f"a memory is at most {MAX_TEXT:,} characters (this one has {len(kept):,})")
    if not kept.isprintable():
        raise MemoryRefused("a memory is printable text (this one holds control characters)")
    return kept


def user_name() -> str:
    """Whose memories these are: the login name (one database may hold a team's), as the environment says it (the
    uid where it says none)."""
    import os

    return os.environ.get("USER") or os.environ.get("LOGNAME") or f"uid{os.getuid()}"


def vector_namespace(user: str) -> tuple[str, ...]:
    """Where the memories' vectors are kept: beside them, not among them (an app's search of the memories finds
    the memories only)."""
    return ("chatcli", "memory_vectors", user)


MAX_DIMENSIONS = 16_384  # of one kept vector (the largest embedding models give 4,096)


def vector_key(model: str, text: str) -> str:
    """The key of ``text``'s vector by ``model``: an edited memory's text has another (its old vector goes unused)."""
    import hashlib

    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()[:32]


def _model_key(model: str) -> str:
    """The store key of ``model``'s vectors (one item holds them all: read in one go, written when one is new)."""
    return "model-" + vector_key(model, "")


def _vectors_of(value: Any, model: str) -> dict[str, "array[float]"]:
    """The vectors a kept item holds, by key: none when it is not ``model``'s or not what chat writes (they are made
    again, never half-read); a vector that is not all finite numbers is left out."""
    import base64
    import binascii
    import math
    import sys
    from array import array

    if not isinstance(value, dict) or value.get("model") != model:
        return {}
    keys, size, packed = value.get("keys"), value.get("dimensions"), value.get("vectors")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not isinstance(packed, str):
        return {}
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_DIMENSIONS:
        return {}
    try:
        data = base64.b64decode(packed, validate=True)
    except (binascii.Error, ValueError):
        return {}
    if len(data) != len(keys) * size * 4:
        return {}
    every = array("f", data)  # little-endian float32
    if sys.byteorder != "little":
        every.byteswap()
    whole = math.isfinite(sum(every))  # (a NaN or an infinity anywhere makes the sum one: then each is looked at)
    vectors = {key: every[n * size : (n + 1) * size] for n, key in enumerate(keys)}
    return {key: vector for key, vector in vectors.items() if whole or math.isfinite(sum(vector))}


# Seconds a closing store gives the operations asked of it before it closes.
DRAIN = 5.0


async def stop_batching(store: Any) -> None:
    """End the task in which LangGraph's store batches its operations, once the store is done with: what was asked
    before is done first, and anything left is failed, never left waiting.

    LangGraph's async stores run that task until the store is garbage-collected; collected with it, the task is
    destroyed while pending, which the event loop reports as an error (and the prompt's loop, running then, as an
    unhandled exception that waits for Enter). Its loop ends at a None in its queue, after the operations before it
    (a None it reads among a batch's ends the batch instead: one is put again until the loop has ended).
    """
    task, queue = getattr(store, "_task", None), getattr(store, "_aqueue", None)
    if not isinstance(task, asyncio.Task) or not isinstance(queue, asyncio.Queue):
        return
    deadline = time.monotonic() + DRAIN
    while not task.done() and time.monotonic() < deadline:
        queue.put_nowait(None)
        await asyncio.wait([task], timeout=0.05)
    if not task.done():  # an operation that does not end: stopped, and failed below
        task.cancel()
        await asyncio.wait([task])
    while not queue.empty():
        item = queue.get_nowait()
        if item is not None and not item[0].done():
            item[0].set_exception(StoreError("the memories' store was closed before this was done"))


def _memory_of(key: str, value: Any, created: float) -> Memory | None:
    """A stored item as a Memory; None when it is not one chat wrote (another shape, too long)."""
    if not isinstance(value, dict):
        return None
    text, when, source = value.get("text"), value.get("created_at"), value.get("source")
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT or not text.isprintable():
        return None
    at = float(when) if isinstance(when, (int, float)) and not isinstance(when, bool) else created
    return Memory(key, text, at, source if source in SOURCES else "command")


class MemoryBook:
    """One user's memories in LangGraph's store ``store``; ``run`` runs each operation (the Store's guard: the
    driver's errors as one line)."""

    def __init__(self, store: "BaseStore", user: str | None = None, run: Callable[..., Any] | None = None):
        self.store = store
        # On PostgreSQL, the database's own word for who connects (its session user), not an environment variable.
        self.space = ("chatcli", "memories", user or getattr(store, "chatcli_user", None) or user_name())
        self._run = run

    async def _do(self, operation: Callable[[], Any]) -> Any:
        return await (self._run(operation) if self._run is not None else operation())

    async def all(self) -> list[Memory]:
        """Every memory, the newest first."""
        items = await self._do(lambda: self.store.asearch(self.space, limit=MAX_MEMORIES + 100))
        found = [_memory_of(item.key, item.value, item.created_at.timestamp()) for item in items]
        return sorted((m for m in found if m is not None), key=lambda m: m.created_at, reverse=True)

    async def add(self, text: str, source: str = "command") -> Memory:
        """Keep ``text`` (checked: chatcli.store.memories.checked_text); the oldest go past MAX_MEMORIES."""
        return (await self.add_all([text], source))[0]

    async def add_all(self, texts: list[str], source: str = "command") -> list[Memory]:
        """Keep each of ``texts`` (each checked first: one refused keeps none), in their order, the last the newest;
        the oldest go past MAX_MEMORIES."""
        checked = [checked_text(text) for text in texts]
        now = time.time()
        memories = [Memory(uuid.uuid4().hex[:8], text, now + n * 1e-6, source) for n, text in enumerate(checked)]
        for memory in memories:
            value = {"text": memory.text, "created_at": memory.created_at, "source": memory.source}
            await self._do(lambda: self.store.aput(self.space, memory.id, value, index=False))
        kept = await self.all()
        for old in kept[MAX_MEMORIES:]:
            await self.forget(old.id)
        return memories

    async def vectors(self, model: str) -> dict[str, "array[float]"]:
        """The vectors kept of ``model``, by key (chatcli.store.memories.vector_key)."""
        item = await self._do(lambda: self.store.aget(vector_namespace(self.space[-1]), _model_key(model)))
        return _vectors_of(item.value, model) if item is not None else {}

    async def keep_vectors(self, model: str, vectors: "dict[str, Sequence[float]]") -> None:
        """Keep ``vectors`` (by key, each of the same length) as ``model``'s, in place of what was kept of any model."""
        import base64
        import struct

        space = vector_namespace(self.space[-1])
        size = len(next(iter(vectors.values()))) if vectors else 0
        if any(len(vector) != size for vector in vectors.values()):
            raise ValueError("the vectors are not all of one length")
        packed = base64.b64encode(b"".join(struct.pack(f"<{size}f", *vector) for vector in vectors.values())).decode()
        value = {"model": model, "dimensions": size, "keys": list(vectors), "vectors": packed}

        async def write() -> None:
            for old in await self.store.asearch(space, limit=100):
                if old.key != _model_key(model):
                    await self.store.adelete(space, old.key)  # another model's: unused now
            await self.store.aput(space, _model_key(model), value, index=False)

        await self._do(write)

    async def get(self, memory_id: str) -> Memory | None:
        item = await self._do(lambda: self.store.aget(self.space, memory_id))
        return _memory_of(item.key, item.value, item.created_at.timestamp()) if item is not None else None

    async def forget(self, memory_id: str) -> bool:
        """Forget the memory ``memory_id``; False if there is none."""
        if await self.get(memory_id) is None:
            return False
        await self._do(lambda: self.store.adelete(self.space, memory_id))
        return True

    async def change(self, memory_id: str, text: str) -> bool:
        """Put ``text`` in place of the memory ``memory_id`` (keeping its time); False if there is none."""
        before = await self.get(memory_id)
        if before is None:
            return False
        value = {"text": checked_text(text), "created_at": before.created_at, "source": before.source}
        await self._do(lambda: self.store.aput(self.space, memory_id, value, index=False))
        return True
