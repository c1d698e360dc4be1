"""The spending limits as /usage and ``chat stats`` show them: one line per limit that is set, what was spent of it
and what is left, and how to raise one that is reached (as a refused call says: chatcli.backends.own.spending)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.backends.own.pricing import dollars
from chatcli.backends.own.spending import raise_hint
from chatcli.text import neutralise

if TYPE_CHECKING:
    from chatcli.threads.spending import Standing

# What each limit is of, where one thread is asked about (/usage).
HERE = {"max_cost_day": "today", "max_cost_thread": "this thread", "max_cost_answer": "each question"}
NOT_KEPT = "spending limits are kept where chat makes the model calls: a server's thread (--remote) is not counted"


def limit_lines(standing: Standing, most: bool = False) -> list[str]:
    """A line per limit of ``standing`` (a chatcli.threads.spending.Standing): "today: $0.4200 of $5.00
    (max_cost_day) · $4.58 left". ``most``: the thread's limit is told of the thread that spent the most
    (``chat stats``), not of this thread. No line when no limit is set; one where nothing here keeps them."""
    if not standing.kept:
        return [NOT_KEPT] if standing.rooms else []
    lines = []
    for room in standing.rooms:
        what = HERE[room.limit]
        if room.spent is None:
            lines.append(f"{what}: up to {dollars(room.usd)} ({room.limit})")
            continue
        if most and room.limit == "max_cost_thread":
            what = f"the most in a thread ({neutralise(room.thread_id)})" if room.thread_id else "each thread"
        left = f"reached: {raise_hint(room.limit)}" if room.reached else f"{dollars(room.left or 0.0)} left"
        lines.append(f"{what}: {dollars(room.spent)} of {dollars(room.usd)} ({room.limit}) · {left}")
    return lines


# What each limit is of, as the status line says it (chatcli.ui.status): short, the thread's id said before it.
SHORT = {"max_cost_day": "today", "max_cost_thread": "thread", "max_cost_answer": "each question"}


def room_left(standing: Standing) -> list[str]:
    """The status line's part per limit of ``standing``: "today $4.58 left of $5.00", "thread $1.00 limit reached",
    "each question up to $0.5000"; nothing where no limit is set or nothing here keeps them (a server's thread)."""
    if not standing.kept:
        return []
    parts = []
    for room in standing.rooms:
        what = SHORT[room.limit]
        if room.spent is None:
            parts.append(f"{what} up to {dollars(room.usd)}")
        elif room.reached:
            parts.append(f"{what} {dollars(room.usd)} limit reached")
        else:
            parts.append(f"{what} {dollars(room.left or 0.0)} left of {dollars(room.usd)}")
    return parts
