"""A thread of a graph that is not chat's own (``chat --graph``; a deployed graph): each line a human message on its
``messages`` key, the answer streamed from its nodes, its interrupts asked; undo, retry and fork through its
checkpoints, as for chat's own.

What belongs to chat's own graph only (the system prompt, variables, roles, the model and temperature kept
with a thread) means nothing to another graph: it is not sent, and asking to change it is one line.
Changes chat makes to such a thread's state go through LangGraph's own entry node (``START``), then clear
what that would run (``END``): they need nothing of the graph's nodes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from chatcli.chat.conversation import NO_VALUE, Abilities, Conversation
from chatcli.chat.events import Start, TurnResult
from chatcli.chat.graphs.messages import as_message
from chatcli.chat.graphs.turns import GraphSource
from chatcli.chat.recall import Undone
from chatcli.chat.rewind import write_values
from chatcli.chat.turn import Approvals, Turns
from chatcli.errors import AlreadyDone, ChatError, UsageError

# A retry looks this far back (in checkpoints) for where its question began to be answered.
LOOKBACK = 100
NOT_HERE = "the graph builds its own prompt and chooses its own model"


def graph_failure(exc: Exception) -> Exception:
    """What a failure inside the graph is said as: a model client's error as chat says its own, chat's own as
    it is, anything else raised by the graph's code as one line naming the node it failed in."""
    import re

    from chatcli.providers.registry import raised_by_a_client

    if isinstance(exc, ChatError) or raised_by_a_client(exc):  # a model client's: said by its provider (failures)
        return exc
    notes = " ".join(getattr(exc, "__notes__", None) or ())
    node = re.search(r"During task with name '([^']+)'", notes)
    where = f" in node {node.group(1)}" if node else ""
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return ChatError(f"the graph failed{where}: {detail}", hint="--debug shows where")


@dataclass
class GraphConversation(Conversation):
    """A thread of the graph ``app`` (not chat's own); ``approve_all``: --yes, every approval it asks is given."""

    approve_all: bool = False
    own_model: ClassVar[bool] = False  # the graph's models are built by its own code, not from chat's settings
    can: ClassVar[Abilities] = Abilities(prompt=False, hint=NOT_HERE)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.turns = Turns(GraphSource(self.app), Approvals(None, self.approve_all))

    @property
    def config(self) -> dict[str, Any]:
        return {"configurable": {"thread_id": self.thread_id}}

    def threads(self) -> Any:
        """The thread manager on this conversation's database (a fork keeps the messages only)."""
        from chatcli.chat.threads import Threads

        if self.store is None:
            raise RuntimeError("this conversation has no store")
        return Threads(self.app, self.store, foreign=True)

    async def messages(self) -> list[Any]:
        """The thread's whole history, as LangChain's messages (a deployed graph's state holds plain dicts)."""
        return [as_message(m) for m in await super().messages()]

    # ---- turns

    async def _send(self, message: Any, clear: bool = False, title: str = "") -> TurnResult:
        """Stream one turn with ``message`` as the graph's input (calls a crash or an unanswered question
        left without results closed first: no request may carry a call without its result)."""
        from chatcli.chat.toolcalls import INTERRUPTED, closing_results, open_calls

        history = await self.messages()
        closing = closing_results(open_calls(history), INTERRUPTED, "interrupted")
        if not history and self.store is not None:  # indexed now: a thread killed mid-turn is still found by its id
            await self._index(title, 1)
        if clear:
            self.attached = []
        return await self._run({"messages": [*closing, message]}, self.config, created=not history)

    async def _run(
        self, payload: Any, start: dict[str, Any], created: bool = False, ask_first: bool = False
    ) -> TurnResult:
        opening = Start(self.thread_id, created)
        try:
            return await self.turns.run(payload, start, self.config, self.listener, opening, ask_first=ask_first)
        except Exception as exc:
            failure = graph_failure(exc)
            if failure is exc:
                raise  # as it was: a model client's error keeps its own cause, which its provider reads
            raise failure from exc

    async def waiting(self) -> list[Any]:
        """The interrupts the thread waits on (chatcli.chat.interrupts.Pending): asked before chat stopped."""
        return await self.turns.pending(self.config)

    async def resume(self, value: Any = NO_VALUE) -> TurnResult:
        """Go on from the interrupts the thread waits on: with ``value`` (``Command(resume=value)``), or with the
        answers the listener gives when they are asked again; AlreadyDone if none waits any more."""
        async with self.lock():
            if not await self.waiting():
                raise AlreadyDone(f"thread {self.thread_id} waits on no question", hint="send it a message instead")
            asked = [m for m in await self.messages() if m.type == "human"]
            try:
                if value is NO_VALUE:
                    return await self._run(None, self.config, ask_first=True)
                return await self._run(self.turns.resumed(value), self.config)
            finally:
                if asked:
                    await asyncio.shield(self._record(asked[-1].text))

    async def retry(self) -> TurnResult:
        """Answer the last human message again: the graph runs from the checkpoint where it began to answer it
        (the old answer stays in the checkpoint history); stopped or failed, what arrived is kept."""
        async with self.lock():
            head = await self.app.aget_state(self.config)
            asked = [m for m in head.values.get("messages", []) if m.type == "human"]
            if not asked:
                raise UsageError("nothing to retry: this thread has no message yet")
            start = await self._retry_point(head, asked[-1])
            try:
                return await self._run(None, start)
            finally:
                await asyncio.shield(self._record(asked[-1].text))

    async def _retry_point(self, head: Any, question: Any) -> dict[str, Any]:
        """The earliest checkpoint of the last turn where ``question`` is the last message and a node is next; a
        thread with none (forked, imported) has its head rewound to the question instead."""
        from langchain_core.messages import RemoveMessage
        from langgraph.graph import START

        found = None
        async for snapshot in self.app.aget_state_history(self.config, limit=LOOKBACK):
            messages = snapshot.values.get("messages") or []
            if snapshot.next and messages and messages[-1].id == question.id:
                found = snapshot
            elif found is not None:
                break
        if found is not None:
            return found.config
        messages = head.values["messages"]
        after = messages[next(i for i, m in enumerate(messages) if m.id == question.id) + 1 :]
        return await self.app.aupdate_state(
            head.config, {"messages": [RemoveMessage(id=m.id) for m in after]}, as_node=START
        )

    async def undo(self) -> Undone | None:
        """Take back the last exchange (the last human message and all after it); None when there is none."""
        from langchain_core.messages import RemoveMessage

        async with self.lock():
            history = await self.messages()
            asked = [i for i, m in enumerate(history) if m.type == "human"]
            if not asked:
                return None
            removed = history[asked[-1] :]
            await write_values(self.app, self.config, {"messages": [RemoveMessage(id=m.id) for m in removed]})
            if self.store is not None:
                await self.store.index.set_count(self.thread_id, asked[-1])
        return Undone(str(removed[0].text), len(removed))
