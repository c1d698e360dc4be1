"""Spending limits, kept before the money is spent: each model call's most is held in the store's ledger first.

Every model call a run makes (a turn's, a tool round's, a summary's or a compaction's, and a graph app's own calls
through LangChain's chat models) goes through a ``Meter``, a LangChain callback handler put in the run's config:

- **Before** the request is sent, its most is estimated: its tokens at the model's input price plus the most its
  answer may cost at the output price (``max_tokens``, else the model's own output limit, else the rest of its
  window). The call is refused, in one line naming the limit, what was spent and what the call could cost, if it
  could pass the answer's limit (this question's calls so far, in this process), the thread's or the day's (the
  ledger's sums, in the store: two processes cannot both pass one).
- **While it streams**, what arrived is counted (about four characters a token, at the output price); an answer
  whose running cost would pass the room left under a limit is stopped there, and what was shown is kept, marked
  incomplete, as a failed answer's is.
- **After**, its cost (from the usage the server reports, else what was counted) takes the place of its most.

A model without a known price is allowed (said once) or refused, as ``unpriced`` says.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, NamedTuple
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler

from chatcli.backends.own.pricing import dollars
from chatcli.errors import ChatError, ExitStatus

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import LLMResult

    from chatcli.backends.own.pricing import Pricer
    from chatcli.config import Settings
    from chatcli.store.base import ThreadIndex

LIMITS = ("max_cost_answer", "max_cost_thread", "max_cost_day")
WHAT = {"max_cost_answer": "this question", "max_cost_thread": "this thread", "max_cost_day": "today"}
CHARS_PER_TOKEN = 4  # as langchain_core's approximate counter: what streamed is counted before the server says
EPSILON = 1e-8  # dollars: sums of floats that equal a limit do not pass it


class LimitReached(ChatError):
    """A model call refused before it was sent, or an answer stopped as it streamed: it could pass a spending limit
    (``limit``: the setting's name, or "unpriced")."""

    exit_status = ExitStatus.LIMIT

    def __init__(self, message: str, limit: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.limit = limit


def raise_hint(limit: str) -> str:
    """How to raise ``limit`` (a setting's name), as a refusal and /usage say it."""
    return f"raise it in config.toml or CHATCLI_{limit.upper()}" + (
        ", or --max-cost for one question" if limit == "max_cost_answer" else ""
    )


def day_start(now: float | None = None) -> float:
    """The start of the local day ``now`` is in (seconds since the epoch)."""
    moment = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class Hold(NamedTuple):
    """One call's place in the limits: its ledger row (None: not in the ledger), the most held for it, and the room
    the tightest limit left before it (None: no limit counts it) with that limit's name."""

    row: int | None
    most: float
    room: float | None = None
    tightest: str = ""


NOT_HELD = Hold(None, 0.0)


@dataclass
class Guard:
    """The limits of one process's calls: what each thread's question has spent so far, and the ledger for the
    rest."""

    settings: Settings
    pricer: Pricer
    ledger: ThreadIndex | None
    # Each thread's question's calls so far (their costs, or their most while one runs): a served graph answers
    # several threads at once.
    answers: dict[str, float] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)  # the unpriced models said once

    @property
    def limited(self) -> bool:
        return any(getattr(self.settings, name) is not None for name in LIMITS)

    def new_question(self, thread_id: str) -> None:
        self.answers.pop(thread_id, None)

    def price(self, model: str, tokens_in: int, tokens_out: int) -> float | None:
        """What ``tokens_in`` sent to ``model`` and ``tokens_out`` back cost (None: no known price)."""
        usage = {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
        return self.pricer.cost(usage, model)

    def most(self, model: str, tokens_in: int, out_limit: int | None) -> float | None:
        """The most a call to ``model`` with ``tokens_in`` tokens may cost: its answer at most ``max_tokens``, else
        ``out_limit`` (the model's own, or the rest of its window; None: unknown, and the stream is watched)."""
        return self.price(model, tokens_in, self.settings.max_tokens or out_limit or 0)

    async def before(
        self,
        thread_id: str,
        model: str,
        tokens_in: int,
        out_limit: int | None,
        say: Callable[[str], None] | None = None,
        what: str = "the next model call",
    ) -> Hold:
        """Hold a call's most, or raise ``LimitReached`` (saying it of ``what``)."""
        if not self.limited:
            return NOT_HELD
        most = self.most(model, tokens_in, out_limit)
        if most is None:
            if self.settings.unpriced == "refuse":
                raise LimitReached(
                    f"not asked: {model} has no known price, and a spending limit is set",
                    "unpriced",
                    hint='give it one in config.toml\'s [prices], or unpriced = "allow"',
                )
            if model not in self.warned and say is not None:
                self.warned.add(model)
                say(f"{model} has no known price: its calls are not counted against the spending limits")
            return NOT_HELD
        rooms: dict[str, float] = {}
        cap, answer = self.settings.max_cost_answer, self.answers.get(thread_id, 0.0)
        if cap is not None:
            rooms["max_cost_answer"] = cap - answer
            if answer + most > cap + EPSILON:
                raise self._refused(what, "max_cost_answer", answer, most, cap)
        row: int | None = None
        if self.ledger is not None:  # (every call held while any limit is set: chat stats shows the day's)
            thread_cap, day_cap = self.settings.max_cost_thread, self.settings.max_cost_day
            held = await self.ledger.hold(thread_id, most, thread_cap, day_cap, day_start())
            for limit, limit_cap, spent in (
                ("max_cost_thread", thread_cap, held.spent.thread),
                ("max_cost_day", day_cap, held.spent.day),
            ):
                if limit_cap is not None:
                    rooms[limit] = limit_cap - spent
                    if held.row is None and spent + most > limit_cap + EPSILON:
                        raise self._refused(what, limit, spent, most, limit_cap)
            row = held.row
        self.answers[thread_id] = answer + most
        tightest = min(rooms, key=rooms.__getitem__, default="")
        return Hold(row, most, rooms.get(tightest), tightest)

    async def after(self, thread_id: str, held: Hold, usd: float | None) -> None:
        """The call's cost in its most's place (None: unknown, its most stays counted)."""
        if usd is None or held is NOT_HELD:
            return
        self.answers[thread_id] = self.answers.get(thread_id, 0.0) + usd - held.most
        if held.row is not None and self.ledger is not None:
            await self.ledger.settle(held.row, usd)

    def meter(
        self,
        thread_id: str,
        say: Callable[[str], None] | None = None,
        model: str = "",
        out_limit: int | None = None,
        window: int | None = None,
    ) -> Meter:
        """The callback handler that keeps this guard's limits for the model calls of a run of ``thread_id``
        (``model``: the name the user gave the model, priced before the name its server answers to; ``out_limit``:
        the most tokens its answer may hold, where the model says; ``window``: its context window, where known)."""
        return Meter(self, thread_id, say, model, out_limit, window)

    def _refused(self, what: str, limit: str, spent: float, most: float, cap: float) -> LimitReached:
        bound = "" if self.settings.max_tokens else " (max_tokens bounds an answer's most)"
        return LimitReached(
            f"not asked: {what} could cost up to {dollars(most)}{bound}, and {WHAT[limit]} has spent "
            f"{dollars(spent)} of its {dollars(cap)} limit ({limit})",
            limit,
            hint=raise_hint(limit),
        )


@dataclass
class _Call:
    """A model call under way: what it is priced as, what it sent, what it holds, and what has arrived."""

    model: str
    tokens_in: int
    hold: Hold
    chars: int = 0  # of the answer, its thinking and its tool calls' arguments, as they streamed

    def tokens_out(self) -> int:
        return -(-self.chars // CHARS_PER_TOKEN)


class Meter(AsyncCallbackHandler):
    """A ``Guard`` at work on one run's model calls, as LangChain tells them: held before each is sent, watched
    while it streams, settled when it ends (see the module's docstring)."""

    raise_error = True  # a refusal raised here stops the call
    run_inline = False  # (an inline handler that raises leaves the handlers after it unawaited)

    def __init__(
        self,
        guard: Guard,
        thread_id: str,
        say: Callable[[str], None] | None,
        model: str,
        out_limit: int | None,
        window: int | None,
    ):
        self.guard, self.thread_id, self.say = guard, thread_id, say
        self.model, self.out_limit, self.window = model, out_limit, window
        self.calls: dict[UUID, _Call] = {}

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        from langchain_core.messages.utils import count_tokens_approximately

        from chatcli.backends.own.compaction import SUMMARY_TAG

        params = kwargs.get("invocation_params") or {}
        model = self.model or str(params.get("model") or params.get("model_name") or "")
        tools = params.get("tools") or []
        tokens_in = count_tokens_approximately(messages[0] if messages else [], tools=tools or None)
        asked = params.get("max_tokens") or params.get("max_completion_tokens")
        out_limit = asked if isinstance(asked, int) and asked > 0 else self.out_limit
        if out_limit is None and self.window:
            out_limit = max(self.window - tokens_in, 0)  # the rest of its window
        what = "the summary of the earlier turns" if SUMMARY_TAG in (tags or ()) else "the next model call"
        hold = await self.guard.before(self.thread_id, model, tokens_in, out_limit, self.say, what)
        self.calls[run_id] = _Call(model, tokens_in, hold)

    async def on_llm_new_token(self, token: Any, *, chunk: Any = None, run_id: UUID, **kwargs: Any) -> None:
        from chatcli.core.chunks import thinking_of

        call = self.calls.get(run_id)
        if call is None or call.hold.room is None:
            return
        message = getattr(chunk, "message", None)
        args = sum(len(str(part.get("args") or "")) for part in getattr(message, "tool_call_chunks", None) or ())
        call.chars += len(token if isinstance(token, str) else "") + len(thinking_of(message)) + args
        running = self.guard.price(call.model, call.tokens_in, call.tokens_out()) or 0.0
        if running > call.hold.room + EPSILON:
            limit = call.hold.tightest
            raise LimitReached(
                f"the answer was stopped at about {dollars(running)}: {WHAT[limit]} had {dollars(call.hold.room)} "
                f"left of its limit ({limit})",
                limit,
                hint="the part shown is kept in the thread, marked as incomplete; " + raise_hint(limit),
            )

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        call = self.calls.pop(run_id, None)
        if call is not None:
            usage = _usage(response)
            usd = self.guard.pricer.cost(usage, call.model) if usage else self._counted(call)
            await self.guard.after(self.thread_id, call.hold, usd)

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        call = self.calls.pop(run_id, None)
        if call is not None:  # what arrived was paid for; a call that failed before its answer began costs nothing
            await self.guard.after(self.thread_id, call.hold, self._counted(call) if call.chars else 0.0)

    def _counted(self, call: _Call) -> float | None:
        return self.guard.price(call.model, call.tokens_in, call.tokens_out())


def _usage(response: LLMResult) -> Any:
    """The usage the server reported for a call's answer, if any."""
    for generations in response.generations:
        for generation in generations:
            usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
            if usage:
                return usage
    return None


class _Quiet(logging.Filter):
    """LangChain logs each error a callback raises as a warning: a refusal is said once, by chat, not also there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.args, tuple) and record.args[:1] == (Meter.__name__,))


logging.getLogger("langchain_core.callbacks.manager").addFilter(_Quiet())
