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

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, Sequence

from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.core.graph_app import GraphApp
    from chatcli.store import Store

# How much of a question and of an answer a node carries (a line of /tree shows less).
START_CHARS = 200


@dataclass(frozen=True)
class Said:
    """One stored message as the tree reads it: its key (its node in the thread's message tree, increasing in the order
    stored), the key of the message before it, its type ("human", "ai", "tool", "system"), the start of its text, its
    position in the thread's list and when it was stored (seconds since the epoch)."""

    key: int
    parent: int | None
    role: str
    text: str
    pos: int
    at: float | None = None


@dataclass(frozen=True)
class Point:
    """One checkpoint of the thread: its id, the key of the last message of its list (None: no message yet) and the
    model its run named (None: not one of chat's)."""

    checkpoint_id: str
    tail: int | None
    model: str | None = None


@dataclass
class Node:
    """One version of a turn: a question and the answer it had (``answer`` empty: none yet, or it failed). ``number``
    names it for good; ``parent`` is the node it was asked after (None: the thread's first question)."""

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

    def json(self, current: bool) -> dict[str, Any]:
        """The node as ``chat tree --json`` and ``chat serve`` give it (docs/usage.md)."""
        from datetime import datetime, timezone

        at = datetime.fromtimestamp(self.at, timezone.utc).isoformat(timespec="seconds") if self.at else None
        return {
            "node": self.number,
            "parent": self.parent,
            "question": self.question,
            "answer": self.answer,
            "at": at,
            "model": self.model,
            "labels": list(self.labels),
            "children": list(self.children),
            "current": current,
        }


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
        raise LookupError(
            f"no node {name.strip()[:40]!r} in thread {self.thread_id}"
            + (f" (nodes 1 to {last}, or a label)" if last else " (it has no question yet)")
        )

    def start_of(self, node: Node) -> Point | None:
        """The checkpoint the thread goes on from at ``node``: the newest that ends at its last message, else the newest
        whose list holds it (a forked or imported thread's: the messages after it are taken off there)."""
        found = self.points.get(node.end)
        if found is not None:
            return found
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
        return {
            "thread_id": self.thread_id,
            "current": self.current,
            "branches": self.branches,
            "nodes": [node.json(number == self.current) for number, node in self.nodes.items()],
        }


def build(
    thread_id: str, said: Iterable[Said], points: Sequence[Point], labels: dict[int, list[str]] | None = None
) -> Tree:
    """The tree of the messages ``said`` (any order) and the checkpoints ``points`` (oldest first; the last is the
    thread's head), with the ``labels`` given to nodes."""
    by_key = {s.key: s for s in sorted(said, key=lambda s: s.key)}
    turn_of, first_answer = _turns(by_key)
    numbers = {key: number for number, key in enumerate(sorted(set(turn_of.values())), start=1)}
    nodes: dict[int, Node] = {}
    for key, number in numbers.items():
        s = by_key[key]
        question = s if s.role == "human" else by_key[s.parent]  # type: ignore[index]
        at = by_key[first_answer[key]].at or s.at if key in first_answer else s.at
        nodes[number] = Node(
            number, None, question.text[:START_CHARS], "", at, None, end=key, end_pos=s.pos, asked_pos=question.pos
        )
        nodes[number].parent = _node_before(question, by_key, turn_of, numbers)
    for s in by_key.values():  # each node's last message and answer
        node = nodes[numbers[turn_of[s.key]]] if s.key in turn_of else None
        if node is not None and s.key >= node.end:
            node.end, node.end_pos = s.key, s.pos
        if node is not None and s.role == "ai" and s.text.strip():
            node.answer = s.text[:START_CHARS]
    newest = {point.tail: point for point in points if point.tail is not None}
    models = {point.tail: point.model for point in points if point.tail is not None and point.model}
    for number, node in nodes.items():
        if node.parent is not None:
            nodes[node.parent].children.append(number)
        node.model = models.get(node.end)
        node.labels = sorted((labels or {}).get(number, []))
    head = points[-1].tail if points else None
    current = numbers.get(turn_of[head]) if head is not None and head in turn_of else None
    return Tree(thread_id, nodes, current, newest, {key: s.parent for key, s in by_key.items()})


def _turns(by_key: dict[int, Said]) -> tuple[dict[int, int], dict[int, int]]:
    """Each message's node (the key it is numbered by: its question's for the question's first answer, the answer's
    own for another), and each question's first answer."""
    turn_of: dict[int, int] = {}
    first_answer: dict[int, int] = {}
    for s in by_key.values():  # parents before children: keys grow in the order stored
        above = by_key.get(s.parent) if s.parent is not None else None
        if s.role == "human":
            turn_of[s.key] = s.key
        elif above is not None and above.role == "human":  # an answer to it: its first, or another (a retry)
            turn_of[s.key] = above.key if first_answer.setdefault(above.key, s.key) == s.key else s.key
        elif above is not None and above.key in turn_of:
            turn_of[s.key] = turn_of[above.key]
        # else: before the first question (a graph's greeting): on every branch, no node of its own
    return turn_of, first_answer


def _node_before(
    question: Said, by_key: dict[int, Said], turn_of: dict[int, int], numbers: dict[int, int]
) -> int | None:
    """The node a question was asked after: the one its previous message belongs to (None: it is the first)."""
    before = by_key.get(question.parent) if question.parent is not None else None
    while before is not None and before.key not in turn_of:
        before = by_key.get(before.parent) if before.parent is not None else None
    return numbers[turn_of[before.key]] if before is not None else None


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
                said.append(Said(key, tail, message.type, _text(message), pos, _created(message)))
            tail = key
        checkpoint_id = str((state.config or {}).get("configurable", {}).get("checkpoint_id") or "")
        model = (state.metadata or {}).get("model")
        points.append(Point(checkpoint_id, tail, model if isinstance(model, str) else None))
    return said, points


def _identity(message: Any, pos: int) -> str:
    """What tells a message from another at the same place: its id, and its text where it has none."""
    ident = getattr(message, "id", None)
    return str(ident) if ident else f"#{pos}:{hash(_text(message))}"


def _text(message: Any) -> str:
    text = getattr(message, "text", "")
    return str(text() if callable(text) and not isinstance(text, str) else text)[:START_CHARS]


def _created(message: Any) -> float | None:
    """When a message was made, as chat stamps its messages (``created_at``); None for a graph's own."""
    from datetime import datetime

    stamp = (getattr(message, "response_metadata", None) or {}).get("created_at")
    try:
        return datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else None
    except ValueError:
        return None


async def read_tree(thread_id: str, store: Store | None, app: GraphApp | None) -> Tree:
    """Thread ``thread_id``'s tree as it is now: from chat's database ``store`` in two queries where the thread's
    checkpoints are there and keep their messages as nodes, else from ``app``'s state history (a graph's own
    checkpointer, an Agent Server)."""
    rows = await store.index.tree_rows(thread_id) if store is not None else None
    if rows is not None:
        said_rows, point_rows = rows
        said = [
            Said(int(n), None if p is None else int(p), str(r), t or "", int(i), at) for n, p, r, t, i, at in said_rows
        ]
        points = [Point(c, None if tail is None else int(tail), model) for c, tail, model in point_rows]
    elif app is not None:
        said, points = await from_history(app.aget_state_history({"configurable": {"thread_id": thread_id}}))
    else:
        raise UsageError(
            f"thread {thread_id} keeps its messages its graph's own way", hint=f"/tree at chat -t {thread_id} shows it"
        )
    labels = await store.index.labels(thread_id) if store is not None else {}
    tree = build(thread_id, said, points, labels)
    tree.stored = rows is not None
    return tree


# How a branch set aside is drawn: its first node leaving the line it starts from, the rest beside that line.
LEAVES, BRANCH = "├─ ", "│  "
# A straight run of more nodes than this is folded (its first and last shown) unless the whole tree is asked for.
FOLD = 6


def draw(tree: Tree, width: int = 100, unfold: bool = False) -> list[str]:
    """``/tree`` and ``chat tree`` as lines of text: one line a node (its number, question and answer's starts, time,
    model, labels; ``*`` marks the node the thread is on), the branch the thread is on as the main line, the branches
    set aside drawn off the node they start from; a long straight run folded unless ``unfold``."""
    if not tree.nodes:
        return [f"thread {tree.thread_id} has no question yet"]
    on_path = set(tree.path)
    lines = [
        f"thread {tree.thread_id}: {len(tree.nodes)} nodes, {tree.branches} branches"
        + (f", on node {tree.current}" if tree.current is not None else "")
    ]
    roots = [n for n, node in tree.nodes.items() if node.parent is None]
    _draw_line(tree, _main(roots, on_path), [r for r in roots if r != _main(roots, on_path)], "", lines, width, unfold)
    folded = any("folded" in line for line in lines)
    if folded:
        lines.append("(folded runs: /tree all shows every node)")
    return lines


def _main(children: list[int], on_path: set[int]) -> int:
    """The child the line goes on with: the one on the thread's branch, else the newest."""
    return next((c for c in children if c in on_path), max(children))


def _draw_line(
    tree: Tree, start: int, side: list[int], prefix: str, lines: list[str], width: int, unfold: bool
) -> None:
    """Draw the line of nodes from ``start`` (each next one its main child), after the branches ``side`` that leave
    from the node before it; each branch leaving a node on the line drawn before the line goes on."""
    on_path = set(tree.path)
    for branch in side:
        _draw_line(tree, branch, [], prefix + BRANCH, lines, width, unfold)
    run: list[int] = []
    number: int | None = start
    while number is not None:
        run.append(number)
        children = tree.nodes[number].children
        number = _main(children, on_path) if children else None
    fold = not unfold and len(run) > FOLD
    i = 0
    while i < len(run):
        count = _plain_count(tree, run, i) if fold else 0
        if count >= 3:
            lines.append(f"  {prefix}... {count} turns folded")
            i += count
            continue
        node = tree.nodes[run[i]]
        first = i == 0 and prefix.endswith(BRANCH)  # a branch's first node: drawn leaving the line above
        lines.append(_line(tree, node, prefix[: -len(BRANCH)] + LEAVES if first else prefix, width))
        main = _main(node.children, on_path) if node.children else None
        for branch in sorted(c for c in node.children if c != main):
            _draw_line(tree, branch, [], prefix + BRANCH, lines, width, unfold)
        i += 1


def _plain_count(tree: Tree, run: list[int], i: int) -> int:
    """How many nodes of ``run`` from its ``i``-th may be folded: none of its first or last two, and none with a
    branch, a label or the thread on it."""
    count = 0
    while 1 <= i + count < len(run) - 2:
        node = tree.nodes[run[i + count]]
        if len(node.children) > 1 or node.labels or node.number == tree.current:
            break
        count += 1
    return count


def _line(tree: Tree, node: Node, prefix: str, width: int) -> str:
    """One node's line, cut to ``width``: what was said on the left, when, by which model and its labels in
    columns on the right."""
    import time

    mark = "*" if node.number == tree.current else " "
    when = time.strftime("%b %d %H:%M", time.localtime(node.at)) if node.at else ""
    models = max((len(n.model or "") for n in tree.nodes.values()), default=0)
    digits = len(str(max(tree.nodes)))
    tail = f"{when:<12}  {node.model or ''}".rstrip()
    head = f"{mark} {prefix}{node.number:<{digits}}  " + "".join(f"[{label}] " for label in node.labels)
    room = max(width - len(head) - 12 - 2 - models - 2, 20)
    question = " ".join(node.question.split())
    answer = " ".join(node.answer.split()) or "(no answer)"
    asked = room * 2 // 5
    if len(question) > asked:
        question = question[: asked - 1] + "…"
    said = f"{question} -> {answer}"
    if len(said) > room:
        said = said[: room - 1] + "…"
    return f"{head}{said.ljust(room)}  {tail}".rstrip()
