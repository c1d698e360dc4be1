"""A LangGraph server's thread read and written as a compiled graph's state: what chat's turns and conversations on
graphs that are not chat's own use of ``app`` (``aget_state``, ``aget_state_history``, ``aupdate_state``).

The server's messages arrive as dicts (langgraph-sdk's JSON); they are made LangChain messages here
(chatcli.backends.graphs.messages), so the same code tells, undoes and retries a deployed graph's thread as a
local graph's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from chatcli.backends.graphs.messages import as_message
from chatcli.backends.remote.client import Remote, translated

# How many states one request for a thread's history asks the server for.
HISTORY_PAGE = 500


def with_messages(values: Any) -> dict[str, Any]:
    """A state's values with its ``messages`` made LangChain messages."""
    if not isinstance(values, dict):
        return {}
    found = values.get("messages")
    return {**values, "messages": [as_message(m) for m in found]} if isinstance(found, list) else dict(values)


def thread_config(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **({"checkpoint_id": checkpoint_id} if checkpoint_id else {})}}


def checkpoint_of(config: dict[str, Any]) -> Any:
    """The checkpoint a config names, as langgraph-sdk takes it; None for the thread's head."""
    found = config["configurable"].get("checkpoint_id")
    return {"checkpoint_id": found} if found else None


@dataclass
class Snapshot:
    """One state of a server's thread, as LangGraph's StateSnapshot offers it to chat."""

    values: dict[str, Any] = field(default_factory=dict)
    next: tuple[str, ...] = ()
    interrupts: list[Any] = field(default_factory=list)  # the SDK's {"id", "value"}: chatcli.core.interrupts reads them
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


def snapshot(raw: Any, thread_id: str, url: str = "the server") -> Snapshot:
    """A state the server sent, checked (chatcli.backends.remote.data), as LangGraph's StateSnapshot offers it."""
    from chatcli.backends.remote.data import ServerState, checked

    state = checked(ServerState, raw, "a thread's state", url)
    checkpoint = state.checkpoint or {}
    found = checkpoint.get("checkpoint_id")
    interrupts = [i for i in state.interrupts or [] if isinstance(i, dict)]
    config = thread_config(thread_id, found if isinstance(found, str) else None)
    values, metadata = with_messages(state.values), dict(state.metadata or {})
    return Snapshot(values, tuple(state.next or ()), interrupts, config, metadata)


@dataclass(eq=False)
class ServerApp:
    """The threads of ``remote``'s server, read and written as a compiled graph's (no run here: its runs are
    chatcli.backends.remote.run's)."""

    remote: Remote

    async def aget_state(self, config: dict[str, Any]) -> Snapshot:
        """The thread's state (at the checkpoint the config names, or its head); empty for a thread not made yet."""
        from langgraph_sdk.errors import NotFoundError

        thread = config["configurable"]["thread_id"]
        with translated(self.remote.spec):
            try:
                state = await self.remote.client.threads.get_state(thread, checkpoint=checkpoint_of(config))
            except NotFoundError:
                return Snapshot(config=thread_config(thread))
        return snapshot(state, thread, self.remote.spec.url)

    async def aget_state_history(self, config: dict[str, Any], limit: int | None = None) -> AsyncIterator[Snapshot]:
        """The thread's states, newest first: ``limit`` of them, or all (read a page at a time)."""
        thread = config["configurable"]["thread_id"]
        before: Any = None
        left = limit
        while left is None or left > 0:
            page = HISTORY_PAGE if left is None else min(left, HISTORY_PAGE)
            with translated(self.remote.spec):
                states = await self.remote.client.threads.get_history(thread, limit=page, before=before)
            for found in (snapshot(state, thread, self.remote.spec.url) for state in states):
                yield found
            if len(states) < page:  # (the last page, or none)
                return
            before = {"checkpoint_id": found.config["configurable"].get("checkpoint_id")}
            left = None if left is None else left - len(states)

    async def aupdate_state(self, config: dict[str, Any], values: Any, as_node: str | None = None) -> dict[str, Any]:
        """Write ``values`` as node ``as_node`` did (LangChain messages go as their JSON); the new head's config."""
        thread = config["configurable"]["thread_id"]
        with translated(self.remote.spec):
            done = await self.remote.client.threads.update_state(
                thread, values, as_node=as_node, checkpoint=checkpoint_of(config)
            )
        written = done.get("checkpoint") if isinstance(done, dict) else None
        found = written.get("checkpoint_id") if isinstance(written, dict) else None
        return thread_config(thread, found if isinstance(found, str) else None)
