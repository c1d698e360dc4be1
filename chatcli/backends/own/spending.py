"""Spending limits, kept before the money is spent: each model call's most is held in the store's ledger first.

Before a call, its most is estimated: the request's tokens at the model's input price plus the most the answer may
cost at its output price (``max_tokens``, else the rest of the model's window). The call is refused, in one line
naming the limit, what was spent and what the call could cost, if it could pass the answer's limit (this question's
calls so far, in this process), the thread's or the day's (the ledger's sums, in the store: two processes cannot both
pass one). After the call, its cost takes the place of its most. A model without a known price is allowed (said
once) or refused, as ``unpriced`` says.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from chatcli.errors import ChatError, ExitStatus

if TYPE_CHECKING:
    from chatcli.backends.own.pricing import Pricer
    from chatcli.config import Settings
    from chatcli.store.base import ThreadIndex

LIMITS = ("max_cost_answer", "max_cost_thread", "max_cost_day")


class LimitReached(ChatError):
    """A model call refused before it was sent: it could pass a spending limit (``limit``: the setting's name)."""

    exit_status = ExitStatus.LIMIT

    def __init__(self, message: str, limit: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.limit = limit


def day_start(now: float | None = None) -> float:
    """The start of the local day ``now`` is in (seconds since the epoch)."""
    moment = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def dollars(usd: float) -> str:
    return f"${usd:,.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"


@dataclass
class Guard:
    """The limits of one process's calls: what this question has spent so far, and the ledger for the rest."""

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

    def most(self, model: str, tokens_in: int, window: int | None) -> float | None:
        """The most a call to ``model`` with ``tokens_in`` tokens may cost (None: no known price)."""
        out = self.settings.max_tokens or max((window or 0) - tokens_in, 0) or 0
        return self.pricer.cost(
            {"input_tokens": tokens_in, "output_tokens": out, "total_tokens": tokens_in + out}, model
        )

    async def before(
        self, thread_id: str, model: str, tokens_in: int, window: int | None, say: Callable[[str], None] | None = None
    ) -> tuple[int | None, float]:
        """Hold a call's most, or raise ``LimitReached``; (the ledger's row, the most held)."""
        if not self.limited:
            return None, 0.0
        most = self.most(model, tokens_in, window)
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
            return None, 0.0
        cap, answer = self.settings.max_cost_answer, self.answers.get(thread_id, 0.0)
        if cap is not None and answer + most > cap + 1e-8:
            raise self._refused("max_cost_answer", "this question", answer, most, cap)
        row: int | None = None
        if self.ledger is not None:
            thread_cap, day_cap = self.settings.max_cost_thread, self.settings.max_cost_day
            held = await self.ledger.hold(thread_id, most, thread_cap, day_cap, day_start())
            if held.row is None:
                spent = held.spent
                if thread_cap is not None and spent.thread + most > thread_cap + 1e-8:
                    raise self._refused("max_cost_thread", "this thread", spent.thread, most, thread_cap)
                raise self._refused("max_cost_day", "today", spent.day, most, day_cap or 0.0)
            row = held.row
        self.answers[thread_id] = answer + most
        return row, most

    async def after(self, thread_id: str, held: tuple[int | None, float], usd: float | None) -> None:
        """The call's cost in its most's place (None: unknown, its most stays counted)."""
        row, most = held
        if usd is None:
            return
        self.answers[thread_id] = self.answers.get(thread_id, 0.0) + usd - most
        if row is not None and self.ledger is not None:
            await self.ledger.settle(row, usd)

    def _refused(self, limit: str, what: str, spent: float, most: float, cap: float) -> LimitReached:
        bound = "" if self.settings.max_tokens else " (max_tokens bounds an answer's most)"
        return LimitReached(
            f"not asked: the next model call could cost up to {dollars(most)}{bound}, and {what} has spent "
            f"{dollars(spent)} of its {dollars(cap)} limit ({limit})",
            limit,
            hint=f"raise it in config.toml or CHATCLI_{limit.upper()}"
            + (", or --max-cost for one question" if limit == "max_cost_answer" else ""),
        )
