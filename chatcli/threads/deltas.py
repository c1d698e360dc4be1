"""A thread's messages read as LangGraph reads them, when its latest checkpoint does not hold them.

A graph may keep its messages in a channel that stores deltas (LangGraph's ``DeltaChannel``, as deepagents
does): a checkpoint then holds the list only now and then (a snapshot), the others only what each step
wrote, and the latest checkpoint's values can be ``{}``. The whole list is what the compiled graph's
``aget_state`` gives: with the graph loaded (a session of ``chat --graph``) chat asks it; without it
(``chat show`` from any directory, ``chat export``, ``chat search``, ``chat stats``) a graph of one channel,
``messages`` kept as LangGraph keeps deltas (its ``DeltaChannel`` with its messages' delta reducer), is
compiled on chat's checkpointer and asked the same: LangGraph walks the checkpoints back to the last
snapshot and replays the writes since, and chat never reads that format itself.

This module imports LangGraph: it is imported only for a thread that needs it.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langgraph.channels.delta import DeltaChannel
from langgraph.graph import START, StateGraph
from langgraph.graph.message import _messages_delta_reducer


class _Messages(TypedDict):
    """A state of one channel: the messages, kept as deltas (the reducer deepagents' own is adapted from)."""

    messages: Annotated[list[Any], DeltaChannel(_messages_delta_reducer)]


def reader(saver: Any) -> Any:
    """A compiled graph that reads a thread's ``messages`` from ``saver``'s checkpoints, whatever keeps them."""
    builder = StateGraph(_Messages)
    builder.add_node("read", lambda state: {})  # a node that writes nothing: the graph is only read
    builder.add_edge(START, "read")
    return builder.compile(checkpointer=saver)


async def state_messages(app: Any, thread_id: str) -> list[dict[str, Any]]:
    """The messages of ``thread_id``'s latest state as ``app`` (a compiled graph) reads it, as plain dicts (the
    shape chatcli.store.decode gives a stored message)."""
    state = await app.aget_state({"configurable": {"thread_id": thread_id}})
    return [m.model_dump() if hasattr(m, "model_dump") else m for m in (state.values or {}).get("messages") or []]


async def rebuilt_messages(store: Any, thread_id: str, app: Any = None) -> list[dict[str, Any]]:
    """``thread_id``'s whole message list as LangGraph rebuilds it: through ``app`` (the thread's graph) when it
    is loaded, else through a reader of the channel on ``store``'s checkpointer."""
    if app is not None:
        return await state_messages(app, thread_id)
    if store.saver is not None:
        return await state_messages(reader(store.saver), thread_id)
    async with store.full() as full:  # a store opened for managing threads only, without a checkpointer: the full way
        return await state_messages(reader(full.saver), thread_id)
