"""A thread's tree drawn as lines of text (/tree, ``chat tree``)."""

from __future__ import annotations

from typing import NamedTuple

from chatcli.text import counted
from chatcli.threads.tree.model import Node, Tree

# How a branch set aside is drawn: its first node leaving the line it starts from, the rest beside that line.
LEAVES, BRANCH = "├─ ", "│  "
FOLDED = " turns folded"  # the end of the line that stands for a folded run
# A straight run of more nodes than this is folded (its first and last shown) unless the whole tree is asked for.
FOLD = 6


class _Layout(NamedTuple):
    """What every line of one drawing shares, worked out once: the width, whether to fold, the branch the thread is
    on, and the widths of the model and number columns."""

    width: int
    unfold: bool
    on_path: set[int]
    models: int
    digits: int


def draw(tree: Tree, width: int = 100, unfold: bool = False) -> list[str]:
    """``/tree`` and ``chat tree`` as lines of text: one line a node (its number, question and answer's starts, time,
    model, labels; ``*`` marks the node the thread is on), the branch the thread is on as the main line, the branches
    set aside drawn off the node they start from; a long straight run folded unless ``unfold``."""
    if not tree.nodes:
        return [f"thread {tree.thread_id} has no question yet"]
    on_path = set(tree.path)
    on = f", on node {tree.current}" if tree.current is not None else ""
    lines = [f"thread {tree.thread_id}: {counted(len(tree.nodes), 'node')}, {counted(tree.branches, 'branch')}{on}"]
    models = max((len(n.model or "") for n in tree.nodes.values()), default=0)
    layout = _Layout(width, unfold, on_path, models, len(str(max(tree.nodes))))
    roots = [n for n, node in tree.nodes.items() if node.parent is None]
    _draw_line(tree, _main(roots, on_path), [r for r in roots if r != _main(roots, on_path)], "", lines, layout)
    if any(line.endswith(FOLDED) for line in lines):
        lines.append("(folded runs: /tree all shows every node)")
    return lines


def _main(children: list[int], on_path: set[int]) -> int:
    """The child the line goes on with: the one on the thread's branch, else the newest."""
    return next((c for c in children if c in on_path), max(children))


def _draw_line(tree: Tree, start: int, side: list[int], prefix: str, lines: list[str], layout: _Layout) -> None:
    """Draw the line of nodes from ``start`` (each next one its main child), after the branches ``side`` that leave
    from the node before it; each branch leaving a node on the line drawn before the line goes on."""
    on_path = layout.on_path
    for branch in side:
        _draw_line(tree, branch, [], prefix + BRANCH, lines, layout)
    run: list[int] = []
    number: int | None = start
    while number is not None:
        run.append(number)
        children = tree.nodes[number].children
        number = _main(children, on_path) if children else None
    fold = not layout.unfold and len(run) > FOLD
    i = 0
    while i < len(run):
        count = _plain_count(tree, run, i) if fold else 0
        if count >= 3:
            lines.append(f"  {prefix}... {count}{FOLDED}")
            i += count
            continue
        node = tree.nodes[run[i]]
        first = i == 0 and prefix.endswith(BRANCH)  # a branch's first node: drawn leaving the line above
        lines.append(_line(tree, node, prefix[: -len(BRANCH)] + LEAVES if first else prefix, layout))
        main = _main(node.children, on_path) if node.children else None
        for branch in sorted(c for c in node.children if c != main):
            _draw_line(tree, branch, [], prefix + BRANCH, lines, layout)
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


def _line(tree: Tree, node: Node, prefix: str, layout: _Layout) -> str:
    """One node's line, cut to ``width``: what was said on the left, when, by which model and its labels in
    columns on the right."""
    import time

    mark = "*" if node.number == tree.current else " "
    when = time.strftime("%b %d %H:%M", time.localtime(node.at)) if node.at else ""
    width, models, digits = layout.width, layout.models, layout.digits
    tail = f"{when:<12}  {node.model or ''}".rstrip()
    head = f"{mark} {prefix}{node.number:<{digits}}  " + "".join(f"[{label}] " for label in node.labels)
    room = max(width - len(head) - 12 - 2 - models - 2, 20)
    question = " ".join(node.question.split())
    answer = " ".join(node.answer.split()) or "(no answer)"
    asked = room * 2 // 5
    if len(question) > asked:
        question = question[: asked - 1] + "…"
    said = f"{question} -> {answer}" if node.kind == "turn" else f"({answer})"
    if len(said) > room:
        said = said[: room - 1] + "…"
    return f"{head}{said.ljust(room)}  {tail}".rstrip()
