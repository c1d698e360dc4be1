"""Moving along a thread's tree (chatcli.threads.tree) and naming its nodes, the same for every door
(``Thread.goto``, ``Thread.label``) and every backend: chat's own graph, a ``--graph`` app, an Agent Server's thread.

Moving never deletes: ``move`` writes a new head checkpoint whose parent is the checkpoint the node ended at, so the
branch left stays whole in the history and in the tree. What a thread keeps beside its messages (its system prompt,
role, variables, model, pins) is given as it is now; what belongs to a branch (its summary, a compaction) comes back
with the node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.core.graph_app import GraphApp
    from chatcli.store import Store
    from chatcli.threads.tree import Node, Tree

# What a label may be: a word a user types after /goto (not a number: numbers name nodes).
LABEL_CHARS = 40


async def move(
    app: GraphApp, tree: Tree, name: str, settings: dict[str, Any], store: Store | None, before: bool = False
) -> Node:
    """Move the thread of ``tree`` to the node ``name`` names (a number or a label), with the thread's ``settings``
    as they are now: its next question goes on from there (``before``: from where that node's question was asked,
    to ask it another way). A UsageError when there is no such node."""
    from langchain_core.messages import RemoveMessage

    from chatcli.backends.own.rewind import write_values

    node = found(tree, name)
    if node.number == tree.current and not before:
        return node
    start, messages = await _at(app, tree, node)
    keep = node.asked_pos if before else node.end_pos + 1
    values = dict(settings)
    if len(messages) > keep:  # a forked or imported thread's, or a question asked again: the rest is taken off
        values["messages"] = [RemoveMessage(id=m.id) for m in messages[keep:] if m.id]
    await write_values(app, start, values)
    if store is not None:
        await store.index.set_count(tree.thread_id, keep)
    return node


async def question_of(app: GraphApp, tree: Tree, name: str) -> tuple[Node, str]:
    """The node ``name`` names and its question's whole text (a node carries its start)."""
    node = found(tree, name)
    _, messages = await _at(app, tree, node)
    asked = messages[node.asked_pos] if len(messages) > node.asked_pos else None
    return node, str(asked.text) if asked is not None else node.question


async def _at(app: GraphApp, tree: Tree, node: Node) -> tuple[dict[str, Any], list[Any]]:
    """The config of the checkpoint the thread goes on from at ``node``, and its messages there."""
    point = tree.start_of(node)
    if point is None:
        raise UsageError(f"node {node.number} of thread {tree.thread_id} has no checkpoint to go back to")
    start = {"configurable": {"thread_id": tree.thread_id, "checkpoint_ns": "", "checkpoint_id": point.checkpoint_id}}
    return start, list((await app.aget_state(start)).values.get("messages") or [])


async def name_node(tree: Tree, name: str, store: Store | None) -> Node:
    """Name the node the thread of ``tree`` is on ``name`` (a name on another node of the thread moves here)."""
    if not 0 < len(name) <= LABEL_CHARS or not name.isprintable() or any(c.isspace() for c in name) or name.isdigit():
        raise UsageError(
            f"not a label: {name[:LABEL_CHARS]!r}", hint=f"a word of at most {LABEL_CHARS} characters, not a number"
        )
    if store is None:
        raise UsageError("labels are kept in chat's database, which this session has none of")
    if tree.current is None:
        raise UsageError("nothing to label: this thread has no question yet")
    await store.index.label(tree.thread_id, tree.current, name)
    node = tree.nodes[tree.current]
    node.labels = sorted({*node.labels, name})
    return node


def found(tree: Tree, name: str, hint: str = "/tree shows the nodes") -> Node:
    """The node ``name`` names, or a UsageError saying what there is (``hint``: where the nodes are shown)."""
    try:
        return tree.find(name)
    except LookupError as exc:
        raise UsageError(str(exc), hint=hint) from None
