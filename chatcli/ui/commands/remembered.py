"""What the prompt alone edits, in $VISUAL or $EDITOR in its terminal: /summary edit (what a long thread sends in place
of its earlier turns) and /memory edit (what chat remembers; chat memory edit runs it too). /compact, /summary,
/remember and /memory are every door's (chatcli.service.command_runs)."""

from __future__ import annotations

import re
from typing import Any

from chatcli.errors import UsageError
from chatcli.text import neutralise
from chatcli.ui.editor import edit_text
from chatcli.ui.registry import Context, Handler

# One line of the memories' file in the editor: "[ID] the words" (a line without an id is a new memory).
_LINE = re.compile(r"\s*\[([0-9a-f]{8})\]\s?(.*)")
_HEADER = "# What chat remembers for you, one memory a line: change the words, delete a line to forget it,\n"
_HEADER += "# add a line to remember something new. Lines starting with # are ignored.\n"


async def _summary(ctx: Context, arg: str) -> None:
    """/summary edit: the summary corrected in $VISUAL or $EDITOR (a terminal's, so the prompt's only)."""
    view = await ctx.thread.own("memory").summary()
    if not view.text:
        raise UsageError("this thread has no summary to edit", hint="/compact makes one")
    text = await edit_text(view.text)
    if text.strip() in ("", view.text.strip()):
        ctx.output.note(f"{'' if text.strip() else 'the editor saved nothing: '}the summary is unchanged")
        return
    await ctx.thread.own("memory").edit_summary(text)
    ctx.output.note("summary saved: it is sent from the next message on · /undo takes the edit back")


async def _memories(ctx: Context, arg: str) -> None:
    """/memory edit: every memory in $VISUAL or $EDITOR (a terminal's, so the prompt's only)."""
    for line in await edit_memories(ctx.thread.memories()) or ["nothing changed"]:
        ctx.output.note(line)


async def edit_memories(book: Any, environ: Any = None) -> list[str]:
    """Open the memories in the user's editor, a line each; apply what changed. The lines said, one per change."""
    from chatcli.store.memories import MemoryRefused

    before = {m.id: m for m in await book.all()}
    shown = "".join(f"[{m.id}] {m.text}\n" for m in sorted(before.values(), key=lambda m: m.created_at))
    edited = await edit_text(_HEADER + shown, environ)
    lines = [(_LINE.match(line), line) for line in edited.splitlines() if line.strip()[:1] not in ("", "#")]
    kept = {match[1]: match[2] for match, _ in lines if match and match[1] in before}
    new = [match[2] if match else line for match, line in lines if not (match and match[1] in before)]
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
HANDLERS: dict[str, Handler] = {"/summary edit": _summary, "/memory edit": _memories}
