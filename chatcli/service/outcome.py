"""How a turn ended, said as chat says it everywhere: a failure translated to its one line, an answer that
streamed to its end but is not whole (cut, filtered, empty) raised as the model error it is, a request to answer a
thread that waits on nothing refused as done already; what a turn cost, in words."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, ParamSpec, Protocol

from chatcli.core.events import TurnResult
from chatcli.errors import AlreadyDone, ModelError

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from chatcli.core.interrupts import Pending

P = ParamSpec("P")

# A reply that streamed to its end but is not a whole answer (see chatcli.core.turn.incomplete_reason):
# the one line shown for it, and the hint.
KEPT = "the part shown is kept in the thread, marked as incomplete"
INCOMPLETE = {
    "truncated": ("the answer ended early: the server sent no finish reason", KEPT),
    "length": ("the answer was cut off at the model's output limit", f"{KEPT}; ask it to continue"),
    "content_filter": ("the server's content filter stopped the answer", KEPT),
    "empty": (
        "the model sent an empty answer",
        "your message is kept in the thread; ask again, or try another --model",
    ),
}


def outcome(turn: Callable[P, Awaitable[TurnResult]]) -> Callable[P, Awaitable[TurnResult]]:
    """A ``Thread`` method that runs a turn, returning its outcome as chat says it at every door: a failure
    translated to the ChatError it means (a model's, the store's, a local server that stopped), and an answer that
    is not whole (cut, filtered, empty) raised as the ModelError it is, but for the ends in the thread's ``whole``
    (which its door says its own way: an editor's stop reasons). In every case the partial answer is saved and was
    heard already. Cancelling it raises CancelledError, as ever."""

    @functools.wraps(turn)
    async def said(*args: P.args, **kwargs: P.kwargs) -> TurnResult:
        thread: Any = args[0]
        before = thread.turns.last
        try:
            result = await turn(*args, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            from chatcli.backends.own.failures import translate

            last = thread.turns.last  # this turn's, partial, if it got as far as the model
            mid_answer = last is not before and last is not None and bool(last.text)
            own = thread.can.prompt
            error = translate(exc, thread.settings, mid_answer, thread.model_name if own else None, own)
            if error is exc:
                raise
            raise error from exc
        if result.interrupted in INCOMPLETE and result.interrupted not in thread.whole:
            message, hint = INCOMPLETE[result.interrupted]
            raise ModelError(message, hint=hint)
        return result

    return said


def cost_part(result: TurnResult) -> str | None:
    """ "$0.0012", or "price unknown (MODEL)" when a call's model has no price ("not priced: local (MODEL)"
    for a local one); None when nothing was priced."""
    from chatcli.backends.own.pricing import dollars

    if result.unpriced:
        local = list(dict.fromkeys(result.local))
        hosted = [name for name in dict.fromkeys(result.unpriced) if name not in local]
        said = [f"price unknown ({', '.join(hosted)})"] if hosted else []
        return " · ".join(said + ([f"not priced: local ({', '.join(local)})"] if local else []))
    return dollars(result.cost_usd) if result.cost_usd is not None else None


class Waits(Protocol):
    """A thread, as ``waits_on`` reads it (chatcli.service.thread.Thread)."""

    thread_id: str

    async def waiting(self, state: Any = None) -> list[Pending]: ...

    async def keep_inbox(self, state: Any = None) -> None: ...

    async def messages(self, state: Any = None) -> list[BaseMessage]: ...


async def waits_on(thread: Waits, answered: Iterable[str] = (), state: Any = None) -> list[Pending]:
    """What ``thread`` waits on for the user now (in ``state``, when read already). Nothing: its row leaves the
    inbox, and the request that would answer it is refused as done already (AlreadyDone: serve's 409), naming the
    calls ``answered`` names (their ids) when every one of them has run."""
    if waiting := await thread.waiting(state):
        return waiting
    await thread.keep_inbox(state)  # a row left from before (undone, answered where no turn ended) goes
    results = [m for m in await thread.messages(state) if m.type == "tool"]
    ran = {getattr(m, "tool_call_id", ""): getattr(m, "status", "") for m in results}
    calls = list(answered)
    if calls and all(call_id in ran for call_id in calls):
        taken = ", ".join(f"{call_id}: {ran[call_id]}" for call_id in calls)
        raise AlreadyDone(
            f"thread {thread.thread_id} waits on nothing: these calls were answered already ({taken})",
            hint="nothing was run again",
        )
    raise AlreadyDone(f"thread {thread.thread_id} waits on nothing: answered already")
