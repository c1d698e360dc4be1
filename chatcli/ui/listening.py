"""What every output of the terminal and the pipe does with a turn's events (chatcli.core.routing), the approval
question, and the answer to an interrupt that is no approval."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chatcli.core.elicitation import Elicitation, Elicited
from chatcli.core.events import Decision, Question, Reply, Review, ToolCall, declined, refuse
from chatcli.core.routing import Router

if TYPE_CHECKING:
    from chatcli.ui.approval import TerminalApprover


def question_text(question: Question) -> str:
    """An interrupt's value as Markdown: a text as it is, anything else as a JSON block."""
    if isinstance(question.value, str):
        return question.value
    return "```json\n" + json.dumps(question.value, ensure_ascii=False, indent=2, default=str) + "\n```"


class Listening(Router):
    """A terminal's or a pipe's output: the events routed (chatcli.core.routing), and the approval question.

    ``approver`` (a chatcli.ui.approval.TerminalApprover) asks about tool calls, and a tool's questions,
    when there is a terminal to ask in; without one, calls that need approval are refused, a tool's
    question is declined (said, with what it asked), and an interrupt that is no approval is left
    waiting (the thread keeps it; ``chat --thread ID`` asks it again).
    """

    approver: TerminalApprover | None = None

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        if self.approver is None or not self.approver.can_ask():
            return refuse(call)
        self.asking(call)
        if review is not None and review.description:
            self.note(review.description)
        return await self.approver(call, review)

    async def answer(self, question: Question) -> Reply | None:
        from chatcli.core.interrupts import typed_answer

        shown = question_text(question)
        if self.approver is None or not self.approver.can_ask():
            self.note(f"the graph asks:\n{shown}")  # nobody to answer here: the thread waits at it
            return None
        self.show_question(shown)
        text = await self.approver.answer(shown)
        if text is None:
            self.warn("not answered: the thread waits at the question (resuming the thread asks it again)")
            return None
        return Reply(typed_answer(text))

    async def elicit(self, question: Elicitation) -> Elicited | None:
        if self.approver is None or not self.approver.can_ask():
            from chatcli.ui.asking import shown

            answer = declined(question)
            self.warn("\n".join(shown(question)) + f"\n  {answer.why}")
            return answer
        return await self.approver.elicit(question)

    def error(self, text: str) -> None:
        """A failure that does not end the session, in one line."""
        raise NotImplementedError

    def asking(self, call: ToolCall) -> None:
        """The user is about to be asked about ``call``: show it."""
        from chatcli.ui.toolblocks import call_block

        self.note(call_block(call))

    def show_question(self, markdown: str) -> None:
        """An interrupt's question, before it is answered."""
        self.note(markdown)
