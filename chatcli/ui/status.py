"""The prompt's status line (the ``status_line`` setting, /status on|off): one line at the bottom of the prompt
with the model, the thread and, while spending limits are set, the room left under each (as /usage reads it:
``Thread.spending``); a server's thread (--remote) has no spending part, its model calls are not counted here.

prompt-toolkit draws its bottom toolbar on every redraw, so the line is read before the prompt (once the thread is
open, after each line the prompt runs, at /status on) and kept: drawing it reads nothing and never waits. Off, the
prompt has no toolbar at all: not even an empty row is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from chatcli.service.thread import Thread


class StatusLine:
    """The line and whether it is shown; ``text`` is what was read last ("" before the thread is open)."""

    def __init__(self, shown: bool = False) -> None:
        self.shown, self.text = shown, ""

    def toolbar(self) -> Callable[[], str] | None:
        """What the prompt draws at its bottom (its ``bottom_toolbar``): the kept line while shown, else None."""
        return (lambda: self.text) if self.shown else None  # drawn on every redraw: no read, no wait

    async def refresh(self, conversation: Thread) -> str:
        """Read the line again, of ``conversation`` as it is now (its model, its id, its spending), and return it.
        A spending that cannot be read is said so in the line; it never fails the prompt."""
        from chatcli.service.limits import room_left
        from chatcli.text import neutralise

        model = conversation.model_name or conversation.settings.model or ""
        parts = [neutralise(model), f"thread {neutralise(conversation.thread_id)}"]
        try:
            parts += room_left(await conversation.spending())
        except Exception:  # noqa: BLE001 - a line of display: the store's failure is said where it matters
            parts.append("spending not read")
        self.text = " · ".join(part for part in parts if part)
        return self.text
