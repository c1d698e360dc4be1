"""One approved call, run with its progress told: a ``Progress`` event each second while it runs, and one
whenever the tool reports how far it got (an MCP server's progress notifications)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from chatcli.chat.events import Progress, ToolCall

if TYPE_CHECKING:
    from chatcli.tools.toolbox import Toolbox

TICK = 1.0  # seconds between two progress events of a call that says nothing of its own
MESSAGE_CHARS = 200  # characters of a tool's progress message passed on


async def run_call(
    toolbox: "Toolbox", entry: Any, arguments: dict[str, Any], shown: ToolCall, emit: Callable[[Any], None]
) -> Any:
    """``toolbox.call`` for ``entry``, emitting ``Progress`` for ``shown`` until it ends (however it ends)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    told: dict[str, Any] = {"done": None, "total": None, "message": None}  # what the tool said last
    heard = asyncio.Event()

    def reported(done: float | None, total: float | None, message: str | None) -> None:
        # Heard in the MCP session's own task: the event is emitted from the ticker's, in the turn's context.
        text = " ".join(message.split())[:MESSAGE_CHARS] if isinstance(message, str) else None
        told.update(done=done, total=total, message=text or None)
        heard.set()

    async def ticking() -> None:
        while True:
            try:
                await asyncio.wait_for(heard.wait(), TICK)
            except TimeoutError:
                pass
            heard.clear()
            emit(Progress(shown, loop.time() - started, told["done"], told["total"], told["message"]))

    ticker = asyncio.create_task(ticking())
    try:
        return await toolbox.call(entry, arguments, shown.id, progress=reported)
    finally:
        ticker.cancel()


def shown_call(call: dict[str, Any], entry: Any) -> ToolCall:
    """A call as the approval question and the display show it."""
    return ToolCall(
        id=call["id"],
        name=call["name"],
        label=entry.label if entry is not None else call["name"],
        server=entry.server if entry is not None else None,
        arguments=call["args"] if call["args"] is not None else call.get("raw"),
        where=_where(call, entry),
    )


def where_it_runs(call: ToolCall, entry: Any) -> ToolCall:
    """``call`` (as an interrupt kept it) with where it would run, as the toolbox about to run it says."""
    from dataclasses import replace

    where = _where({"name": call.name}, entry)
    return replace(call, where=where) if where and call.server == getattr(entry, "server", None) else call


def _where(call: dict[str, Any], entry: Any) -> str:
    """Where a built-in shell's command runs, as its toolbox's sandbox says it; "" for any other call."""
    return str(getattr(entry, "where", "") or "") if call["name"] == "shell" else ""
