"""Row 19: what memory across threads costs a one-shot: the memories and the project's AGENTS.md on, or off.

Two private homes side by side, round by round (order rotated), each with the same 20 memories (``chat memory add``)
and run in a git repository whose root and working directory each hold an AGENTS.md: one with everything on (the
default), one with ``CHATCLI_MEMORIES=0`` and ``CHATCLI_PROJECT_INSTRUCTIONS=0``. *Cold*: ``chat QUESTION`` with the
worker off (wall and CPU); *worker*: the same through the warm worker (``CHATCLI_WORKER=1``, started beforehand). Each
run is checked: the "on" request carries the memories and the instructions, the "off" one neither. Ratios are medians
of per-round ratios, on / off.

*Ranked*: two more homes holding 1,000 memories, far past their share of a 20,000-token budget: one ranks them with an
embedding model (the fake server's, vectors of 1,536 dimensions as OpenAI's text-embedding-3-small gives, made by the
first runs and kept), the other sends the newest. Each run is checked: the ranked request carries the oldest memory,
the one the question is about, the other does not. Ratios ranked / newest, cold and through the worker, and the time
ranking adds (reading and comparing a thousand vectors in Python and embedding the question: a cost of its own, the
same however long the rest of the run takes, so its target is a time).

    .venv/bin/python benchmarks/memory_bench.py [--runs N]      # about four minutes on 2 cores

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
MANY = 1000
CARD = "My library card number is 4471-Q."
RANKED = {"CHATCLI_CONTEXT_TOKENS": "20000", "CHATCLI_EMBEDDING_MODEL": "openai:embed-fake"}
NEWEST = {"CHATCLI_CONTEXT_TOKENS": "20000"}
RANKING_TARGET = 0.2  # seconds ranking 1,000 memories may add to a question (an embedding API's round trip is ~0.1-0.3)


def project(work: Path) -> Path:
    root = work / "repo"
    (root / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "AGENTS.md").write_text("Run `make check` before you answer.\n" * 20)
    (root / "src" / "AGENTS.md").write_text("Python 3.11; short functions.\n" * 20)
    return root / "src"


def carried(server: FakeOpenAIServer) -> tuple[bool, bool, bool]:
    sent = json.dumps(server.requests[-1])
    return "Memory number 19" in sent, "make check" in sent, CARD in sent


# What each home's request must carry: (20 memories, the instructions, the card); the question each home asks.
EXPECTED = {"on": (True, True, False), "off": (False, False, False), "ranked": (False, True, True),
            "newest": (False, True, False)}  # fmt: skip
ASKED = {"on": QUESTION, "off": QUESTION, "ranked": "What is my library card number?"}


def run(env: dict[str, str], where: Path, server: FakeOpenAIServer, name: str) -> tuple[float, float]:
    wall, proc, cpu = timed_run([*CHAT, ASKED.get(name, ASKED["ranked"])], env=env, cwd=where)
    if proc.returncode != 0 or END_MARK not in proc.stdout.decode():
        raise SystemExit(f"one-shot failed: {proc.stderr.decode()[-400:]}")
    if carried(server) != EXPECTED[name]:
        raise SystemExit(f"{name}: the request carried {carried(server)} (memories, instructions, card)")
    return wall, cpu


def remember_many(env: dict[str, str], work: Path) -> None:
    """MANY memories at once (``chat memory import``), the card's the oldest."""
    texts = [CARD, *(f"Bicycle {n:04d} in the shed has a squeaky bell." for n in range(MANY - 1))]
    path = work / "many.json"
    path.write_text(json.dumps({"format": "chatcli-memories", "version": 1, "memories": [{"text": t} for t in texts]}))
    subprocess.run([*CHAT, "memory", "import", str(path)], env=env, check=True, capture_output=True)


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
        server.embeddings.dimensions = 1536
        envs = {}
        for name in ("on", "off", "ranked", "newest"):
            home = work / name
            (home / ".config" / "chatcli").mkdir(parents=True)
            env = {**chat_env(server.base_url, home), "PYTHONPATH": str(ROOT), "CHATCLI_WORKER": "0"}
            if name in ("on", "off"):
                for n in range(MEMORIES):
                    subprocess.run([*CHAT, "memory", "add", f"Memory number {n:02d}: I like tea."], env=env,
                                   check=True, capture_output=True)  # fmt: skip
            else:
                remember_many(env, work)
            envs[name] = {**env, **{"on": {}, "off": OFF, "ranked": RANKED, "newest": NEWEST}[name]}
        workers = {k: {**e, "CHATCLI_WORKER": "1", "XDG_RUNTIME_DIR": str(work / "run")} for k, e in envs.items()}
        for name in envs:  # the first runs set the databases up, embed the memories and start the worker
            run(envs[name], where, server, name)
            run(workers[name], where, server, name)
        for round_ in range(options.runs):
            for pair in (("on", "off"), ("ranked", "newest")):
                order = pair if round_ % 2 == 0 else pair[::-1]
                for name in order:
                    wall, cpu = run(envs[name], where, server, name)
                    add(f"cold_{name}", wall)
                    add(f"cold_cpu_{name}", cpu)
                for name in order:
                    add(f"worker_{name}", run(workers[name], where, server, name)[0])
                for key in ("cold", "cold_cpu", "worker"):
                    add(f"{key}_{pair[0]}_ratio", samples[f"{key}_{pair[0]}"][-1] / samples[f"{key}_{pair[1]}"][-1])
        subprocess.run([*CHAT, "worker", "stop"], env=workers["on"], capture_output=True, timeout=60)
    shutil.rmtree(work, ignore_errors=True)

    m = {key: statistics.median(values) for key, values in samples.items()}
    rows = [
        ("cold", "on", "off", "19. one-shot (worker off): 20 memories and two AGENTS.md sent / none, wall (paired)"),
        ("cold_cpu", "on", "off", "19. the same, CPU (paired)"),
        ("worker", "on", "off", "19. one-shot through the warm worker: 20 memories and two AGENTS.md / none, wall (paired)"),
        ("cold", "ranked", "newest", "19. one-shot (worker off), 1,000 memories: ranked by an embedding model / newest first, wall (paired)"),
        ("cold_cpu", "ranked", "newest", "19. the same, CPU (paired)"),
        ("worker", "ranked", "newest", "19. through the warm worker, 1,000 memories: ranked / newest first, wall (paired)"),
    ]  # fmt: skip
    lines = ["| metric | value | target | met? |", "|---|---|---|---|"]
    for key, one, other, label in rows:
        ratio, added = m[f"{key}_{one}_ratio"], m[f"{key}_{one}"] - m[f"{key}_{other}"]
        value = f"{ratio:.2f}x ({m[f'{key}_{one}'] * 1000:.0f} ms vs {m[f'{key}_{other}'] * 1000:.0f} ms)"
        if one == "on":
            lines.append(f"| {label} | {value} | <= 1.1x | {'yes' if ratio <= 1.1 else '**no**'} |")
        else:  # a cost of its own, the same whatever the rest of the run takes: a time added, not a ratio
            met = "yes" if added <= RANKING_TARGET else "**no**"
            lines.append(
                f"| {label} | {value}, {added * 1000:+.0f} ms | adds <= {RANKING_TARGET * 1000:.0f} ms | {met} |"
            )
    table = "\n".join(lines)
    print(table)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    Path(options.out).write_text(
        f"# Memory across threads (row 19)\n\n{stamp}, {options.runs} rounds, `{' '.join(sys.argv)}`\n\n{table}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
