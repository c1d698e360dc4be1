"""A thread on a LangGraph Agent Server (``chat --remote URL``): its new id, and how a turn there is heard (its
start told once the server has taken the run). The server's threads as chat lists them: chatcli.threads.remote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatcli.core.elicitation import Elicitation, Elicited
from chatcli.core.events import End, Listener, Question, Reply, Review, Start, ToolCall


def new_thread_id() -> str:
    """An id for a new thread: the server takes UUIDs only."""
    import uuid

    return str(uuid.uuid4())


@dataclass(eq=False)
class StartWhenTaken:
    """Passes a turn's events on to ``listener``, its ``Start`` once the server has taken the run (anything else
    told, or asked): a run the server refuses (no such assistant) names no thread that was never made."""

    listener: Listener
    held: Start | None = None

    def hear(self, event: Any) -> None:
        if isinstance(event, Start):
            self.held = event
            return
        if isinstance(event, End) and self.held is not None:
            return  # the run never began: nothing to end
        self.taken()
        self.listener.hear(event)

    def taken(self) -> None:
        """The server took the run (it said so, or told something of it): the turn's Start is told."""
        if self.held is not None:
            self.listener.hear(self.held)
            self.held = None

    async def approve(self, call: ToolCall, review: Review | None = None) -> Any:
        self.taken()
        return await self.listener.approve(call, review)

    async def answer(self, question: Question) -> Reply | None:
        self.taken()
        return await self.listener.answer(question)

    async def elicit(self, question: Elicitation) -> Elicited | None:
        self.taken()
        return await self.listener.elicit(question)
