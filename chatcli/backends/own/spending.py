"""Spending limits, kept before the money is spent: each model call's most is held in the store's ledger first.

Every model call a run makes (a turn's, a tool round's, a summary's or a compaction's, and a graph app's own calls
through LangChain's chat models) goes through a ``Meter`` (chatcli.backends.own.meter), a LangChain callback handler
put in the run's config:

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

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable, NamedTuple

from chatcli.backends.own.pricing import dollars
from chatcli.errors import ChatError, ExitStatus
from chatcli.store.base import EPSILON

if TYPE_CHECKING:
    from chatcli.backends.own.pricing import Pricer
    from chatcli.config import Settings
    from chatcli.store.base import ThreadIndex

LIMITS = ("max_cost_day", "max_cost_thread", "max_cost_answer")  # (as they are shown: the day's first)
WHAT = {"max_cost_answer": "this question", "max_cost_thread": "this thread", "max_cost_day": "today"}
CHARS_PER_TOKEN = 4  # as langchain_core's approximate counter: what streamed is counted before the server says


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

    def _refused(self, what: str, limit: str, spent: float, most: float, cap: float) -> LimitReached:
        bound = "" if self.settings.max_tokens else " (max_tokens bounds an answer's most)"
        return LimitReached(
            f"not asked: {what} could cost up to {dollars(most)}{bound}, and {WHAT[limit]} has spent "
            f"{dollars(spent)} of its {dollars(cap)} limit ({limit})",
            limit,
            hint=raise_hint(limit),
        )
