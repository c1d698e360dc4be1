"""Row 24: opening chat's SQLite store, as every door does once a process (a one-shot, the worker's run, the prompt).

A new database is made too, in one step (chatcli/store/new.sql) beside one migrated step by step as before (its CPU,
this process's threads included).

An existing database (every table set up, a thread of 20 turns) is opened and closed with ``open_store``, in this
process, round after round beside the open as it was before its tables' first rows were read in the read-only check
that runs first (``check_database``, plain sqlite3) rather than again through aiosqlite: the same open followed by
the probe it made on its connection, the reads it no longer makes. Order alternates each round; the ratio is the median of
the per-round ratios. Each is counted in aiosqlite round trips too (each a hop to its thread and back).

And what a one-shot does with the store before its turn (``ONE_SHOT``: the check, its thread found through a
ReadIndex, the open), this tree against ``--base`` (``git archive``: by default the commit before one connection
per database), each in a process of its own on the same file, alternating, paired by round; a new process's state
each round (nothing checked yet). Counted in CPU (this process's threads too), SQLite connections and aiosqlite
round trips. Results go to ``benchmarks/results-store-open.md``.

    .venv/bin/python benchmarks/store_open_bench.py              # about 20 s
    .venv/bin/python benchmarks/store_open_bench.py --runs 400 --base 42dd81d
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import aiosqlite

HERE = Path(__file__).resolve().parent
BASE = "42dd81d"  # the file checked four times and opened eight times by a one-shot, the memories on a connection
# A process that does a one-shot's store work once a line read, and says its CPU, connections and round trips.
ONE_SHOT = r"""
import asyncio, sqlite3, sys, time
import aiosqlite
from chatcli.store import check_store, open_store, sqlite as store_sqlite
from chatcli.store.light import ReadIndex

counts = [0, 0]
connect, execute = sqlite3.connect, aiosqlite.Connection._execute
def connected(*args, **options):
    counts[0] += 1
    return connect(*args, **options)
async def tripped(self, fn, *args, **options):
    counts[1] += 1
    return await execute(self, fn, *args, **options)
sqlite3.connect, aiosqlite.Connection._execute = connected, tripped

async def one_shot(db):
    check_store(db)
    index = ReadIndex(db)  # Chat.find: the thread, its binding
    await index.get("bench")
    await index.binding("bench")
    del index
    async with open_store(db):
        pass

for line in sys.stdin:
    getattr(store_sqlite, "_CHECKED", set()).clear()
    counts[:] = [0, 0]
    start = time.process_time()
    asyncio.run(one_shot(sys.argv[1]))
    print(time.process_time() - start, *counts, flush=True)
"""
TRIPS = [0]
_execute = aiosqlite.Connection._execute


async def _counted(self: aiosqlite.Connection, fn: Callable[..., object], *args: object, **kwargs: object) -> object:
    TRIPS[0] += 1
    return await _execute(self, fn, *args, **kwargs)


aiosqlite.Connection._execute = _counted  # type: ignore[method-assign]


async def _made(db: str) -> None:
    """A database with a thread of 20 turns, written the way the store writes them."""
    from chatcli.store import open_store

    async with open_store(db) as store:
        for turn in range(20):
            await store.index.touch("bench", f"question {turn}", 2 * turn + 2, "gpt-fake")


async def _open(db: str) -> None:
    from chatcli.store import open_store

    async with open_store(db):
        pass


async def _open_as_before(db: str) -> None:
    from chatcli.store import open_store

    async with open_store(db) as store:
        conn = store.saver.inner.conn  # type: ignore[union-attr]
        async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:  # the probe it made
            names = [row[0] for row in await cursor.fetchall()]
        for name in names:
            async with conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1') as cursor:
                await cursor.fetchall()


async def _new(db: str) -> None:
    Path(db).unlink(missing_ok=True)
    await _open(db)


async def _new_stepwise(db: str) -> None:
    """A new store as it was made before chatcli/store/new.sql: an empty file, then each migration in turn."""
    import sqlite3
    from contextlib import closing

    Path(db).unlink(missing_ok=True)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
    await _open(db)


async def _timed(work: Callable[[str], Awaitable[None]], db: str) -> tuple[float, int]:
    TRIPS[0] = 0
    start = time.perf_counter(), time.process_time()
    await work(db)
    return (time.process_time() - start[1] if work in (_new, _new_stepwise) else time.perf_counter() - start[0]), TRIPS[
        0
    ]


async def bench(runs: int) -> dict[str, float]:
    db = str(Path(tempfile.mkdtemp(prefix="store-open-")) / "chat.db")
    await _made(db)
    for _ in range(20):  # warm: imports, the page cache
        await _open(db)
        await _open_as_before(db)
    now: list[float] = []
    before: list[float] = []
    trips: dict[str, int] = {}
    for run in range(runs):
        pair = [("now", _open), ("before", _open_as_before)]
        for name, work in pair if run % 2 else reversed(pair):
            seconds, trips[name] = await _timed(work, db)
            (now if name == "now" else before).append(seconds)
    made: dict[str, list[float]] = {"new": [], "stepwise": []}
    fresh = str(Path(db).with_name("new.db"))
    for run in range(runs):
        pair = [("new", _new), ("stepwise", _new_stepwise)]
        for name, work in pair if run % 2 else reversed(pair):
            seconds, trips[name] = await _timed(work, fresh)
            made[name].append(seconds)
    return {
        "new": statistics.median(made["new"]) * 1000,
        "stepwise": statistics.median(made["stepwise"]) * 1000,
        "new_ratio": statistics.median(a / b for a, b in zip(made["new"], made["stepwise"])),
        "trips_new": trips["new"],
        "trips_stepwise": trips["stepwise"],
        "now": statistics.median(now) * 1000,
        "before": statistics.median(before) * 1000,
        "ratio": statistics.median(a / b for a, b in zip(now, before)),
        "trips_now": trips["now"],
        "trips_before": trips["before"],
    }


def one_shots(db: str, base: str, runs: int) -> dict[str, float]:
    """A one-shot's store work here and at ``base``, paired by round (see the module's docstring)."""
    tree = Path(tempfile.mkdtemp(prefix="store-open-base-"))
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", base, "chatcli"], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    children = {
        name: subprocess.Popen(
            [sys.executable, "-c", ONE_SHOT, db],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(path)},
            cwd=path,  # (python -c puts its directory first)
        )
        for name, path in (("now", HERE.parent), ("base", tree))
    }

    def ask(name: str) -> list[float]:
        child = children[name]
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        return [float(word) for word in child.stdout.readline().split()]

    seen: dict[str, list[list[float]]] = {"now": [], "base": []}
    for run in range(runs + 20):  # the first 20: warming
        for name in ("now", "base") if run % 2 else ("base", "now"):
            if run >= 20:
                seen[name].append(ask(name))
            else:
                ask(name)
    for child in children.values():
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    return {
        "cpu_now": statistics.median(r[0] for r in seen["now"]) * 1000,
        "cpu_base": statistics.median(r[0] for r in seen["base"]) * 1000,
        "ratio": statistics.median(a[0] / b[0] for a, b in zip(seen["now"], seen["base"])),
        "connections_now": seen["now"][-1][1],
        "connections_base": seen["base"][-1][1],
        "trips_now": seen["now"][-1][2],
        "trips_base": seen["base"][-1][2],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", default=str(HERE / "results-store-open.md"))
    parser.add_argument("--base", default=BASE, help="the commit the one-shot's store work is compared with")
    options = parser.parse_args()
    found = asyncio.run(bench(options.runs))
    shot = one_shots(str(Path(tempfile.mkdtemp(prefix="store-open-")) / "chat.db"), options.base, options.runs)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join(
        [
            "| metric | value |",
            "|---|---|",
            f"| 24. open an existing store | {found['now']:.2f} ms, {found['trips_now']} aiosqlite round trips |",
            f"| 24. the open as before (every table read again through aiosqlite) | {found['before']:.2f} ms, "
            f"{found['trips_before']} round trips |",
            f"| 24. now / before (paired) | {found['ratio']:.2f}x |",
            f"| 24. a new store, in one step (chatcli/store/new.sql) | {found['new']:.2f} ms of CPU, "
            f"{found['trips_new']} round trips |",
            f"| 24. a new store, migrated step by step as before | {found['stepwise']:.2f} ms of CPU, "
            f"{found['trips_stepwise']} round trips |",
            f"| 24. new: one step / step by step (paired) | {found['new_ratio']:.2f}x |",
            f"| 24. a one-shot's store work (check, find, open) | {shot['cpu_now']:.2f} ms of CPU, "
            f"{shot['connections_now']:.0f} SQLite connections, {shot['trips_now']:.0f} round trips |",
            f"| 24. the same at {options.base} | {shot['cpu_base']:.2f} ms of CPU, "
            f"{shot['connections_base']:.0f} SQLite connections, {shot['trips_base']:.0f} round trips |",
            f"| 24. one-shot: now / {options.base} (paired) | {shot['ratio']:.2f}x |",
        ]
    )
    text = (
        f"# Row 24: opening the store\n\nGenerated by `python benchmarks/store_open_bench.py`; overwritten each run.\n\n"
        f"{stamp} · {platform.machine()} · Python {platform.python_version()} · medians of {options.runs} "
        f"paired rounds\n\n{table}\n"
    )
    Path(options.out).write_text(text)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
