"""Slash commands about what chat remembers across threads: /remember TEXT, /memory (and /memory forget ID, edit)."""

from __future__ import annotations

import re
from typing import Any

from chatcli.errors import UsageError
from chatcli.text import local_time, neutralise
from chatcli.ui.registry import Context, Handler

# One line of the memories' file in the editor: "[ID] the words" (a line without an id is a new memory).
_LINE = re.compile(r"\s*\[([0-9a-f]{8})\]\s?(.*)")
_HEADER = """\
# What chat remembers for you, one memory a line: change the words, delete a line to forget it,
# add a line to remember something new. Lines starting with # are ignored.
"""


async def _remember(ctx: Context, arg: str) -> None:
    from chatcli.store.memories import MemoryRefused

    try:
        memory = await ctx.thread.memories().add(arg, "prompt")
    except MemoryRefused as exc:
        raise UsageError(str(exc), hint="/remember I prefer metric units") from None
    ctx.output.note(f"remembered ({memory.id}): {neutralise(memory.text)} · /memory lists what is kept")


async def _memory(ctx: Context, arg: str) -> None:
    word, _, rest = arg.strip().partition(" ")
    book = ctx.thread.memories()
    if word == "forget":
        if not rest.strip():
            raise UsageError("/memory forget ID: name the memory (/memory lists them)")
        if not await book.forget(rest.strip()):
            raise UsageError(f"no memory {rest.strip()!r}", hint="/memory lists them, with their ids")
        ctx.output.note(f"forgot {rest.strip()}")
        return
    if word == "edit":
        for line in await edit_memories(book) or ["nothing changed"]:
            ctx.output.note(line)
        return
    if word:
        raise UsageError("/memory takes forget ID, edit, or nothing")
    memories = await book.all()
    if not memories:
        ctx.output.note("nothing remembered yet: /remember TEXT keeps something for every thread")
        return
    for memory in memories:
        ctx.print(f"{memory.id}  {local_time(memory.created_at)}  {neutralise(memory.text)}")
    if not ctx.settings.memories:
        ctx.output.note("memories are off for this run (--no-memory, or memories = false): none is sent")


async def edit_memories(book: Any, environ: Any = None) -> list[str]:
    """Open the memories in the user's editor, a line each; apply what changed. The lines said, one per change."""
    import asyncio

    from chatcli.store.memories import MemoryRefused
    from chatcli.ui.editor import edit_text

    before = {m.id: m for m in await book.all()}
    shown = "".join(f"[{m.id}] {m.text}\n" for m in sorted(before.values(), key=lambda m: m.created_at))
    edited = await asyncio.to_thread(edit_text, _HEADER + shown, environ)
    kept: dict[str, str] = {}
    new: list[str] = []
    for line in edited.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match and match.group(1) in before:
            kept[match.group(1)] = match.group(2)
        else:
            new.append(match.group(2) if match else line)
    said = []
    try:
        for memory_id, memory in before.items():
            if memory_id not in kept:
                await book.forget(memory_id)
                said.append(f"forgot {memory_id}")
            elif " ".join(kept[memory_id].split()) != memory.text:
                await book.change(memory_id, kept[memory_id])
                said.append(f"changed {memory_id}")
        for text in new:
            added = await book.add(text, "command")
            said.append(f"remembered ({added.id}): {neutralise(added.text)}")
    except MemoryRefused as exc:
        raise UsageError(f"{exc} (what came before it is saved)") from None
    return said


# This module's handlers of the prompt's commands, by name (chatcli.service.commands defines the commands).
HANDLERS: dict[str, Handler] = {
    "/remember": _remember,
    "/memory": _memory,
}
