"""``add_messages`` for a ``messages`` channel, at O(new messages) when an update only appends.

LangGraph's ``add_messages`` copies the list, visits every message to fill in missing ids and
builds an index of all ids on every update: work that grows with the thread, twice a turn.
This one returns exactly what LangGraph's returns. When an update only appends (every message
in it is a plain message whose id is not in the list yet, as in every turn) the result is
``left + right`` and the ids already in ``left`` come from the index kept for the previous
result, found by comparing message objects (pointers, not contents). Any other update
(a replacement by id, ``RemoveMessage``, chunks, dicts, options) goes to LangGraph's function.

It also records which results were appends (``carried_over``), so that ``MessageStoreSaver``
need not re-examine the messages that were carried over unchanged. Like LangGraph, this
assumes that messages change through updates (a message with the same id), not by mutating
stored message objects in place.
"""

from __future__ import annotations

import operator
import threading
import uuid
from collections import deque
from typing import Any

from langchain_core.messages import BaseMessage, BaseMessageChunk, RemoveMessage
from langgraph.graph.message import add_messages as langgraph_add_messages

_KEEP = 8
"""Indexes and appends remembered: a few per thread that this process runs turns on."""

# (the messages of an earlier result, as a tuple, and the set of their ids); most recent last.
_indexes: deque[tuple[tuple[BaseMessage, ...], set[str]]] = deque(maxlen=_KEEP)
# (result, n): result[:n] was carried over from the update's ``left``; most recent last.
_appends: deque[tuple[list[BaseMessage], int]] = deque(maxlen=_KEEP)

_lock = threading.Lock()  # graphs run on several threads share these
_get_id = operator.attrgetter("id")


def carried_over(messages: list[BaseMessage]) -> int:
    """How many leading messages of ``messages`` an append-only update carried over (0 if unknown)."""
    return next((n for result, n in reversed(tuple(_appends)) if result is messages), 0)


def _plain(types: set[type]) -> bool:
    return all(issubclass(t, BaseMessage) and not issubclass(t, (BaseMessageChunk, RemoveMessage)) for t in types)


def _ids(left: list[Any]) -> set[str] | None:
    """The ids of ``left``'s messages, or None if one is not a plain message with an id.

    Reuses (and takes over) the index of an earlier result whose messages ``left`` starts with,
    so a turn indexes only the messages added since.
    """
    found, ids, rest = None, set(), left
    for i in range(len(_indexes) - 1, -1, -1):
        snapshot, known = _indexes[i]
        if len(left) >= len(snapshot) and all(map(operator.is_, left, snapshot)):
            found, ids, rest = i, known, left[len(snapshot) :]
            break
    if not _plain(set(map(type, rest))):
        return None
    rest_ids = list(map(_get_id, rest))
    if None in rest_ids:
        return None
    if found is not None:
        del _indexes[found]  # the set now describes ``left``: the caller files it again
    ids.update(rest_ids)
    return ids


def _append_only(left: Any, right: Any) -> list[BaseMessage] | None:
    """``left + right`` when ``right`` only appends new messages; None when LangGraph must merge."""
    if not isinstance(left, list):
        return None
    if isinstance(right, BaseMessage):
        right = [right]
    if not isinstance(right, list) or not right or not _plain(set(map(type, right))):
        return None
    ids = _ids(left)
    if ids is None:
        return None
    for m in right:
        if m.id is None:
            m.id = str(uuid.uuid4())  # as LangGraph does, on the message itself
    new_ids = [m.id for m in right]
    if len(set(new_ids)) != len(new_ids) or not ids.isdisjoint(new_ids):
        _indexes.append((tuple(left), ids))  # still valid for ``left``
        return None
    merged = left + right
    ids.update(new_ids)
    _indexes.append((tuple(merged), ids))
    _appends.append((merged, len(left)))
    return merged


def add_messages(left: Any = None, right: Any = None, **kwargs: Any) -> Any:
    """LangGraph's ``add_messages`` (same arguments, same result), fast when an update only appends."""
    if left is not None and right is not None and not kwargs:
        with _lock:
            merged = _append_only(left, right)
        if merged is not None:
            return merged
    return langgraph_add_messages(left, right, **kwargs)
