"""A thread's tree built from its stored messages and its checkpoints (chatcli.threads.tree.model).

Each version of a turn is a node: a question's first answer is the question's node, another answer to it (a retry)
a node of its own beside it. A change chat makes to what the thread sends (a compaction, a summary edited: the
checkpoints chatcli.store.base.MARK names) is a node too, made on the node it followed: going to the node before it
sends the uncompacted history again. Nodes are numbered in the order they were made (by when, where every message and
change has its time; by the order stored otherwise), so a number names the same node for good.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from chatcli.threads.tree.model import CHANGES, START_CHARS, Node, Point, Said, Tree


def build(thread_id: str, said: Iterable[Said], points: Sequence[Point], labels: dict[int, list[str]]) -> Tree:
    """The tree of the messages ``said`` (any order) and the checkpoints ``points`` (oldest first; the last is the
    thread's head), with the ``labels`` given to nodes."""
    by_key = {s.key: s for s in sorted(said, key=lambda s: s.key)}
    same = _rewritten(by_key, points)
    turn_of, first_answer = _turns(by_key, same)
    changes = [p for p in points if p.mark in CHANGES and p.tail in turn_of]
    numbers, changed = _numbers(by_key, turn_of, changes)
    walk = _Walk(by_key, {p.checkpoint_id: p for p in points}, changed)
    # A message's key -> the oldest checkpoint ending at it (read newest first: the oldest is written last).
    first_at = {point.tail: point for point in reversed(points) if point.tail is not None}
    nodes: dict[int, Node] = {}
    for key, number in numbers.items():
        s = by_key[key]
        question = s if s.role == "human" else by_key[s.parent]  # type: ignore[index]
        at = by_key[first_answer[key]].at or s.at if key in first_answer else s.at
        node = Node(number, None, question.text[:START_CHARS], "", at, None, end=key, end_pos=s.pos)
        node.asked_pos = question.pos
        asked = first_at.get(question.key)
        made_on = walk.change_at(asked.parent, question.parent) if asked is not None else None
        node.parent = made_on if made_on is not None else _node_before(question, by_key, turn_of, numbers)
        nodes[number] = node
    for s in by_key.values():  # each node's last message and answer
        node = nodes[numbers[turn_of[s.key]]] if s.key in turn_of else None  # type: ignore[assignment]
        if node is not None and s.key >= node.end and s.key not in same:
            node.end, node.end_pos = s.key, s.pos
        if node is not None and s.role == "ai" and s.text.strip():
            node.answer = s.text[:START_CHARS]
    for number, node in nodes.items():
        node.point = first_at.get(node.end)
    for point in changes:
        on = walk.change_at(point.parent, point.tail)
        tail = by_key[point.tail]  # type: ignore[index]
        mark = point.mark or ""
        node = Node(changed[point.checkpoint_id], None, "", CHANGES[mark], point.at, None, kind=mark)
        node.parent = on if on is not None else numbers[turn_of[tail.key]]
        node.end, node.end_pos, node.asked_pos, node.point = tail.key, tail.pos, tail.pos + 1, point
        nodes[node.number] = node
    nodes = dict(sorted(nodes.items()))
    _finish(nodes, points, labels)
    head = points[-1] if points else None
    current = None
    if head is not None and head.tail in turn_of:
        on = walk.change_at(head.checkpoint_id, head.tail)
        current = on if on is not None else numbers[turn_of[head.tail]]
    newest = {point.tail: point for point in points if point.tail is not None}
    return Tree(thread_id, nodes, current, newest, {key: s.parent for key, s in by_key.items()})


def _rewritten(by_key: dict[int, Said], points: Sequence[Point]) -> dict[int, int]:
    """The messages a change of chat's stored again (a compaction keeps its cost with the answer it followed): each
    the same message as the one it was stored in place of (same place, same text), by key."""
    same: dict[int, int] = {}
    for point in points:
        s = by_key.get(point.tail) if point.mark is not None and point.tail is not None else None
        if s is None or s.key in same:
            continue
        for other in by_key.values():
            if other.key >= s.key:
                break
            if (other.parent, other.role, other.text) == (s.parent, s.role, s.text):
                same[s.key] = same.get(other.key, other.key)
                break
    return same


def _turns(by_key: dict[int, Said], same: dict[int, int]) -> tuple[dict[int, int], dict[int, int]]:
    """Each message's node (the key it is numbered by: its question's for the question's first answer, the answer's
    own for another; a message stored again, ``same``, its first's), and each question's first answer."""
    turn_of: dict[int, int] = {}
    first_answer: dict[int, int] = {}
    for s in by_key.values():  # parents before children: keys grow in the order stored
        above = by_key.get(s.parent) if s.parent is not None else None
        if s.key in same and same[s.key] in turn_of:
            turn_of[s.key] = turn_of[same[s.key]]
        elif s.role == "human":
            turn_of[s.key] = s.key
        elif above is not None and above.role == "human":  # an answer to it: its first, or another (a retry)
            turn_of[s.key] = above.key if first_answer.setdefault(above.key, s.key) == s.key else s.key
        elif above is not None and above.key in turn_of:
            turn_of[s.key] = turn_of[above.key]
        # else: before the first question (a graph's greeting): on every branch, no node of its own
    return turn_of, first_answer


def _numbers(
    by_key: dict[int, Said], turn_of: dict[int, int], changes: list[Point]
) -> tuple[dict[int, int], dict[str, int]]:
    """The numbers of the turns' nodes (by their keys) and of the changes' (by their checkpoints' ids), in the order
    made: by time where every one has its time, else turns in the order stored, each change after its turn."""
    keys = sorted(set(turn_of.values()))
    timed = all(by_key[k].at is not None for k in keys) and all(p.at is not None for p in changes)
    made: list[tuple[tuple[float, float], int | str]] = []
    for k in keys:
        made.append(((by_key[k].at or 0.0, float(k)) if timed else (float(k), 0.0), k))
    for i, p in enumerate(changes):
        made.append(((p.at or 0.0, float(i)) if timed else (float(p.tail or 0) + 0.5, float(i)), p.checkpoint_id))
    order = list(enumerate((what for _, what in sorted(made, key=lambda m: m[0])), start=1))
    numbers = {what: n for n, what in order if isinstance(what, int)}
    return numbers, {what: n for n, what in order if isinstance(what, str)}


class _Walk:
    """Which change is in effect at a checkpoint: walked back through its parents."""

    def __init__(self, by_key: dict[int, Said], by_id: dict[str, Point], changed: dict[str, int]):
        self.by_key, self.by_id, self.changed = by_key, by_id, changed

    def change_at(self, checkpoint_id: str | None, tail: int | None) -> int | None:
        """The number of the change in effect at checkpoint ``checkpoint_id`` whose list ends at message ``tail``: the
        newest made on ``tail`` among its ancestors, not taken back since (None: none, the turn's node is)."""
        if tail is None or tail not in self.by_key:
            return None
        pos, undone = self.by_key[tail].pos, 0
        point = self.by_id.get(checkpoint_id) if checkpoint_id else None
        while point is not None:
            here = self.by_key.get(point.tail) if point.tail is not None else None
            if here is None or here.pos < pos:
                return None  # back before the message: no change made on it is in effect
            if point.mark == "undo":
                undone += 1
            elif point.tail == tail and point.checkpoint_id in self.changed:
                if not undone:
                    return self.changed[point.checkpoint_id]
                undone -= 1
            point = self.by_id.get(point.parent) if point.parent else None
        return None


def _finish(nodes: dict[int, Node], points: Sequence[Point], labels: dict[int, list[str]]) -> None:
    """Each node's children, model and labels."""
    # The checkpoint that first ended on a message is its turn's, a later one (an /undo) is not: read last, it wins.
    models = {point.tail: point.model for point in reversed(points) if point.tail is not None and point.model}
    for number, node in nodes.items():
        if node.parent is not None and node.parent in nodes:
            nodes[node.parent].children.append(number)
        if node.kind == "turn":
            node.model = models.get(node.end)
        node.labels = sorted(labels.get(number, []))


def _node_before(asked: Said, by_key: dict[int, Said], turn_of: dict[int, int], numbers: dict[int, int]) -> int | None:
    """The node question ``asked`` was asked after: the one its previous message belongs to (None: it is the first)."""
    before = by_key.get(asked.parent) if asked.parent is not None else None
    while before is not None and before.key not in turn_of:
        before = by_key.get(before.parent) if before.parent is not None else None
    return numbers[turn_of[before.key]] if before is not None else None
