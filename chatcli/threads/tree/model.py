"""What a thread's tree is made of: the messages and checkpoints it is read from (``Said``, ``Point``), its nodes
(``Node``) and the tree (``Tree``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatcli.store.base import START_CHARS, Point, Said
from chatcli.text import iso_time

__all__ = ["START_CHARS", "CHANGES", "Node", "Point", "Said", "Tree"]

# The changes chat makes to a thread that are nodes of its tree, each with what its node says.
CHANGES = {"compact": "compacted: the turns before folded into a summary", "edit": "the summary edited"}


@dataclass
class Node:
    """One version of a turn: a question and the answer it had (``answer`` empty: none yet, or it failed), or (``kind``
    "compact", "edit") a change chat made to what the thread sends: a compaction, a summary edited. ``number`` names
    it for good; ``parent`` is the node it was asked after or made on (None: the thread's first question)."""

    number: int
    parent: int | None
    question: str
    answer: str
    at: float | None
    model: str | None
    labels: list[str] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    end: int = 0  # the key of its last message: where the thread goes when it goes to this node
    end_pos: int = 0  # that message's position in the thread's list
    asked_pos: int = 0  # its question's position in the thread's list
    kind: str = "turn"  # or a change's (CHANGES)
    point: Point | None = None  # the checkpoint the thread goes on from at this node

    def json(self, current: bool) -> dict[str, Any]:
        """The node as ``chat tree --json`` and ``chat serve`` give it (docs/usage.md)."""
        asked = {"node": self.number, "kind": self.kind, "parent": self.parent, "question": self.question}
        answered = {"answer": self.answer, "at": iso_time(self.at), "model": self.model, "labels": list(self.labels)}
        return {**asked, **answered, "children": list(self.children), "current": current}


@dataclass
class Tree:
    """A thread's nodes by number (in the order made), and the node the thread is on now (None: no question yet)."""

    thread_id: str
    nodes: dict[int, Node]
    current: int | None
    points: dict[int, Point] = field(default_factory=dict)  # by a message's key: the newest checkpoint ending there
    parents: dict[int, int | None] = field(default_factory=dict)  # a message's key -> the key of the one before it
    stored: bool = False  # its keys are the nodes of chat's message table (read in two queries), not counted here

    @property
    def path(self) -> list[int]:
        """The nodes from the thread's first question to the current one: the branch the thread is on."""
        path, number = [], self.current
        while number is not None:
            path.append(number)
            number = self.nodes[number].parent
        return path[::-1]

    @property
    def branches(self) -> int:
        """How many branches the tree has (its leaves; 1 for a thread never rewound)."""
        return sum(1 for node in self.nodes.values() if not node.children) if self.nodes else 0

    def find(self, name: str) -> Node:
        """The node ``name`` names: its number, or a label; a LookupError saying what there is otherwise."""
        wanted = name.strip().lstrip("#")
        if wanted.isdigit() and int(wanted) in self.nodes:
            return self.nodes[int(wanted)]
        for node in self.nodes.values():
            if wanted in node.labels:
                return node
        last = max(self.nodes) if self.nodes else 0
        there = f" (nodes 1 to {last}, or a label)" if last else " (it has no question yet)"
        raise LookupError(f"no node {name.strip()[:40]!r} in thread {self.thread_id}{there}")

    def start_of(self, node: Node) -> Point | None:
        """The checkpoint the thread goes on from at ``node``: where it was made (the oldest that ends at its last
        message: before a compaction made on it), else the newest whose list holds it (a forked or imported thread's:
        the messages after it are taken off there)."""
        if node.point is not None:
            return node.point
        best: Point | None = None
        for tail, point in self.points.items():
            key: int | None = tail
            while key is not None and key > node.end:
                key = self.parents.get(key)
            if key == node.end and (best is None or point.checkpoint_id > best.checkpoint_id):
                best = point
        return best

    def json(self) -> dict[str, Any]:
        """The whole tree as ``chat tree --json`` gives it."""
        nodes = [node.json(number == self.current) for number, node in self.nodes.items()]
        return {"thread_id": self.thread_id, "current": self.current, "branches": self.branches, "nodes": nodes}
