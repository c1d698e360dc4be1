"""What keeping spending limits costs a question: the same one-shot with no limit and with the three set, paired.

Each round asks ``chat -t THREAD hi`` (stdout a pipe, the worker off, so each run is the whole process) once with
no limit set and once with ``max_cost_answer``, ``max_cost_thread`` and ``max_cost_day`` set in config.toml (each
model call's most held in the spending ledger before it is sent, settled after: two writes of the store, and the
callback handler in the call), in rotated order, against the fake server answering at once; on SQLite, and on
PostgreSQL when ``CHATCLI_TEST_PG`` names a server (as the tests' .ci/postgres starts one). Also timed in this
process: one ``hold`` and its ``settle`` on each store (the ledger's part alone). Prints a Markdown table and writes
it to benchmarks/results-spending.md:

    .venv/bin/python benchmarks/spending_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench import CHAT, chat_env, timed_run  # noqa: E402

from tests.fakeserver import FakeOpenAIServer, Reply  # noqa: E402

PRICES = '[prices."gpt-fake"]\ninput = 1.0\noutput = 10.0\n'
LIMITS = "max_tokens = 1000\nmax_cost_answer = 5\nmax_cost_thread = 50\nmax_cost_day = 500\n"
COUNTS = {"prompt_tokens": 100, "completion_tokens": 10}


def _store_url(kind: str, work: Path) -> str:
    if kind == "sqlite":
        return str(work / "chat.db")
    base = os.environ["CHATCLI_TEST_PG"]
    name = "bench_" + uuid.uuid4().hex[:12]
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def one_shots(server: FakeOpenAIServer, work: Path, store: str, runs: int) -> dict[str, list[float]]:
    """Wall seconds of the one-shot with no limit and with limits, rotated round by round."""
    homes = {way: work / way for way in ("none", "limits")}
    times: dict[str, list[float]] = {way: [] for way in homes}
    for way, home in homes.items():
        config = home / ".config" / "chatcli" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text((LIMITS if way == "limits" else "max_tokens = 1000\n") + PRICES)  # (top-level keys first)
    for round_ in range(runs + 1):  # the first round warms the caches, and is not counted
        order = list(homes) if round_ % 2 == 0 else list(reversed(homes))
        for way in order:
            env = chat_env(server.base_url, homes[way])
            env.update(CHATCLI_WORKER="0", CHATCLI_DB=store + ("" if store.startswith("postgres") else f".{way}"))
            server.queue(Reply("fine", usage=COUNTS))
            wall, proc, _cpu = timed_run([CHAT, "-t", f"bench-{way}", "hi"], env=env)
            if proc.returncode != 0:
                raise SystemExit(f"{way}: exit {proc.returncode}: {proc.stderr.decode()[-500:]}")
            if round_:
                times[way].append(wall)
    return times


async def ledger(store: str, runs: int) -> float:
    """Milliseconds one hold and its settle take on ``store`` (median of ``runs`` pairs)."""
    from chatcli.backends.own.spending import day_start
    from chatcli.store import open_store

    spent = []
    async with open_store(store) as opened:
        await opened.index.hold("warm", 0.01, (1.0, 10.0), day_start())
        for _ in range(runs):
            start = time.perf_counter()
            held = await opened.index.hold("bench", 0.01, (1e6, 1e6, 1e6), day_start())
            assert held.row is not None
            await opened.index.settle(held.row, 0.005)
            spent.append((time.perf_counter() - start) * 1000)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    stores = ["sqlite"] + (["postgresql"] if os.environ.get("CHATCLI_TEST_PG") else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer() as server:
        for kind in stores:
            work = Path(tmp) / kind
            work.mkdir()
            store = _store_url(kind, work)
            times = one_shots(server, work, store, args.runs)
            none, limited = statistics.median(times["none"]), statistics.median(times["limits"])
            held = asyncio.run(ledger(store if kind != "sqlite" else str(work / "ledger.db"), args.runs * 10))
            rows.append(
                f"| {kind} | {none * 1000:.0f} ms | {limited * 1000:.0f} ms | {limited / none:.2f}x | {held:.2f} ms |"
            )
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join(
        [
            f"Spending limits' cost to a one-shot (benchmarks/spending_bench.py, {stamp}, {args.runs} rounds, "
            f"{os.cpu_count()} cores): medians, paired round by round.",
            "",
            "| store | no limit | three limits | ratio | one hold + settle, in process |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    (HERE / "results-spending.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
