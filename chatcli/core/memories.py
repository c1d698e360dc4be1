"""What the user asked chat to remember, as every door sees it: a ``Memory``, and which ones a request carries.

Memories are the user's own words (typed with ``/remember``, ``chat memory add``, or approved when the model
asked to keep them with the ``remember`` tool). They are kept in the conversation database's store
(chatcli.store.memories), shared by every thread of the user, and sent with each request of chat's own graph
as context the user wrote, within a share of the request's budget: the newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

MAX_TEXT = 2000  # characters of one memory
MAX_MEMORIES = 1000  # kept for one user (the oldest go first past it)
SHARE = 0.1  # of a request's history budget that its memories may take
SOURCES = ("prompt", "command", "tool", "import")  # how a memory came: /remember, chat memory, the tool, an import


class MemoryRefused(ValueError):
    """A text that cannot be a memory (empty, too long, not printable): the reason, in one line."""


@dataclass(frozen=True)
class Memory:
    """One thing remembered: its id (to forget or edit it), the user's words, when, and how it came."""

    id: str
    text: str
    created_at: float  # epoch seconds
    source: str = "command"

    def as_json(self) -> dict[str, Any]:
        from chatcli.text import iso_time

        return {"id": self.id, "text": self.text, "created_at": iso_time(self.created_at), "source": self.source}


def checked_text(text: str) -> str:
    """``text`` as a memory keeps it: one paragraph of printable text, at most MAX_TEXT characters."""
    kept = " ".join(str(text).split())
    if not kept:
        raise MemoryRefused("nothing to remember: give the words to keep")
    if len(kept) > MAX_TEXT:
        raise MemoryRefused(f"a memory is at most {MAX_TEXT:,} characters (this one has {len(kept):,})")
    if not kept.isprintable():
        raise MemoryRefused("a memory is printable text (this one holds control characters)")
    return kept


def tokens_of(text: str) -> int:
    """About how many tokens ``text`` takes (four characters a token, as chat estimates elsewhere)."""
    return len(text) // 4 + 1


def chosen(memories: Iterable[Memory], budget: int) -> list[Memory]:
    """The memories a request carries: the newest first, as many as fit in ``SHARE`` of its ``budget`` tokens."""
    room = int(budget * SHARE)
    picked: list[Memory] = []
    for memory in sorted(memories, key=lambda m: m.created_at, reverse=True):
        cost = tokens_of(memory.text) + 2
        if cost > room:
            break
        picked.append(memory)
        room -= cost
    return picked


def block(memories: list[Memory]) -> str:
    """The part of the system message that carries ``memories`` (empty with none)."""
    if not memories:
        return ""
    lines = "\n".join(f"- {m.text}" for m in sorted(memories, key=lambda m: m.created_at))
    return (
        "The user asked you to remember the following, in their own words, across all their conversations. "
        "Use it where it helps; do not mention it otherwise.\n" + lines
    )
