"""A benchmark's result as the others print it: a dated head, then a Markdown table of metric, value, target, met."""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path


def machine_speed() -> float:
    """Seconds this machine takes for a loop of 10 million additions in Python, the best of three: how the machines
    here are told apart (the same loop took 0.5 s on one day's machine and 1.35 s on another's). A table's times
    are read against it; its ratios, measured in one run, need not be."""
    best = float("inf")
    for _ in range(3):
        began, total = time.perf_counter(), 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - began)
    return best


def met(value: float, target: float) -> str:
    """The "met?" cell of a ratio whose target is at most ``target``."""
    return "yes" if value <= target else "NO"


def report(rows: Sequence[tuple[str, ...]], runs: int, out: str, how: str = "") -> str:
    """Print ``rows`` under a head naming the time, the machine and ``runs`` (or ``how`` the values were had, for a
    benchmark that scores rather than times); write the same text to ``out``. A row is (metric, value, target, met),
    or (metric, value) for a benchmark that measures with no target."""
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = (
        f"Run of {when} · {platform.node()} · nproc {os.cpu_count()} · Python {platform.python_version()} · "
        f"10M-addition loop {machine_speed():.2f} s; "
        f"{how or f'medians of {runs} rounds'}\n"
    )
    columns = ["metric", "value", "target", "met?"][: max((len(r) for r in rows), default=4)]
    table = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    text = head + "\n" + "\n".join(table) + "\n"
    print(text)
    Path(out).write_text(text)
    return text
