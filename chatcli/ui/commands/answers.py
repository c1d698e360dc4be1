"""Slash commands about this thread's answers and how the next one is asked: copy, thinking, usage, system prompt,
role and attachments."""

from __future__ import annotations

from typing import Any

from chatcli.errors import UsageError
from chatcli.ui.registry import Context, Handler


async def _copy(ctx: Context, arg: str) -> None:
    from chatcli.ui.clipboard import code_blocks, copy

    answer = await ctx.thread.recall.last_answer()
    if answer is None:
        raise UsageError("nothing to copy: no answer yet in this thread")
    text, what = answer, "the last answer"
    if arg:
        blocks = code_blocks(text)
        if not arg.isdigit() or not 1 <= int(arg) <= len(blocks):
            raise UsageError(
                f"/copy N takes a code block number: the last answer has {len(blocks) or 'no'} code "
                f"block{'' if len(blocks) == 1 else 's'}"
            )
        text, what = blocks[int(arg) - 1], f"code block {arg} of {len(blocks)}"
    ways = copy(text, ctx.out if ctx.out.isatty() else None)
    if not ways:
        raise UsageError("no clipboard to copy to here: not a terminal, and no wl-copy, xclip, xsel or pbcopy")
    size = f"{len(text.splitlines())} lines" if "\n" in text else f"{len(text)} characters"
    ctx.output.note(f"copied {what} ({size}) with {' and '.join(ways)}")


async def _think(ctx: Context, arg: str) -> None:
    if arg:
        if arg not in ("on", "off"):
            raise UsageError("/think takes on, off, or nothing")
        if hasattr(ctx.output, "show_thinking"):
            ctx.output.show_thinking = arg == "on"
        ctx.output.note(
            "thinking shown in full as it comes"
            if arg == "on"
            else "thinking folded to one line once the answer starts"
        )
        return
    thinking = await ctx.thread.recall.last_thinking()
    if thinking is None:
        ctx.output.note("no thinking in this thread yet (only reasoning models think aloud)")
        return
    ctx.print(thinking)


async def _usage(ctx: Context, arg: str) -> None:
    from chatcli.backends.own.pricing import dollars

    used = await ctx.thread.recall.usage_totals()
    cost = f" · {dollars(used.cost_usd)}" if used.cost_usd is not None else ""
    cached = f" ({used.cached:,} cached)" if used.cached else ""
    ctx.print(
        f"{used.turns} turn{'' if used.turns == 1 else 's'} · {used.input_tokens:,} tokens in{cached} · "
        f"{used.output_tokens:,} out{cost}"
    )
    if used.uncounted:
        ctx.output.note(f"{used.uncounted} of {used.answers} answers came without token counts")
    if used.unpriced > used.local:  # said, never guessed: the sum above leaves them out
        ctx.output.note(
            f"{used.unpriced - used.local} of {used.answers} answers have no known price (not in the dollars; "
            "config.toml [prices] can add one)"
        )
    if used.local:
        ctx.output.note(
            f"{used.local} of {used.answers} answers are from a local model, not priced (not in the dollars; "
            "config.toml [prices] can price it)"
        )
    from chatcli.service.limits import limit_lines

    standing = await ctx.thread.spending()
    for line in limit_lines(standing):
        (ctx.print if standing.kept else ctx.output.note)(line)


async def _system(ctx: Context, arg: str) -> None:
    if not arg:
        current = await ctx.thread.own("system").system_prompt()
        ctx.print(current or ctx.settings.system)
        if not current:
            ctx.output.note("(the default system prompt)")
        return
    await ctx.thread.own("system").replace_system(arg)
    ctx.output.note("system prompt set for this thread")


async def _role(ctx: Context, arg: str) -> None:
    from pathlib import Path

    from chatcli.backends.own.roles import load_role, role_names

    if not arg:
        prompt = ctx.thread.prompt  # a graph's thread has no role of chat's
        current = await prompt.role() if prompt is not None else None
        ctx.print(current or "(no role)")
        known = ", ".join(role_names(Path(ctx.settings.roles_dir or ""))) or "none yet"
        ctx.output.note(f"roles: {known} · /role NAME sets one")
        return
    role = load_role(Path(ctx.settings.roles_dir or ""), arg)
    await ctx.thread.own("roles").set_role(role)  # the same as chat --role: kept with the thread
    model = f"model {role.model}" if role.model else f"model {ctx.thread.model_name} (the default)"
    temperature = f" · temperature {role.temperature}" if role.temperature is not None else ""
    ctx.output.note(f"role {role.name} from the next message · {model}{temperature}")


async def _attach(ctx: Context, arg: str) -> None:
    from chatcli.content.attachments import is_url, read_attachment

    if arg == "--clear":
        count = len(ctx.attached)
        ctx.attached.clear()
        ctx.output.note(
            f"the queue is cleared: {count} file{'' if count == 1 else 's'} will not be sent"
            if count
            else "nothing was attached"
        )
        return
    if arg:
        item = await _fetch(ctx, arg) if is_url(arg) else read_attachment(arg)
        ctx.attach(item)
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
HANDLERS: dict[str, Handler] = {
    "/copy": _copy,
    "/think": _think,
    "/usage": _usage,
    "/system": _system,
    "/role": _role,
    "/attach": _attach,
}
