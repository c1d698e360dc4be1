"""A thread on a LangGraph Agent Server, used as chat uses its own conversations: one-shots, the prompt, --json.

``RemoteConversation`` answers what the prompt and ``ask`` use of chatcli.chat.conversation.Conversation
(``send``, ``resume``, ``recall``, ``threads``, ``switch``, ``turns.last``); the server keeps the
thread, its checkpoints and its runs. The thread is created on the server by its first question.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Mapping

from chatcli.chat.events import End, Listener, Silent, Start, TurnResult
from chatcli.chat.inputs import check_question
from chatcli.chat.recall import Recall
from chatcli.chat.remote import MissingAssistant, Remote, translated
from chatcli.chat.remote_run import RemoteRun, Streamed
from chatcli.errors import AlreadyDone, UsageError
from chatcli.store import ThreadInfo


@dataclass
class LastTurn:
    """Where the prompt finds the latest turn's result (as on chatcli.chat.turn.TurnRunner)."""

    last: TurnResult | None = None


class RemoteThreads:
    """The server's threads, as the prompt's thread commands and Tab completion read them."""

    def __init__(self, remote: Remote):
        self.remote = remote

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
        from chatcli.chat.threads import Transcript

        info = await self.remote.thread(thread_id)
        return Transcript(info, await self.remote.messages(thread_id), None, {})


@dataclass
class RemoteConversation:
    """A thread of ``remote``'s assistant (None until the first question creates it), told to ``listener``."""

    remote: Remote
    thread_id: str | None = None
    listener: Listener = field(default_factory=Silent)
    attached: list[Any] = field(default_factory=list)
    toolbox: Any = None  # the server's graph has its own tools
    turns: LastTurn = field(default_factory=LastTurn)
    always: set[str] = field(default_factory=set)  # tools "always" was chosen for, this session
    # Slash commands that work on a server's thread; the others say they do not.
    COMMANDS = frozenset({"/help", "/exit", "/edit", "/threads", "/switch", "/history", "/copy", "/usage", "/retry"})

    @property
    def model_name(self) -> str:
        return self.remote.graph_id

    @property
    def recall(self) -> Recall:
        return Recall(self.messages)

    def threads(self) -> RemoteThreads:
        return RemoteThreads(self.remote)

    async def messages(self) -> list[Any]:
        return await self.remote.messages(self.thread_id) if self.thread_id else []

    async def switch(self, thread_id: str | None) -> None:
        """Go on with ``thread_id`` (None: a new thread, made by the next question)."""
        self.thread_id = thread_id

    async def send(self, text: str, attachments: list[Any] | None = None, mentions: str = "") -> TurnResult:
        """Send one question as a human message on the graph's ``messages`` and stream the run to the listener."""
        if attachments or self.attached:
            raise UsageError("files cannot be sent to a LangGraph server", hint="paste the text into the message")
        check_question(text)
        request: dict[str, Any] = {"input": {"messages": [{"role": "user", "content": text}]}}
        created = self.thread_id is None
        if created:  # the run makes the thread (no request of its own; none is left behind if the run is refused)
            import uuid

            self.thread_id, request["if_not_exists"] = str(uuid.uuid4()), "create"
        try:
            return await self._turn(request, created)
        except MissingAssistant:
            self.thread_id = None if created else self.thread_id
            raise

    async def pending(self) -> list[Mapping[str, Any]]:
        """The interrupts the thread waits at (asked before chat stopped, or by another client)."""
        if not self.thread_id:
            return []
        found = (await self.remote.state(self.thread_id)).get("interrupts")
        return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []

    async def resume(self) -> TurnResult:
        """Answer the interrupts the thread waits at, then let the run go on to its end."""
        waiting = await self.pending()
        if not waiting:
            raise AlreadyDone(f"thread {self.thread_id}: nothing waits for an answer any more")
        return await self._turn(None, interrupts=waiting)

    async def retry(self) -> TurnResult:
        """Answer the last question again, in place of its answer: the run starts again from the checkpoint
        where the question waited for it (the old answer stays in the thread's history)."""
        if self.thread_id:
            with translated(self.remote.spec):
                history = await self.remote.client.threads.get_history(self.thread_id, limit=100)
            for state in history:  # newest first
                values = state.get("values") if isinstance(state.get("values"), dict) else {}
                messages = values.get("messages") if isinstance(values.get("messages"), list) else []
                if messages and messages[-1].get("type") == "human" and state.get("next"):
                    return await self._turn({"input": None, "checkpoint_id": state["checkpoint"]["checkpoint_id"]})
        raise UsageError("nothing to retry: this thread has no question waiting for an answer")

    async def _turn(
        self, request: dict[str, Any] | None, created: bool = False, interrupts: list[Mapping[str, Any]] | None = None
    ) -> TurnResult:
        """Runs until the graph ends or waits: each interrupt is asked of the listener, and the run resumed."""
        from chatcli.chat.remote_answers import answer_interrupts

        assert self.thread_id is not None
        streamed = Streamed(TurnResult(text=""), opening=Start(self.thread_id, created))
        result = self.turns.last = streamed.result
        if request is None:
            streamed.open(self.listener)  # answers first: the turn is on
        try:
            while True:
                if request is not None:
                    interrupts = await RemoteRun(self.remote, self.thread_id, self.listener, streamed).stream(**request)
                if not interrupts:
                    break
                answer = await answer_interrupts(interrupts, self.listener, self.always)
                if answer is None:  # nobody to ask: the thread waits at the question (asked again on resume)
                    break
                request, interrupts = {"command": {"resume": answer}}, None
        except BaseException as exc:
            result.text, result.reasoning = "".join(streamed.parts), "".join(streamed.reasoning)
            result.interrupted = "cancelled" if isinstance(exc, asyncio.CancelledError) else "error"
            if isinstance(exc, Exception | asyncio.CancelledError) and streamed.opening is None:
                self.listener.hear(End(result))  # the turn had begun: what arrived is kept
            raise
        result.text, result.reasoning = "".join(streamed.parts), "".join(streamed.reasoning)
        streamed.open(self.listener)  # a run that told nothing (a server that sends no metadata)
        if result.finish_reason in ("length", "content_filter"):
            result.interrupted = result.finish_reason
        self.listener.hear(End(result))
        return result
