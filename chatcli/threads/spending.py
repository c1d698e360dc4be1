"""What the threads' answers used and cost, totalled by day, model and thread (``chat stats``).

Read from what the threads hold, as ``/usage`` reads one thread: each answer's token counts (the
summaries made for it included) and the cost stored with it (chatcli.backends.own.pricing.COST_KEY), or, for
a graph's answer (kept without one), its counts priced now by the model it names. An answer whose price is
unknown is counted as unpriced: its dollars are
not made up; those of a local model (never priced from the hosted prices) are told apart. Days are local
dates. An answer taken back (/undo, /retry) or in a deleted thread is no longer counted; an answer without
counts (stopped before the server counted, or imported: an export keeps no counts) is not counted at all;
the answers a forked thread shares with its original are counted once, in the older thread.

``standing`` reads how the spending stands against the limits that are set (the day's, a thread's), from the
spending ledger the limits are kept with (chatcli.backends.own.spending), for ``chat stats`` and /usage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chatcli.backends.own.pricing import Pricer, answer_cost
from chatcli.backends.own.spending import LIMITS, day_start
from chatcli.core.chunks import add_usage, cache_counts
from chatcli.errors import UsageError
from chatcli.store.base import EPSILON
from chatcli.text import moment_of
from chatcli.threads.records import fields_of

# chatcli.backends.own.compaction.SUMMARY_USAGE, chatcli.backends.own.subagents.USAGE and
# chatcli.backends.graphs.turns.SUBGRAPH_USAGE (importing them would load LangGraph: chat stats starts light).
SUMMARY_USAGE, AGENT_USAGE, SUBGRAPH_USAGE = "chatcli_summary_usage", "chatcli_agent_usage", "chatcli_subgraph_usage"
UNKNOWN = "(unknown)"


@dataclass
class Tally:
    """Answers, their tokens and dollars; ``cost_usd`` sums the priced ones (None: none is), ``unpriced``
    counts the others, ``local`` those of them a local model gave (not in ``as_dict``: its unpriced answers)."""

    answers: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    unpriced: int = 0
    local: int = 0
    cache: tuple[int, int] = (0, 0)  # of the input tokens, those read from the prompt cache and written to it

    def add(self, input_tokens: int, output_tokens: int, cost: Any, counted: bool, local: bool, cache: Any) -> None:
        self.answers += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cache = (self.cache[0] + cache[0], self.cache[1] + cache[1])
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            self.cost_usd = round((self.cost_usd or 0.0) + cost, 10)
        elif counted:
            self.unpriced += 1
            self.local += local

    def as_dict(self) -> dict[str, Any]:
        tokens = {"answers": self.answers, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        cache = {"cache_read_tokens": self.cache[0], "cache_write_tokens": self.cache[1]}
        return {**tokens, "cost_usd": self.cost_usd, "unpriced_answers": self.unpriced, **cache}


@dataclass
class Spending:
    """The totals, and the same by local day, by model and by thread (with the threads' titles)."""

    since: datetime | None = None
    total: Tally = field(default_factory=Tally)
    by_day: dict[str, Tally] = field(default_factory=dict)
    by_model: dict[str, Tally] = field(default_factory=dict)
    by_thread: dict[str, Tally] = field(default_factory=dict)
    titles: dict[str, str | None] = field(default_factory=dict)
    unpriced_models: set[str] = field(default_factory=set)
    local_models: set[str] = field(default_factory=set)  # a local model's answers: not priced
    # Answers counted already: a forked thread holds copies of another's, paid for once.
    seen: set[str] = field(default_factory=set)
    # Prices the answers kept without a cost (a graph's: chatcli.backends.own.pricing.answer_cost).
    pricer: Pricer | None = None

    def count(self, thread_id: str, message: Any) -> None:
        """Add one stored answer (a message or its dict), if it is one and is not older than ``since``: a subagent's
        answers count as one, kept with its call's result (chatcli.backends.own.subagents), a graph's subgraphs' with
        the answer of their turn (priced by its model)."""
        m = fields_of(message)
        meta = m.get("response_metadata") or {}
        if m.get("type") == "tool" and isinstance(meta.get(AGENT_USAGE), dict):
            m = {**m, "type": "ai", "usage_metadata": meta[AGENT_USAGE]}
        if m.get("type") != "ai":
            return
        when = moment_of(meta.get("created_at"))
        if self.since is not None and (when is None or when < self.since):
            return
        asides = meta.get(SUBGRAPH_USAGE) if isinstance(meta.get(SUBGRAPH_USAGE), dict) else None
        counts = [u for u in (m.get("usage_metadata"), meta.get(SUMMARY_USAGE), asides) if isinstance(u, dict)]
        tokens_in = sum(int(u.get("input_tokens") or 0) for u in counts)
        tokens_out = sum(int(u.get("output_tokens") or 0) for u in counts)
        cache = [sum(each) for each in zip((0, 0), *map(cache_counts, counts))]
        counted = bool(m.get("usage_metadata"))
        cost, local = answer_cost(meta, add_usage(m.get("usage_metadata"), asides), self.pricer)
        if not counted and not tokens_in + tokens_out and not isinstance(cost, (int, float)):
            return  # an answer stopped before the server counted anything: nothing was spent that is known
        if m.get("id"):  # a fork keeps its messages' ids: the same answer, paid for once
            if m["id"] in self.seen:
                return
            self.seen.add(m["id"])
        model = str(meta.get("model_name") or UNKNOWN)
        day = when.astimezone().date().isoformat() if when else UNKNOWN
        for tally in (self.total, _row(self.by_day, day), _row(self.by_model, model), _row(self.by_thread, thread_id)):
            tally.add(tokens_in, tokens_out, cost, counted, local, cache)
        if counted and not isinstance(cost, (int, float)):
            (self.local_models if local else self.unpriced_models).add(model)

    def as_dict(self) -> dict[str, Any]:
        """The report for ``--json``: days oldest first, models and threads by dollars then tokens."""
        threads = [{"thread_id": i, "title": self.titles.get(i), **t.as_dict()} for i, t in ranked(self.by_thread)]
        return {
            "since": self.since.isoformat() if self.since else None,
            "total": self.total.as_dict(),
            "by_day": [{"day": day, **self.by_day[day].as_dict()} for day in sorted(self.by_day)],
            "by_model": [{"model": name, **tally.as_dict()} for name, tally in ranked(self.by_model)],
            "by_thread": threads,
        }


def _row(rows: dict[str, Tally], key: str) -> Tally:
    return rows.setdefault(key, Tally())


def ranked(rows: dict[str, Tally]) -> list[tuple[str, Tally]]:
    """Rows with the most dollars first, then the most tokens."""
    return sorted(rows.items(), key=lambda i: (-(i[1].cost_usd or 0), -(i[1].input_tokens + i[1].output_tokens), i[0]))


_AGO = re.compile(r"(\d+)([dhw])")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: a local date (2026-11-20), a local time (2026-11-20T14:00), "today", or an age (7d, 12h, 2w)."""
    now = (now or datetime.now()).astimezone()
    value = text.strip().lower()
    ago = _AGO.fullmatch(value)
    if ago:
        unit = {"d": "days", "h": "hours", "w": "weeks"}[ago.group(2)]
        return now - timedelta(**{unit: int(ago.group(1))})
    if value == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        takes = "--since takes a date (2026-11-20), a time (2026-11-20T14:00), today, or an age (7d, 12h, 2w)"
        raise UsageError(f"{takes}: {text!r}") from None
    return when.astimezone() if when.tzinfo is None else when


async def spending(threads: Any, since: datetime | None = None) -> Spending:
    """The totals over every thread of ``threads`` (a chatcli.threads.operations.Threads), answers since ``since``;
    each thread's messages as LangGraph reads them (``Threads.values``: a graph may keep them as deltas)."""
    settings = threads.settings
    pricer = Pricer(settings.prices, None, False, settings) if settings is not None else Pricer()
    report = Spending(since, pricer=pricer)
    for info in reversed(await threads.list()):  # oldest first: a copy's answers count where they were first given
        if since is not None and info.updated_at < since.timestamp():
            continue  # nothing was said in it since
        values = await threads.values(info.thread_id, info)
        report.titles[info.thread_id] = info.title
        for message in values.get("messages") or []:
            report.count(info.thread_id, message)
    return report


# --------------------------------------------------------------------------- against the limits


@dataclass(frozen=True)
class Room:
    """One spending limit that is set (``limit``: its setting, chatcli.backends.own.spending.LIMITS; ``usd``: its
    dollars) and what the spending ledger holds against it: ``spent``, the day's or a thread's (``thread_id``), None
    for ``max_cost_answer``, one question's, whole at each question."""

    limit: str
    usd: float
    spent: float | None = None
    thread_id: str | None = None

    @property
    def left(self) -> float | None:
        """The dollars still within the limit (None: a question's, whole at each question)."""
        return None if self.spent is None else max(self.usd - self.spent, 0.0)

    @property
    def reached(self) -> bool:
        """Nothing more may be spent against it (to a millionth of a cent, as the ledger compares)."""
        return self.spent is not None and self.spent >= self.usd - EPSILON

    def as_dict(self) -> dict[str, Any]:
        spent = {"limit": self.limit, "usd": self.usd, "spent_usd": self.spent, "left_usd": self.left}
        return {**spent, "reached": self.reached, "thread_id": self.thread_id}


@dataclass(frozen=True)
class Standing:
    """How the spending stands against the limits that are set (``rooms``: the day's, a thread's, a question's, in
    that order; none when no limit is set), as the spending ledger says since ``day_start`` (seconds since the
    epoch): ``today``, and ``thread`` (a thread's id and spending: the one asked about, or the one that spent the
    most). ``kept`` is False where chat does not make the model calls (a server's thread, --remote): nothing is
    held there, nothing was read (``rooms`` name the limits set, without their spending)."""

    rooms: list[Room]
    day_start: float
    today: float = 0.0
    thread: tuple[str, float] | None = None
    kept: bool = True

    def as_dict(self) -> dict[str, Any]:
        """``chat stats --json``'s ``spending`` (docs/usage.md)."""
        return {
            "day_start": datetime.fromtimestamp(self.day_start).astimezone().isoformat(),
            "today_usd": round(self.today, 10),
            "thread": {"thread_id": self.thread[0], "usd": round(self.thread[1], 10)} if self.thread else None,
            "limits": [room.as_dict() for room in self.rooms],
        }


def limits_set(settings: Any) -> list[tuple[str, float]]:
    """The spending limits that are set, the day's first, then a thread's and a question's."""
    return [(name, getattr(settings, name)) for name in LIMITS if getattr(settings, name) is not None]


async def standing(settings: Any, ledger: Any, thread_ids: list[str], read: bool = False) -> Standing:
    """How the spending stands in ``ledger`` (a chatcli.store.index.ThreadIndex) against ``settings``' limits: the
    day's, and the thread's of ``thread_ids`` that spent the most (one thread: this one). Read only when a limit is
    set, or ``read`` (the ledger holds nothing while none is set: chatcli.backends.own.spending.Guard)."""
    start, chosen = day_start(), limits_set(settings)
    if not chosen and not read:
        return Standing([], start)
    today, most = 0.0, None
    for thread_id in thread_ids or [""]:  # the day's sum comes with any thread's
        spent = await ledger.spent(thread_id, start)
        today = spent.day
        if thread_id and (most is None or spent.thread > most[1]):
            most = (thread_id, spent.thread)
    spent_by = {"max_cost_day": today, "max_cost_thread": most[1] if most else 0.0}
    thread = most[0] if most else None
    rooms = [Room(name, usd, spent_by.get(name), thread if name == "max_cost_thread" else None) for name, usd in chosen]
    return Standing(rooms, start, today, most)
