"""A LangGraph Agent Server's threads, as chat lists and opens them (``chat --remote URL``), and how a turn there
is heard: its start told once the server has taken the run."""

from __future__ import annotations

from typing import Any

from chatcli.backends.remote.client import Remote
from chatcli.errors import UsageError
from chatcli.service.elicitation import Elicitation, Elicited
from chatcli.service.events import End, Listener, Question, Reply, Review, Start, ToolCall
from chatcli.service.graph_app import GraphApp
from chatcli.store import ThreadInfo


def new_thread_id() -> str:
    """An id for a new thread: the server takes UUIDs only."""
    import uuid

    return str(uuid.uuid4())


class RemoteThreads:
    """The server's threads, as the prompt's thread commands and Tab completion read them."""

    def __init__(self, remote: Remote, app: GraphApp):
        self.remote, self.app = remote, app
        self.secrets: tuple[str, ...] = ()  # masked where shown (chatcli.threads.operations.Threads.secrets)

    async def list(self, limit: int | None = None) -> list[ThreadInfo]:
        return await self.remote.threads(limit)

    async def info(self, thread_id: str | None) -> ThreadInfo | None:
        if not thread_id:
            return None
        try:
            return await self.remote.thread(thread_id)
        except UsageError:
            return None

    async def find(self, wanted: str | None) -> str:
        if wanted is None:
            rows = await self.list(1)
            if not rows:
                raise UsageError(f"no threads on {self.remote.spec.url} yet")
            return rows[0].thread_id
        return (await self.remote.thread(wanted)).thread_id

    async def transcript(self, thread_id: str) -> Any:
        from chatcli.threads.operations import Transcript

        info = await self.remote.thread(thread_id)
        state = await self.app.aget_state({"configurable": {"thread_id": info.thread_id}})
        return Transcript(info, list(state.values.get("messages") or []), None, {})

    async def shown(self, thread_id: str) -> Any:
        from chatcli.threads.operations import masked_transcript

        return masked_transcript(await self.transcript(thread_id), self.secrets)

    async def export_json(self, thread_id: str) -> dict[str, Any]:
        """The thread as ``chat export --format json`` gives one of chat's own."""
        from chatcli.threads.operations import exported

        return exported(await self.shown(thread_id))

    async def delete(self, thread_id: str, on_wait: Any = None) -> None:
        """Delete the thread on the server, for good (its runs with it)."""
        from chatcli.backends.remote.client import translated

        found = await self.remote.thread(thread_id)
        with translated(self.remote.spec):
            await self.remote.client.threads.delete(found.thread_id)


class StartWhenTaken:
    """Passes a turn's events on to ``listener``, its ``Start`` once the server has taken the run (anything else
    told, or asked): a run the server refuses (no such assistant) names no thread that was never made."""

    def __init__(self, listener: Listener):
        self.listener: Listener = listener
        self.held: Start | None = None

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
