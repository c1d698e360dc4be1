"""Where a retry starts: the checkpoint at which the last question awaited its answer."""

from __future__ import annotations

from typing import Any

from chatcli.core.graph_app import GraphApp

# What a thread keeps beside its messages, and a retry takes as they are now (a turn pinned after the answer it
# replaces stays pinned, as a system prompt set since stays set).
THREAD_SETTINGS = ("system", "vars", "role", "model", "temperature", "pinned")
# How far back (in checkpoints, about 3 per turn) a retry looks for where its answer began.
RETRY_LOOKBACK = 50


async def retry_point(
    app: GraphApp, config: dict[str, Any], head: Any, question: Any, current: dict[str, Any]
) -> dict[str, Any]:
    """The config to resume ``config``'s thread from (``head`` is its state): the checkpoint after ``question`` was
    added, before its answer, with the thread's ``current`` settings.

    The old answer leaves the thread's head (it stays in the checkpoint history). A forked or
    imported thread has no such checkpoint: its head is rewound instead.
    """
    from langchain_core.messages import RemoveMessage
    from langgraph.graph import START

    from chatcli.backends.own.graph import MODEL_NODE

    found = None
    async for snapshot in app.aget_state_history(config, limit=RETRY_LOOKBACK):
        messages = snapshot.values.get("messages") or []
        if snapshot.next == (MODEL_NODE,) and messages and messages[-1].id == question.id:
            found = snapshot
            break
    if found is None:
        messages = head.values["messages"]
        after = messages[next(i for i, m in enumerate(messages) if m.id == question.id) + 1 :]
        update = {**current, "messages": [RemoveMessage(id=m.id) for m in after]}
        start = await app.aupdate_state(head.config, update, as_node=START)
    elif any(found.values.get(k) != v for k, v in current.items()):
        start = await app.aupdate_state(found.config, current, as_node=START)
    else:
        start = found.config
    return {"configurable": {**config["configurable"], **start["configurable"]}}


async def write_values(app: GraphApp, config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Write ``values`` into the thread at ``config`` as its new head, with nothing left to run; its config.

    Through LangGraph's own entry node (``START``), then clearing what that would run (``END``): it needs
    nothing of the graph's nodes, so it serves any graph (chat --graph).
    """
    from langgraph.graph import END, START

    written = await app.aupdate_state(config, values, as_node=START)
    ended: dict[str, Any] = await app.aupdate_state(written, None, as_node=END)
    return ended
