"""Slash commands about what a long thread sends: /compact, /summary (and /summary edit), /pin and /unpin.

The thread keeps every message whatever is done here: these change only what the model is sent in place of the
earlier turns (chatcli.backends.own.compaction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcli.errors import UsageError
from chatcli.text import counted
from chatcli.ui.registry import Context, Handler

if TYPE_CHECKING:
    from chatcli.service.recall import SummaryView


def compacted_line(done: Any) -> str:
    """ "compacted 12 earlier turns: ~5,210 -> ~1,130 tokens sent · 3,400 in · 420 out · $0.0011" for a
    chatcli.core.events.Compacted."""
    from chatcli.ui.output import cost_part

    usage = done.spent.usage or {}
    parts = [f"compacted {counted(done.turns, 'earlier turn')}: ~{done.before:,} -> ~{done.after:,} tokens sent"]
    if usage.get("input_tokens") is not None:
        parts.append(f"{usage['input_tokens']:,} in · {usage.get('output_tokens') or 0:,} out")
    price = cost_part(done.spent)
    if price:
        parts.append(price)
    if done.cut:
        from chatcli.backends.own.compaction import CUT_NOTE

        parts.append(CUT_NOTE)
    return " · ".join(parts)


async def _compact(ctx: Context, arg: str) -> None:
    ctx.output.note("compacting the earlier turns..." + (f" (focus: {arg.strip()})" if arg.strip() else ""))
    done = await ctx.thread.own("memory").compact(arg.strip() or None)
    ctx.output.note(compacted_line(done))
    ctx.output.note("the thread keeps every message · /summary shows what is sent · /undo takes it back")


def _described(view: SummaryView) -> str:
    """How and when the summary was made: "made by /compact at 2026-11-24 10:02 UTC, focus: the API"."""
    made = view.made or {}
    ways = {"compact": "by /compact", "auto": "automatically", "edit": "by hand (/summary edit)"}
    how = ways.get(made.get("kind", ""))
    said = [how] if how else []
    if made.get("at"):
        said.append(f"at {str(made['at'])[:16].replace('T', ' ')} UTC")
    focus = f", focus: {made['focus']}" if made.get("focus") else ""
    return f"made {' '.join(said)}{focus}" if said else ""


async def _summary(ctx: Context, arg: str) -> None:
    if arg.strip() not in ("", "edit"):
        raise UsageError("/summary takes edit, or nothing")
    view = await ctx.thread.own("memory").summary()
    if arg.strip() == "edit":
        await _edit(ctx, view)
        return
    if not view.text:
        whole = f"all {counted(view.turns, 'turn')} are sent as they are" if view.turns else "no turn yet"
        ctx.output.note(f"no summary: {whole} (within the budget) · /compact makes one")
        _pins(ctx, view)
        return
    made = _described(view)
    folded = "turn 1" if view.covers == 1 else f"turns 1-{view.covers}"
    ctx.output.note(f"sent in place of {folded} of {view.turns}" + (f" · {made}" if made else ""))
    ctx.print(view.text)
    if view.first_whole:
        ctx.output.note("turn 1 (the first question) is sent whole beside it")
    _pins(ctx, view)


def _pins(ctx: Context, view: Any) -> None:
    if view.pinned:
        turns = f"turn{'s' if len(view.pinned) > 1 else ''} {', '.join(map(str, view.pinned))}"
        ctx.output.note(f"pinned, always sent whole: {turns}")


async def _edit(ctx: Context, view: Any) -> None:
    import asyncio

    from chatcli.ui.editor import edit_text

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
    "/compact": _compact,
    "/summary": _summary,
    "/pin": _pin,
    "/unpin": _unpin,
}
