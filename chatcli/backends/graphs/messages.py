"""What a graph's stream and state hold, read as chat reads it: messages (LangChain's objects, or the plain dicts a
deployed graph's langgraph-sdk stream gives), and the nodes that may speak. (A reply's thinking and why it ended
are read as chat's own are: chatcli.core.chunks.)"""

from __future__ import annotations

from typing import Any

# The fields of a streamed AI message chunk, as a deployed graph's stream (langgraph-sdk) gives them.
_CHUNK = ("content", "id", "additional_kwargs", "response_metadata", "usage_metadata", "tool_call_chunks", "name")


def as_message(item: Any) -> Any:
    """``item`` as LangChain's message: a deployed graph's stream and state give plain dicts."""
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return item
    from langchain_core.messages import AIMessageChunk, convert_to_messages

    fields = {k: v for k, v in item.items() if v is not None}
    try:
        if item["type"] == "AIMessageChunk":
            return AIMessageChunk(**{k: fields[k] for k in _CHUNK if k in fields})
        return convert_to_messages([fields])[0]
    except (ValueError, TypeError):
        return item


def messages_of(output: Any) -> list[Any]:
    """The messages a node returned (a dict's ``messages``: one message or a list), if any."""
    found = output.get("messages") if isinstance(output, dict) else None
    return [] if found is None else [as_message(m) for m in (found if isinstance(found, (list, tuple)) else [found])]


def speaking_nodes(app: Any) -> list[str]:
    """The nodes of ``app`` that may speak: all but its tool nodes and middleware hooks ("Name.hook")."""
    nodes = getattr(app, "nodes", None)
    if not isinstance(nodes, dict):
        return []  # a deployed graph: its nodes are known as they speak
    from langgraph.prebuilt import ToolNode  # imported only for a graph of its own: it takes 0.1-0.2 s

    return [
        name
        for name, node in nodes.items()
        if not name.startswith("__") and "." not in name and not isinstance(getattr(node, "bound", None), ToolNode)
    ]
