"""Slash commands about the session itself: help, tools, the editor, leaving."""

from __future__ import annotations

from chatcli.ui.registry import LEAVE, Context, Handler, help_text


async def _help(ctx: Context, arg: str) -> None:
    from chatcli.ui.commands.mcp import prompt_help

    toolbox = ctx.conversation.toolbox if ctx.conversation is not None else None
    ctx.print("\n".join([help_text(registry=ctx.commands), *prompt_help(toolbox)]))


async def _tools(ctx: Context, arg: str) -> None:
    from chatcli.ui.toolview import print_tools

    toolbox = ctx.thread.toolbox
    if toolbox is None and not ctx.settings.use_tools:
        ctx.output.note("tools are off for this session (--no-tools)")
        return
    print_tools(toolbox.status() if toolbox is not None else [], ctx.settings.mcp_config or "", ctx.out)


async def _edit(ctx: Context, arg: str) -> None:
    import asyncio

    from chatcli.ui.editor import edit_text

    text = await asyncio.to_thread(edit_text, arg)
    if not text.strip():
        ctx.output.note("the editor saved nothing: no message")
        return
    if ctx.prefill is not None:
        ctx.prefill(text)
    ctx.output.note("your message is at the prompt: Enter sends it")


async def _exit(ctx: Context, arg: str) -> str:
    return LEAVE


# This module's handlers of the prompt's commands, by name (chatcli.service.commands defines the commands).
HANDLERS: dict[str, Handler] = {
    "/help": _help,
    "/tools": _tools,
    "/edit": _edit,
    "/exit": _exit,
}
