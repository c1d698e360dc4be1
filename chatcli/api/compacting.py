"""Compaction on purpose through its two doors besides the prompt's /compact: ``chat compact ID`` and chat serve's
``POST /v1/threads/ID/compact``. Both refuse a graph's thread the same way (``Chat.find(own=True)``) and answer with
the same object.

The work itself is ``OwnPrompt.compact`` (chatcli.service.own_prompt, chatcli.backends.own.compaction): every turn
but the last folded into the summary sent in their place, as a checkpoint (``/undo`` at the prompt takes it back);
the thread keeps every message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from chatcli.core.answer import Usage

if TYPE_CHECKING:
    from chatcli.core.events import Compacted
    from chatcli.service.thread import Thread


class Strict(BaseModel):
    """An object of the API: a misspelt field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class CompactRequest(Strict):
    """What steers a compaction: the focus, as ``chat compact ID --focus TEXT``."""

    focus: str | None = Field(None, description="What the summary must keep above all, in detail.")


class Compaction(Strict):
    """What a compaction did: the object of ``chat compact ID --json`` and of ``POST /v1/threads/ID/compact``."""

    thread_id: str
    turns: int = Field(description="The earlier turns folded into the summary.")
    tokens_before: int = Field(description="Estimated tokens a request of the thread sent before.")
    tokens_after: int = Field(description="Estimated tokens it sends now.")
    focus: str | None = Field(description="The focus it was given (spaces folded), or null.")
    usage: Usage | None = Field(description="The summary request's token counts; null when the server sent none.")
    cost_usd: float | None = Field(description="What the summary request cost, when its model's price is known.")
    summary: str = Field(description="The summary now sent in place of the folded turns.")
    summary_cut: bool = Field(
        description="The summary request's answer ran past the summary's room and was cut there (it ends ' [...]')."
    )


async def compact_thread(conversation: Thread, focus: str | None) -> tuple[Compacted, dict[str, Any]]:
    """Compact ``conversation``'s thread steered by ``focus``: what was done, and its ``Compaction`` object. The
    summary request's failure is said as a turn's is (a ModelError: exit 4, 502 over HTTP), and changes nothing."""
    from chatcli.service.json_events import usage_object

    memory = conversation.own("memory")
    done = await memory.compact(focus)
    counts = usage_object(done.spent)
    return done, Compaction(
        thread_id=conversation.thread_id,
        turns=done.turns,
        tokens_before=done.before,
        tokens_after=done.after,
        focus=done.focus,
        usage=Usage(**counts) if counts else None,
        cost_usd=done.spent.known_cost,
        summary=(await memory.summary()).text,
        summary_cut=done.cut,
    ).model_dump()
