"""The prompt's own slash commands about answers and the next question: /copy, /think on|off, /attach."""

from __future__ import annotations

from typing import Any

from chatcli.errors import UsageError
from chatcli.ui.registry import Context, Handler


async def _copy(ctx: Context, arg: str) -> None:
    from chatcli.content.markdown import code_blocks
    from chatcli.ui.clipboard import copy

    if (text := await ctx.thread.recall.last_answer()) is None:
        raise UsageError("nothing to copy: no answer yet in this thread")
    what = "the last answer"
    if arg:
        blocks = code_blocks(text)
        if not arg.isdigit() or not 1 <= int(arg) <= len(blocks):
            has = f"{len(blocks) or 'no'} code block{'' if len(blocks) == 1 else 's'}"
            raise UsageError(f"/copy N takes a code block number: the last answer has {has}")
        text, what = blocks[int(arg) - 1], f"code block {arg} of {len(blocks)}"
    if not (ways := copy(text, ctx.out if ctx.out.isatty() else None)):
        raise UsageError("no clipboard to copy to here: not a terminal, and no wl-copy, xclip, xsel or pbcopy")
    size = f"{len(text.splitlines())} lines" if "\n" in text else f"{len(text)} characters"
    ctx.output.note(f"copied {what} ({size}) with {' and '.join(ways)}")


async def _think(ctx: Context, arg: str) -> None:
    """/think on|off: whether the prompt shows thinking in full as it comes (/think alone is every door's)."""
    if hasattr(ctx.output, "show_thinking"):
        ctx.output.show_thinking = arg == "on"
    folded = "thinking folded to one line once the answer starts"
    ctx.output.note("thinking shown in full as it comes" if arg == "on" else folded)


async def _attach(ctx: Context, arg: str) -> None:
    from chatcli.content.attachments import check_files, is_url, read_attachment

    if arg == "--clear":
        count = len(ctx.attached)
        ctx.attached.clear()
        cleared = f"the queue is cleared: {count} file{'' if count == 1 else 's'} will not be sent"
        ctx.output.note(cleared if count else "nothing was attached")
        return
    if arg:
        item = await _fetch(ctx, arg) if is_url(arg) else read_attachment(arg)
        if not (can := ctx.thread.can).files:
            raise UsageError(f"files cannot be sent to {can.where}", hint=can.files_hint)
        try:  # refused at once past what one question may carry
            check_files([*ctx.attached, item])
        except UsageError as exc:
            hint = "not queued: send the files queued with a question first, then attach the rest"
            raise UsageError(exc.message, hint=hint) from None
        ctx.attached.append(item)
        ctx.output.note(f"attached: {item.line} · sent with your next message")
        return
    if not ctx.attached:
        ctx.output.note("nothing attached (/attach FILE queues a file for your next message)")
        return
    for item in ctx.attached:
        ctx.print(item.line)
    ctx.output.note("sent with your next message · /attach --clear empties the queue")


async def _fetch(ctx: Context, url: str) -> Any:
    """The page at ``url``, fetched while the prompt waits: Ctrl-C stops it (nothing is attached).

    Not in the background: a page that cannot be fetched must be said before the next message is sent.
    A fetch that takes more than half a second says so.
    """
    import asyncio

    from chatcli.content.webpage import fetch_attachment, one_line

    task = asyncio.ensure_future(fetch_attachment(url))
    try:
        done, _ = await asyncio.wait({task}, timeout=0.5)
        if not done:
            ctx.output.note(f"fetching {one_line(url)} · Ctrl-C stops")
        return await task
    except asyncio.CancelledError:
        task.cancel()
        ctx.output.note("stopped: nothing was attached")
        raise


# This module's handlers of the prompt's commands, by name (chatcli.service.commands defines the commands).
HANDLERS: dict[str, Handler] = {"/copy": _copy, "/think on": _think, "/think off": _think, "/attach": _attach}
