"""The spending ledger the limits are kept by (chatcli_spending): a call's most is held before it is sent, unless the
thread's or the day's spending would pass its limit, and its cost replaces it after; two processes cannot both pass a
limit."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


async def test_a_call_is_held_within_the_limits_and_refused_past_them(settings):
    from chatcli.store import open_store

    midnight = time.time() - 3600
    async with open_store(settings.db) as store:
        ledger = store.index
        first = await ledger.hold("a", 0.40, (1.00, 2.00), midnight)
        assert first.row is not None and first.spent == (0.0, 0.0, 0.0)
        await ledger.settle(first.row, 0.25)  # it cost less than its most
        second = await ledger.hold("a", 0.70, (1.00, 2.00), midnight)
        assert second.row is not None and second.spent == pytest.approx((0.25, 0.25, 0.25))
        refused = await ledger.hold("a", 0.10, (1.00, 2.00), midnight)  # 0.25 + 0.70 held + 0.10 > 1.00
        assert refused.row is None and refused.spent == pytest.approx((0.95, 0.95, 0.95))
        other = await ledger.hold("b", 1.00, (1.00, 2.00), midnight)  # another thread: its own limit, the same day
        assert other.row is not None and other.spent == pytest.approx((0.0, 0.95, 0.0))
        day = await ledger.hold("c", 0.10, (None, 2.00), midnight)
        assert day.row is None and day.spent == pytest.approx((0.0, 1.95, 0.0))
        assert await ledger.hold("c", 0.10, (), midnight) != (None, None)  # no limit: always held
        assert (await ledger.spent("c", time.time() + 60)).day == 0  # a day that starts later counts none of it
        assert await ledger.spent("a", midnight) == pytest.approx((0.95, 2.05, 0.95))


async def test_a_question_s_spending_is_the_thread_s_since_the_question_began(settings):
    """A question's start is a row of the ledger (QUESTION and its thread's id): its limit counts the thread's calls
    since, held ones included, for any process that reads the ledger; a question refused there holds nothing."""
    from chatcli.store import open_store
    from chatcli.store.base import QUESTION

    midnight = time.time() - 3600
    async with open_store(settings.db) as store:
        ledger = store.index
        await ledger.settle((await ledger.hold("q", 0.30, (), midnight)).row, 0.30)  # an earlier question's
        await ledger.hold(QUESTION + "q", 0.0, (), time.time())  # this question begins
        assert (await ledger.spent("q", midnight)).question == 0.0
        held = await ledger.hold("q", 0.40, (None, None, 0.50), midnight)
        assert held.row is not None and held.spent == pytest.approx((0.30, 0.30, 0.0))
        refused = await ledger.hold("q", 0.20, (None, None, 0.50), midnight)  # 0.40 held + 0.20 > 0.50
        assert refused.row is None and refused.spent == pytest.approx((0.70, 0.70, 0.40))
    async with open_store(settings.db) as store:  # another process, the same question
        assert await store.index.spent("q", midnight) == pytest.approx((0.70, 0.70, 0.40))
        assert (await store.index.hold("q", 0.10, (None, None, 0.50), midnight)).row is not None


RACE = """
import asyncio, sys, time
from chatcli.store import open_store

async def main(db):
    held = 0
    async with open_store(db) as store:
        print("ready", flush=True)
        sys.stdin.readline()  # both start together
        for _ in range(150):
            if (await store.index.hold(sys.argv[2], 0.01, (None, 1.00), time.time() - 3600)).row is not None:
                held += 1
    print(held)

asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.e2e  # two processes at once
def test_two_processes_spending_at_once_never_pass_the_day_s_limit(settings):
    """Each process holds $0.01 150 times against a $1.00 day, both at once: together they hold 100, never more."""
    import asyncio

    from chatcli.store import open_store

    async def opened() -> None:
        async with open_store(settings.db):
            pass

    asyncio.run(opened())  # set up once, as the first process would
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(settings.db), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )  # fmt: skip
        for name in ("one", "two")
    ]
    for run in runs:
        assert run.stdout is not None and run.stdout.readline().strip() == "ready"
    for run in runs:
        assert run.stdin is not None
        run.stdin.write("go\n")
        run.stdin.flush()
    held = [int(run.communicate(timeout=120)[0]) for run in runs]
    assert sum(held) == 100, held  # (SQLite may let one take all: its busy wait backs off)

    async def total() -> float:
        async with open_store(settings.db) as store:
            return (await store.index.spent("x", time.time() - 7200)).day

    assert asyncio.run(total()) == pytest.approx(1.00)
