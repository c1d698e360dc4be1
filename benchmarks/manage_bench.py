"""Thread commands against `chat --version`: wall time of each as a whole process, paired in one run.

Seeds a private database (20 threads of 10 turns, imported), then runs every command and
`chat --version` in turn, rotated round by round, and prints the medians and the median of
the per-round ratios (command / --version) as a Markdown table, written to
benchmarks/results-manage.md. Target: each at most 1.3x.

    .venv/bin/python benchmarks/manage_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAT = str(Path(sys.executable).with_name("chat"))
TARGET = 1.3


def seed(home: Path) -> list[str]:
    """Fill the home's database with threads; their ids."""
    sys.path.insert(0, str(ROOT))
    from chatcli.config import load_settings
    from chatcli.threads.opening import open_threads
    from chatcli.threads.operations import EXPORT_FORMAT

    settings = load_settings({"db": str(home / "chat.db")})
    words = "penguins keep warm in winter by huddling together and taking turns at the edge".split()

    async def fill() -> list[str]:
        ids = []
        async with open_threads(settings) as threads:
            for t in range(20):
                messages = [
                    {"role": "user" if i % 2 == 0 else "assistant", "content": f"{t} {i} " + " ".join(words * 4)}
                    for i in range(20)
                ]
                ids.append(
                    await threads.import_json({"format": EXPORT_FORMAT, "title": f"thread {t}", "messages": messages})
                )
        return ids

    return asyncio.run(fill())


def wall(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([CHAT, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds (default 9)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results-manage.md"))
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_"))}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), CHATCLI_DB=str(home / "chat.db"))
        ids = seed(home)
        commands = {
            "chat threads": ["threads"],
            "chat show ID": ["show", ids[0]],
            "chat export ID -f json": ["export", ids[0], "-f", "json"],
            "chat search penguins": ["search", "penguins"],
            "chat title ID TEXT": ["title", ids[1], "renamed"],
            "chat roles": ["roles"],
            "chat rm --yes ID": ["rm", "--yes"],  # a thread of its own each round
        }
        times: dict[str, list[float]] = {name: [] for name in ["chat --version", *commands]}
        ratios: dict[str, list[float]] = {name: [] for name in commands}
        victims = iter(ids[2:] + [f"gone{i}" for i in range(options.runs)])
        for _ in range(options.runs):
            for name, args in commands.items():
                base = wall(["--version"], env)
                spent = wall(args + [next(victims)] if name.startswith("chat rm") else args, env)
                times["chat --version"].append(base)
                times[name].append(spent)
                ratios[name].append(spent / base)
    floor = statistics.median(times["chat --version"])
    rows = [f"| chat --version | {floor * 1000:.0f} ms | — | — |"]
    for name in commands:
        ratio = statistics.median(ratios[name])
        rows.append(
            f"| {name} | {statistics.median(times[name]) * 1000:.0f} ms | {ratio:.2f}x | {'yes' if ratio <= TARGET else 'NO'} |"
        )
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join(["| command | median wall | / chat --version (paired) | <= 1.3x? |", "|---|---|---|---|", *rows])
    text = f"Run of {stamp} · nproc {os.cpu_count()} · Python {sys.version.split()[0]} · {options.runs} rounds\n\n{table}\n"
    Path(options.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
