"""Tool calls that run on while their server's question waits for the user (an MCP elicitation).

A question stops the graph's run (a LangGraph interrupt: chatcli.backends.own.toolcalls); the call itself
is kept running here, its server waiting for the answer, so that when the graph runs again with
the answer, the same call gets it and goes on: a call is never run twice for a question. A call
whose answer does not come within ``WAIT`` seconds is cancelled (at its server too), as is every
kept call when the toolbox closes (chat exits); the graph, run again later with the answer, starts
that call anew and gives the answer again when its server asks again.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

WAIT = 600.0  # seconds a call is kept waiting for its answer before it is cancelled
Ask = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]  # a server's question (JSON) -> the answer (JSON)
MAX_QUESTIONS = 10  # questions one call may ask: a call that asks more is stopped (chatcli.backends.own.toolrun)
# A server's request to use the model (MCP's sampling/createMessage) travels where its questions do, as
# ``{SAMPLING: params}``, and is answered ``{"result": ...}`` or ``{"error": why}`` (chatcli.backends.own.sampling).
SAMPLING = "sampling"


def _nowhere(_event: Any) -> None:
    pass


class KeptCall:
    """One call and what its server asked: ``questions`` in order, the ``answers`` given so far; ``tell``
    is where its events go (the graph run that waits on it now: nowhere between runs)."""

    def __init__(self, work: Callable[[Ask, Callable[[Any], None]], Awaitable[Any]]):
        self.questions: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.tell: Callable[[Any], None] = _nowhere
        self._answer: asyncio.Future[dict[str, Any]] | None = None
        self._changed = asyncio.Event()
        self._clock: asyncio.TimerHandle | None = None
        self.task = asyncio.ensure_future(work(self._ask, lambda event: self.tell(event)))
        self.task.add_done_callback(lambda _task: self._changed.set())

    async def _ask(self, params: dict[str, Any]) -> dict[str, Any]:
        """The server asks (heard in its session's task): wait for the answer the graph gives."""
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.questions.append(params)
        self._answer = answer
        self._changed.set()
        return await answer

    async def question(self, number: int) -> dict[str, Any] | None:
        """The ``number``th question (from 0) once the server asks it; None if the call ends first."""
        while len(self.questions) <= number and not self.task.done():
            self._changed.clear()
            await self._changed.wait()
        return self.questions[number] if len(self.questions) > number else None

    def give(self, number: int, answer: dict[str, Any]) -> None:
        """Answer the ``number``th question (nothing if it was answered in an earlier run of the step)."""
        if number < len(self.answers) or self._answer is None or self._answer.done():
            return
        self.back()
        self.answers.append(answer)
        self._answer.set_result(answer)

    def left_waiting(self, seconds: float, gone: Callable[[], object]) -> None:
        """The graph's run ended at a question: nobody hears this call until it runs again; cancelled (and
        ``gone()``) if no answer comes within ``seconds``."""
        self.tell = _nowhere
        self.back()

        def expired() -> None:
            self.task.cancel()
            gone()

        self._clock = asyncio.get_running_loop().call_later(seconds, expired)

    def back(self) -> None:
        """The graph runs again on this call (or it is answered, or cancelled): it is no longer left waiting."""
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    def cancel(self) -> None:
        self.back()
        self.task.cancel()


class KeptCalls:
    """The calls kept waiting for an answer, by thread and call id (``key``); the toolbox's own."""

    def __init__(self, wait: float = WAIT):
        self.wait = wait
        self.calls: dict[str, KeptCall] = {}

    def take(self, key: str, work: Callable[[Ask, Callable[[Any], None]], Awaitable[Any]]) -> tuple[KeptCall, bool]:
        """The call kept under ``key`` (and False), or ``work`` started now and kept (and True)."""
        kept = self.calls.get(key)
        if kept is not None and not kept.task.cancelled():
            kept.back()
            return kept, False
        kept = self.calls[key] = KeptCall(work)
        return kept, True

    def waiting(self, key: str) -> None:
        """The call ``key`` waits for its answer: kept ``wait`` seconds at most."""
        if (kept := self.calls.get(key)) is not None:
            kept.left_waiting(self.wait, lambda: self.calls.pop(key, None))  # then no longer kept

    def drop(self, key: str) -> None:
        """The call ``key`` ended, or its step stopped (Ctrl-C): forgotten, cancelled if it still runs."""
        if (kept := self.calls.pop(key, None)) is not None and not kept.task.done():
            kept.cancel()

    async def aclose(self) -> None:
        """Cancel every kept call (at its server too), and wait for them to end."""
        kept = list(self.calls.values())
        self.calls.clear()
        for call in kept:
            call.cancel()
        await asyncio.gather(*(call.task for call in kept), return_exceptions=True)
