"""/summary edit, the prompt's own (an editor in a terminal); /compact, /summary, /pin and /unpin are every door's
(chatcli.service.command_runs).

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


# This module's handlers of the prompt's commands, by name (chatcli.service.commands defines the commands).
HANDLERS: dict[str, Handler] = {
    "/summary edit": _edit,
}
