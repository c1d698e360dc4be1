"""Slash commands about the thread's tree (chatcli.threads.tree): /tree draws it, /goto moves the thread to a node,
/label names the node it is on."""

from __future__ import annotations

import shutil

from chatcli.errors import UsageError
from chatcli.text import make_title
from chatcli.threads.tree import Node, draw
from chatcli.ui.registry import Context, Handler


async def _tree(ctx: Context, arg: str) -> None:
    if arg not in ("", "all"):
        raise UsageError("/tree takes all, or nothing")
    tree = await ctx.thread.tree()
    width = shutil.get_terminal_size((100, 24)).columns
    for line in draw(tree, width=width, unfold=arg == "all"):
        ctx.print(line)
    if len(tree.nodes) > 1:
        ctx.output.note("/goto N moves the thread to node N (nothing is lost); /label NAME names the node it is on")


async def _goto(ctx: Context, arg: str) -> None:
    if not arg:
        raise UsageError("/goto takes a node's number or label", hint="/tree shows them")
    before = (await ctx.thread.tree()).current
    node = await ctx.thread.goto(arg)
    if node.number == before:
        ctx.output.note(f"already on node {node.number}: {described(node)}")
        return
    left = f"; node {before} is where you were (/goto {before})" if before is not None else ""
    ctx.output.note(f"on node {node.number}: {described(node)}{left}")


async def _label(ctx: Context, arg: str) -> None:
    if not arg:
        raise UsageError("/label takes a name", hint="/tree shows the labels given")
    node = await ctx.thread.label(arg)
    ctx.output.note(f"node {node.number} is {arg} (/goto {arg} goes back to it): {described(node)}")


def described(node: Node) -> str:
    """A node in a few words: its question's start and its answer's."""
    answer = make_title(node.answer) if node.answer else "(no answer)"
    return f"{make_title(node.question)} -> {answer}"


# This module's handlers of the prompt's commands, by name (chatcli.service.commands defines the commands).
HANDLERS: dict[str, Handler] = {"/tree": _tree, "/goto": _goto, "/label": _label}
