"""Slash commands about what a long thread sends, the prompt's own: /summary edit, /pin and /unpin (/compact and
/summary are every door's: chatcli.service.command_runs).

The thread keeps every message whatever is done here: these change only what the model is sent in place of the
earlier turns (chatcli.backends.own.compaction).
"""

from __future__ import annotations

from chatcli.errors import UsageError
from chatcli.ui.registry import Context, Handler


async def _edit(ctx: Context, arg: str) -> None:
    """/summary edit: the summary corrected in $VISUAL or $EDITOR (a terminal's, so the prompt's only)."""
    import asyncio

    from chatcli.ui.editor import edit_text

    view = await ctx.thread.own("memory").summary()
    if not view.text:
        raise UsageError("this thread has no summary to edit", hint="/compact makes one")
    text = await asyncio.to_thread(edit_text, view.text)
    if not text.strip():
        ctx.output.note("the editor saved nothing: the summary is unchanged")
        return
    if text.strip() == view.text.strip():
        ctx.output.note("the summary is unchanged")
        return
    await ctx.thread.own("memory").edit_summary(text)
    ctx.output.note("summary saved: it is sent from the next message on · /undo takes the edit back")


def _turn(arg: str, name: str) -> int | None:
    arg = arg.strip()
    if not arg:
        return None
    if not arg.isdigit():
        raise UsageError(f"{name} takes a turn number (1 is the first question), or nothing for the last turn")
    return int(arg)


async def _pin(ctx: Context, arg: str) -> None:
    number = await ctx.thread.own("memory").pin(_turn(arg, "/pin"))
    ctx.output.note(f"turn {number} pinned: its question, what it attached and its answer are always sent whole")


async def _unpin(ctx: Context, arg: str) -> None:
    number = await ctx.thread.own("memory").pin(_turn(arg, "/unpin"), on=False)
    ctx.output.note(f"turn {number} unpinned")


# This module's handlers of the prompt's commands, by name (chatcli.service.commands defines the commands).
HANDLERS: dict[str, Handler] = {
    "/summary edit": _edit,
    "/pin": _pin,
    "/unpin": _unpin,
}
