"""Output for scripts: one JSON object per answer (--json), or JSON lines as it streams (--jsonl).

These hear a turn (``Thread.send``) as the terminal and pipe outputs do. stdout carries only
JSON: the final object (``done``) or, when the command fails, an error object; notes and the
usual one-line error go to stderr. The objects are chatcli.core.answer's, built by
chatcli.service.json_events (which ``chat serve`` uses too); this module writes them.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from chatcli.core.events import Decision, Review, ToolCall, ToolResult
from chatcli.service.json_events import JsonEvents
from chatcli.text import is_terminal, json_text, say
from chatcli.ui.output import StderrNotes

if TYPE_CHECKING:
    from chatcli.service.inbox import Answers


class JsonOutput(JsonEvents, StderrNotes):
    """``--json`` (``lines=False``): one object at the end; ``--jsonl``: a line per chunk, then the end."""

    def __init__(
        self, out: IO[str], err: IO[str], *, lines: bool = False, waits: bool = False, given: Answers | None = None
    ):
        super().__init__(lines=lines)
        self.out, self.err = out, err
        # A background reply's (chatcli.service.jobs): a call of chat's own that needs approval waits for it in the
        # thread (``chat -t ID`` asks it, or chat inbox), as a graph's does, rather than being refused for want of a
        # terminal.
        # ``given``: answers given ahead (chat inbox answer): what they answer is not asked.
        self.waits, self.given = waits, given

    def refused(self, result: ToolResult) -> None:
        StderrNotes.tool_result(self, result)

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        """chat's own calls are refused (nobody to ask), or wait in a background reply; a graph's approval waits
        for ``--resume``."""
        decided = self.given.decision(call) if self.given is not None else None
        if decided is not None:
            return decided
        if review is None and not self.waits:
            return await StderrNotes.approve(self, call)
        self.approval(call)
        return Decision("later")

    def _write(self, obj: dict[str, Any]) -> None:
        # In a terminal, escape everything non-ASCII too; anywhere, every control character.
        say(self.out, json_text(obj, ensure_ascii=is_terminal(self.out)) + "\n", data=True)
