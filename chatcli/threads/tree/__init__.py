"""A thread as a tree: every question asked on it and every answer it had, read from its checkpoints.

LangGraph keeps every state of a thread: a ``/retry`` answers a question again from the checkpoint before its answer,
an ``/undo`` followed by a new question goes on from an older state, ``/goto`` moves the thread to any of them; the
states left behind stay in the checkpoints. Their messages form a tree (each message follows the one before it in the
list it was stored in), and this module reads that tree as the user sees it: one **node** for each version of a turn
(a question and the answer it had), numbered in the order they were made, so a number names the same node for good.

What the tree is built from (``Said``: one stored message; ``Point``: one checkpoint, the last message of its list)
comes from chat's database in two queries (chatcli.store.index: chat's own graph and a ``--graph`` app it keeps), or
from any app's state history (``from_history``: a graph that keeps its own checkpoints, an Agent Server's thread).
Nothing is stored beside the checkpoints but the labels a user gives nodes.
"""

from chatcli.threads.tree.building import build
from chatcli.threads.tree.drawing import draw
from chatcli.threads.tree.model import START_CHARS, Node, Point, Said, Tree
from chatcli.threads.tree.reading import from_history, read_tree

__all__ = ["START_CHARS", "Node", "Point", "Said", "Tree", "build", "draw", "from_history", "read_tree"]
