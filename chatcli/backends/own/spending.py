"""Spending limits, kept before the money is spent: each model call's most is held in the store's ledger first.

Every model call a run makes (a turn's, a tool round's, a summary's or a compaction's, and a graph app's own calls
through LangChain's chat models) goes through a ``Meter`` (chatcli.backends.own.meter), a LangChain callback handler
put in the run's config:

- **Before** the request is sent, its most is estimated: its tokens at the model's input price plus the most its
  answer may cost at the output price: the request's own ``max_tokens`` (chat's, or the one a graph's model sends),
  else the model's output limit (its LangChain profile's), else the rest of its window. The call is refused, in one
  line naming the limit, what was spent and what the call could cost, if it could pass the answer's limit (this
  question's calls so far), the thread's or the day's: the ledger's sums, in the store, where a question's calls are
  counted from its start whichever process goes on with it (two processes cannot both pass one). A graph's call whose
  most is unknown is refused saying so. Chat's own calls without ``max_tokens`` hold what the limits leave (at most
  their most, at least a short answer's): they are stopped as they stream.
- **While it streams**, what arrived is counted (about four characters a token, at the output price); an answer
  whose running cost would pass the room left under a limit is stopped there, and what was shown is kept, marked
  incomplete, as a failed answer's is.
- **After**, its cost (from the usage the server reports, else what was counted) takes the place of its most.

A model without a known price is allowed (said once a thread) or refused, as ``unpriced`` says; refused when an
untrusted .env chose it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable, NamedTuple

from chatcli.backends.own.pricing import dollars
from chatcli.errors import ChatError, ExitStatus
from chatcli.store.base import QUESTION

if TYPE_CHECKING:
    from chatcli.backends.own.pricing import Pricer
    from chatcli.config import Settings
    from chatcli.store.index import ThreadIndex

LIMITS = ("max_cost_day", "max_cost_thread", "max_cost_answer")  # (as they are shown: the day's first)
KEPT = ("max_cost_thread", "max_cost_day", "max_cost_answer")  # (as the ledger sums them: chatcli.store.base.Spent)
SHORT = 1024  # a short answer's tokens: the least a call chat stops as it streams holds of the limits
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
    one = ", or --max-cost for one question" if limit == "max_cost_answer" else ""
    return f"raise it in config.toml or CHATCLI_{limit.upper()}{one}"


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
    """The limits of one process's calls, kept in the ledger (a question's calls there since its start, so that another
    process goes on counting them), with the unpriced models said (once a thread)."""

    settings: Settings
    pricer: Pricer
    ledger: ThreadIndex
    warned: set[tuple[str, str]] = field(default_factory=set)

    @property
    def limited(self) -> bool:
        return any(getattr(self.settings, name) is not None for name in LIMITS)

    async def new_question(self, thread_id: str) -> None:
        """A question starts in the thread: its answer's limit counts its calls from now (QUESTION)."""
        await self.ledger.hold(QUESTION + thread_id, 0.0, (), time.time())

    def price(self, model: str, tokens_in: int, tokens_out: int) -> float | None:
        """What ``tokens_in`` sent to ``model`` and ``tokens_out`` back cost (None: no known price)."""
        usage = {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
        return self.pricer.cost(usage, model)

    async def before(
        self,
        thread_id: str,
        model: str,
        tokens_in: int,
        out_limit: int | None,
        say: Callable[[str], None] | None = None,
        what: str = "the next model call",
        watched: bool = False,
    ) -> Hold:
        """Hold a call's most, its answer at most ``out_limit`` tokens (None: unknown), or raise ``LimitReached``
        (saying it of ``what``). A call stopped as it streams where it would pass a limit (``watched``: chat's own,
        its request without max_tokens) holds what the limits leave, at most its answer's most, at least SHORT's."""
        if not self.limited:
            return NOT_HELD
        most = self.price(model, tokens_in, out_limit or SHORT)
        if most is None:  # (the endpoint's own word where it is local: a hosted price says nothing of it)
            why = "runs at a local endpoint, where no hosted price applies" if self.pricer.local(model) else ""
            why = why or "has no known price"
            untrusted = model == self.settings.untrusted_model
            if self.settings.unpriced == "refuse" or untrusted:
                raise LimitReached(
                    f"not asked: {model} {why}, and a spending limit is set"
                    + ("; the untrusted .env here chose it" if untrusted else ""),
                    "unpriced",
                    hint="give it one in config.toml's [prices], "
                    + ("or trust the .env: chat trust" if untrusted else 'or unpriced = "allow"'),
                )
            if (thread_id, model) not in self.warned and say is not None:
                self.warned.add((thread_id, model))
                say(f"{model} {why}: its calls are not counted against the spending limits")
            return NOT_HELD
        caps, start = tuple(getattr(self.settings, name) for name in KEPT), day_start()
        if watched:
            left = min(c - s for c, s in zip(caps, await self.ledger.spent(thread_id, start)) if c is not None)
            most = min(most, max(left, self.price(model, tokens_in, SHORT) or 0.0))
        elif out_limit is None:
            limit = next(name for name in LIMITS if getattr(self.settings, name) is not None)
            raise LimitReached(
                f"not asked: the most {what} could cost is not known while a limit is set ({limit}): its request "
                f"sets no max_tokens, and {model} has no known output limit",
                limit,
                hint="give it a max_tokens where the graph makes the model",
            )
        held = await self.ledger.hold(thread_id, most, caps, start)
        rooms = {name: (c, s) for name, c, s in zip(KEPT, caps, held.spent) if c is not None}
        tightest = min(rooms, key=lambda name: rooms[name][0] - rooms[name][1])
        cap, spent = rooms[tightest]
        if held.row is None:
            bound = "" if self.settings.max_tokens else " (max_tokens bounds an answer's most)"
            raise LimitReached(
                f"not asked: {what} could cost up to {dollars(most)}{bound}, and {WHAT[tightest]} has spent "
                f"{dollars(spent)} of its {dollars(cap)} limit ({tightest})",
                tightest,
                hint=raise_hint(tightest),
            )
        return Hold(held.row, most, cap - spent, tightest)

    async def after(self, held: Hold, usd: float | None) -> None:
        """The call's cost in its most's place (None: unknown, its most stays counted)."""
        if usd is not None and held.row is not None:
            await self.ledger.settle(held.row, usd)
