"""Slash commands about the session itself: help, tools, the editor, the status line, leaving."""

from __future__ import annotations

from chatcli.ui.editor import edit_text
from chatcli.ui.registry import LEAVE, Context, Handler, help_text


async def _help(ctx: Context, arg: str) -> None:
    from chatcli.ui.pager import page

    toolbox = ctx.conversation.toolbox if ctx.conversation is not None else None
    page(help_text(registry=ctx.commands, toolbox=toolbox) + "\n", ctx.out)  # taller: paged


async def _tools(ctx: Context, arg: str) -> None:
    from chatcli.ui.toolview import print_tools

    toolbox = ctx.thread.toolbox
    if toolbox is None and not ctx.settings.use_tools:
        ctx.output.note("tools are off for this session (--no-tools)")
        return
    print_tools(toolbox.status() if toolbox is not None else [], ctx.settings.mcp_config or "", ctx.out)


async def _edit(ctx: Context, arg: str) -> None:
    if arg.isdigit() and ctx.conversation is not None:  # a node of /tree: its question, asked another way
        await _edit_question(ctx, arg)
        return
    text = await edit_text(arg)
    if not text.strip():
        ctx.output.note("the editor saved nothing: no message")
        return
    if ctx.prefill is not None:
        ctx.prefill(text)
    ctx.output.note("your message is at the prompt: Enter sends it")


async def _edit_question(ctx: Context, number: str) -> None:
    """/edit N: node N's question in $VISUAL or $EDITOR; saved changed, it is answered on a new branch from where
    it was asked (node N and all after it stay in the tree)."""
    node, asked = await ctx.thread.question(number)
    text = await edit_text(asked)
    if not text.strip() or text.strip() == asked.strip():
        ctx.output.note(f"question {node.number} unchanged: nothing asked")
        return
    await ctx.thread.goto(number, before=True)
    ctx.output.note(f"asking question {node.number} again, edited, on a new branch (/goto {node.number}: as it was)")
    await ctx.thread.send(text, ctx.attached, mentions=text, queue=True)


async def _status(ctx: Context, arg: str) -> None:
    from chatcli.errors import UsageError

    if arg not in ("", "on", "off"):
        raise UsageError("/status takes on, off, or nothing")
    if ctx.status is None:
        raise UsageError("/status is the prompt's: its line is drawn at the bottom of the prompt")
    if arg:
        ctx.status.shown = arg == "on"
        if ctx.status.shown:
            await ctx.status.refresh(ctx.thread)
        ctx.output.note("status line shown at the bottom of the prompt" if ctx.status.shown else "status line off")
        return
    ctx.print(await ctx.status.refresh(ctx.thread))


async def _exit(ctx: Context, arg: str) -> str:
    return LEAVE


# This module's handlers of the prompt's commands, by name (chatcli.service.commands defines the commands).
HANDLERS: dict[str, Handler] = {"/help": _help, "/tools": _tools, "/edit": _edit, "/status": _status, "/exit": _exit}
