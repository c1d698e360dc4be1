"""What every output of the terminal and the pipe does with a turn's events (chatcli.chat.routing), and the
approval question."""

from __future__ import annotations

from typing import Any

from chatcli.chat.events import Decision, ToolCall, refuse
from chatcli.chat.routing import Router


class Listening(Router):
    """A terminal's or a pipe's output: the events routed (chatcli.chat.routing), and the approval question.

    ``approver`` (a chatcli.ui.approval.TerminalApprover) asks about tool calls when there is a
    terminal to ask in; without one, calls that need approval are refused.
    """

    approver: Any = None

    async def approve(self, call: ToolCall) -> Decision:
        if self.approver is None or not self.approver.can_ask():
            return refuse(call)
        self.asking(call)
        return await self.approver(call)

    def asking(self, call: ToolCall) -> None:
        """The user is about to be asked about ``call``: show it."""
        from chatcli.ui.toolblocks import call_block

        self.note(call_block(call))
