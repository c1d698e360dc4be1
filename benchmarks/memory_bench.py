"""Row 19: what memory across threads costs a one-shot: the memories and the project's AGENTS.md on, or off.

Two private homes side by side, round by round (order rotated), each with the same 20 memories (``chat memory add``)
and run in a git repository whose root and working directory each hold an AGENTS.md: one with everything on (the
default), one with ``CHATCLI_MEMORIES=0`` and ``CHATCLI_PROJECT_INSTRUCTIONS=0``. *Cold*: ``chat QUESTION`` with the
worker off (wall and CPU); *worker*: the same through the warm worker (``CHATCLI_WORKER=1``, started beforehand). Each
run is checked: the "on" request carries the memories and the instructions, the "off" one neither. Ratios are medians
of per-round ratios, on / off.

    .venv/bin/python benchmarks/memory_bench.py [--runs N]      # about a minute on 2 cores

Prints a Markdown table and writes it to benchmarks/results-memory.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench import END_MARK, PY, chat_env, timed_run  # noqa: E402

from tests.fakeserver import FakeOpenAIServer  # noqa: E402

CHAT = [PY, "-m", "chatcli"]
QUESTION = "What is the capital of France?"
MEMORIES = 20
OFF = {"CHATCLI_MEMORIES": "0", "CHATCLI_PROJECT_INSTRUCTIONS": "0"}


def project(work: Path) -> Path:
    root = work / "repo"
    (root / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "AGENTS.md").write_text("Run `make check` before you answer.\n" * 20)
    (root / "src" / "AGENTS.md").write_text("Python 3.11; short functions.\n" * 20)
    return root / "src"


def carried(server: FakeOpenAIServer) -> tuple[bool, bool]:
    sent = json.dumps(server.requests[-1])
    return "Memory number 19" in sent, "make check" in sent


def run(env: dict[str, str], where: Path, server: FakeOpenAIServer, on: bool) -> tuple[float, float]:
    wall, proc, cpu = timed_run([*CHAT, QUESTION], env=env, cwd=where)
    if proc.returncode != 0 or END_MARK not in proc.stdout.decode():
        raise SystemExit(f"one-shot failed: {proc.stderr.decode()[-400:]}")
    if carried(server) != (on, on):
        raise SystemExit(f"the request carried {carried(server)} (memories, instructions), not {(on, on)}")
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds (default 9)")
    parser.add_argument("--out", default=str(HERE / "results-memory.md"))
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="memb", dir="/tmp"))
    (work / "run").mkdir(mode=0o700)
    where = project(work)
    samples: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    with FakeOpenAIServer(default_reply=f"Paris. {END_MARK}") as server:
        envs = {}
        for name in ("on", "off"):
            home = work / name
            (home / ".config" / "chatcli").mkdir(parents=True)
            env = {**chat_env(server.base_url, home), "PYTHONPATH": str(ROOT), "CHATCLI_WORKER": "0"}
            for n in range(MEMORIES):
                subprocess.run([*CHAT, "memory", "add", f"Memory number {n:02d}: I like tea."], env=env, check=True,
                               capture_output=True)  # fmt: skip
            envs[name] = env if name == "on" else {**env, **OFF}
        workers = {k: {**e, "CHATCLI_WORKER": "1", "XDG_RUNTIME_DIR": str(work / "run")} for k, e in envs.items()}
        for name in envs:  # the first runs set the databases up and start the worker
            timed_run([*CHAT, QUESTION], env=envs[name], cwd=where)
            timed_run([*CHAT, QUESTION], env=workers[name], cwd=where)
        for round_ in range(options.runs):
            order = ["on", "off"] if round_ % 2 == 0 else ["off", "on"]
            for name in order:
                wall, cpu = run(envs[name], where, server, name == "on")
                add(f"cold_{name}", wall)
                add(f"cold_cpu_{name}", cpu)
            for name in order:
                add(f"worker_{name}", run(workers[name], where, server, name == "on")[0])
            for key in ("cold", "cold_cpu", "worker"):
                add(f"{key}_ratio", samples[f"{key}_on"][-1] / samples[f"{key}_off"][-1])
        subprocess.run([*CHAT, "worker", "stop"], env=workers["on"], capture_output=True, timeout=60)
    shutil.rmtree(work, ignore_errors=True)

    m = {key: statistics.median(values) for key, values in samples.items()}
    rows = [
        ("cold", "19. one-shot (worker off): 20 memories and two AGENTS.md sent / none, wall (paired)"),
        ("cold_cpu", "19. the same, CPU (paired)"),
        ("worker", "19. one-shot through the warm worker: 20 memories and two AGENTS.md / none, wall (paired)"),
    ]
    lines = ["| metric | value | target | met? |", "|---|---|---|---|"]
    for key, label in rows:
        ratio = m[f"{key}_ratio"]
        value = f"{ratio:.2f}x ({m[f'{key}_on'] * 1000:.0f} ms vs {m[f'{key}_off'] * 1000:.0f} ms)"
        lines.append(f"| {label} | {value} | <= 1.1x | {'yes' if ratio <= 1.1 else '**no**'} |")
    table = "\n".join(lines)
    print(table)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    Path(options.out).write_text(
        f"# Memory across threads (row 19)\n\n{stamp}, {options.runs} rounds, `{' '.join(sys.argv)}`\n\n{table}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
