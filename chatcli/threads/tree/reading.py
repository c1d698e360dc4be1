"""Where a thread's tree is read from: chat's database in two queries, or any app's state history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator

from chatcli.errors import UsageError
from chatcli.store.keys import MARK
from chatcli.text import moment_of
from chatcli.threads.tree.building import build
from chatcli.threads.tree.model import START_CHARS, Point, Said, Tree

if TYPE_CHECKING:
    from chatcli.core.graph_app import GraphApp
    from chatcli.store import Store


async def from_history(history: AsyncIterator[Any]) -> tuple[list[Said], list[Point]]:
    """The messages and checkpoints of a thread whose states ``history`` yields (newest first, as LangGraph's
    ``aget_state_history`` does), for ``build``."""
    states = [state async for state in history]
    states.reverse()
    keys: dict[tuple[int | None, str], int] = {}  # (the key before, a message's id) -> its key
    said: list[Said] = []
    points: list[Point] = []
    for state in states:
        tail: int | None = None
        for pos, message in enumerate(state.values.get("messages") or []):
            ident = (tail, _identity(message, pos))
            key = keys.get(ident)
            if key is None:
                key = keys[ident] = len(keys) + 1
                made = (getattr(message, "response_metadata", None) or {}).get("created_at")  # as chat stamps its own
                said.append(Said(key, tail, message.type, _text(message), pos, _stamp(made)))
            tail = key
        checkpoint_id = str((state.config or {}).get("configurable", {}).get("checkpoint_id") or "")
        meta = state.metadata or {}
        model, mark = (v if isinstance(v, str) else None for v in (meta.get("model"), meta.get(MARK)))
        above = (getattr(state, "parent_config", None) or {}).get("configurable", {}).get("checkpoint_id")
        when = _stamp(getattr(state, "created_at", None))
        points.append(Point(checkpoint_id, tail, model, str(above) if above else None, mark, when))
    return said, points


def _identity(message: Any, pos: int) -> str:
    """What tells a message from another at the same place: its id, and its text where it has none."""
    ident = getattr(message, "id", None)
    return str(ident) if ident else f"#{pos}:{hash(_text(message))}"


def _text(message: Any) -> str:
    return str(getattr(message, "text", ""))[:START_CHARS]  # (a str: langchain-core's text accessor)


def _stamp(stamp: Any) -> float | None:
    """An ISO 8601 time as seconds since the epoch (None: none, or not one)."""
    found = moment_of(stamp) if isinstance(stamp, str) else None
    return found.timestamp() if found else None


async def read_tree(thread_id: str, store: Store | None, app: GraphApp | None) -> Tree:
    """Thread ``thread_id``'s tree as it is now: from chat's database ``store`` in two queries where the thread's
    checkpoints are there and keep their messages as nodes, else from ``app``'s state history (a graph's own
    checkpointer, an Agent Server)."""
    rows = await store.index.tree_rows(thread_id) if store is not None else None
    if rows is not None:
        said, points = rows
    elif app is not None:
        said, points = await from_history(app.aget_state_history({"configurable": {"thread_id": thread_id}}))
    else:
        hint = f"/tree at chat -t {thread_id} shows it"
        raise UsageError(f"thread {thread_id} keeps its messages its graph's own way", hint=hint)
    labels = await store.index.labels(thread_id) if store is not None else {}
    tree = build(thread_id, said, points, labels)
    tree.stored = rows is not None
    return tree
