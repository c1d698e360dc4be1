"""`chat --graph` one-shot on the example graph against the floor: a Python process that imports the graph and invokes it.

Starts the fake OpenAI-compatible server (the example graph's ChatOpenAI reaches it through OPENAI_BASE_URL),
then runs, rotated round by round, (a) `chat --graph examples/graphs/agent.py:graph "hi"` (stdout a pipe: plain
output; a new thread in a private database each time), (b) the floor, `python -c "from agent import graph;
graph.invoke(...)"` (the same graph, the same model call, no checkpointer, nothing printed but the answer), (c) the
same floor with chat's start-up import hook installed first (chatcli.local.lazy_imports: what chat's own process
imports the graph under), and (d) chat's own one-shot `chat "hi"` for comparison. Prints the medians of wall and
CPU time (user + system of the child) and the median of the per-round ratios, as a Markdown table written to
benchmarks/results-graph.md. Target: `chat --graph` at most 1.3x the floor (wall and CPU).

    .venv/bin/python benchmarks/graph_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAT = str(Path(sys.executable).with_name("chat"))
GRAPHS = ROOT / "examples" / "graphs"
TARGET = 1.3
FLOOR = (
    "import sys; sys.path.insert(0, sys.argv[1]); from agent import graph; "
    "print(graph.invoke({'messages': [('user', 'hi')]})['messages'][-1].content)"
)
HOOKED = "from chatcli.local.runtime import install; install(); " + FLOOR


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``command`` as a whole process; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0 or "short answer" not in run.stdout:
        raise SystemExit(f"{command[:3]} failed ({run.returncode}): {run.stderr[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="rounds (default 11)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results-graph.md"))
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.fakeserver import FakeOpenAIServer

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(default_reply="a short answer") as fake:
        home = Path(tmp)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_"))},
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "CHATCLI_DB": str(home / "chat.db"),
            "CHATCLI_MODEL": "gpt-fake",
        }
        commands = {
            "chat --graph": [CHAT, "--graph", f"{GRAPHS / 'agent.py'}:graph", "hi"],
            "floor": [sys.executable, "-c", FLOOR, str(GRAPHS)],
            "hooked floor": [sys.executable, "-c", HOOKED, str(GRAPHS)],
            "chat (its own graph)": [CHAT, "hi"],
        }
        for command in commands.values():  # warm-up: the OS's file cache, the database made
            timed(command, env)
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        names = list(commands)
        for i in range(options.runs):
            for name in names[i % len(names) :] + names[: i % len(names)]:  # rotated: no command always first
                runs[name].append(timed(commands[name], env))

    def median(name: str, which: int) -> float:
        return statistics.median(r[which] for r in runs[name])

    def ratio(name: str, which: int, to: str = "floor") -> float:
        return statistics.median(a[which] / b[which] for a, b in zip(runs[name], runs[to]))

    rows = [
        f'| `chat --graph examples/graphs/agent.py:graph "hi"` | {median("chat --graph", 0) * 1000:.0f} ms '
        f"(CPU {median('chat --graph', 1) * 1000:.0f} ms) | — | — |",
        f'| floor: `python -c "from agent import graph; graph.invoke(...)"` | {median("floor", 0) * 1000:.0f} ms '
        f"(CPU {median('floor', 1) * 1000:.0f} ms) | — | — |",
    ]
    for label, which in (("wall", 0), ("CPU", 1)):
        value = ratio("chat --graph", which)
        rows.append(
            f"| chat --graph / floor, {label} (paired) | {value:.2f}x | <= {TARGET}x | {'yes' if value <= TARGET else 'NO'} |"
        )
    rows.append(
        f"| the floor under chat's import hook | {median('hooked floor', 0) * 1000:.0f} ms "
        f"(CPU {median('hooked floor', 1) * 1000:.0f} ms); chat --graph is "
        f"{ratio('chat --graph', 0, 'hooked floor'):.2f}x wall, {ratio('chat --graph', 1, 'hooked floor'):.2f}x CPU of it "
        "(paired) | — | — |"
    )
    rows.append(
        f'| for comparison: `chat "hi"` (chat\'s own graph) | {median("chat (its own graph)", 0) * 1000:.0f} ms '
        f"(CPU {median('chat (its own graph)', 1) * 1000:.0f} ms); {ratio('chat (its own graph)', 0):.2f}x the floor | — | — |"
    )
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join(["| metric | value | target | met? |", "|---|---|---|---|", *rows])
    text = f"Run of {stamp} · nproc {os.cpu_count()} · Python {sys.version.split()[0]} · {options.runs} rounds\n\n{table}\n"
    Path(options.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
