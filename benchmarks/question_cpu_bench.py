"""Row 35: a question's CPU end to end, as users ask it (``chat -t T QUESTION`` through the warm worker), one commit's
code against another's (by default HEAD against 862c99e); and the prompt's first paint and a turn at it.

Both trees are unpacked alike (``git archive``, as row 27) and compiled (as an install is), and run by the same
launcher, the ``chat`` script next to this Python, with PYTHONPATH naming the tree and no other PYTHON* variable (as
a user's shell has none: PYTHONDONTWRITEBYTECODE would compile every module anew each run): the interpreter, its
``site`` and the install's ``.pth`` files are the same for both, and each tree's worker is its own (a home, a
runtime directory and a worker each, started before the first round). Rounds alternate which tree goes first. A
question's CPU is the client's (user + system of the ``chat`` process, from its rusage as reaped) plus the worker's
(user + system of the worker and of the children it reaped, from its /proc entry before and after the run: the
worker's accept, checks and fork, and the forked child that ran the turn). The worker's figure comes in clock ticks,
so it is summed over the rounds and given as a mean. Then ``chat`` in a pseudo-terminal, each tree in turn: wall time
from the spawn to the prompt, and from ``hi`` + Enter to the answer's end. The fake OpenAI server
(tests/fakeserver.py) answers at once.

    .venv/bin/python benchmarks/question_cpu_bench.py [--runs N] [--base REV] [--head REV|DIR]   # about 2 minutes

Writes the table to benchmarks/results-question-cpu.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench import PtyChat, chat_env, prompt_shown, timed_run  # noqa: E402
from report import met, report  # noqa: E402
from web_bench import base_tree, med  # noqa: E402

from tests.fakeserver import FakeOpenAIServer  # noqa: E402

CHAT = str(Path(sys.executable).with_name("chat"))
QUESTION = ["-t", "T", "What is the capital of France?"]
TICK = os.sysconf("SC_CLK_TCK")


def worker_pid(env: dict[str, str]) -> int:
    status = subprocess.run([CHAT, "worker", "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
    return int(json.loads(status.stdout)["pid"])


def worker_cpu(pid: int) -> float:
    """CPU seconds of the worker and of the children it reaped (utime, stime, cutime, cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICK


def at_the_prompt(env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds from the spawn of ``chat`` (a terminal, no question) to its prompt, and from Enter to the answer."""
    chat = PtyChat([], env, cwd)
    try:
        painted = chat.wait_for(prompt_shown)
        chat.send(b"hi\r")
        return painted, chat.wait_for(lambda text: "You said: hi" in text) - painted
    finally:
        chat.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--prompt-runs", type=int, default=10)
    parser.add_argument("--base", default="862c99e", help="the commit to compare with")
    parser.add_argument("--head", default="HEAD", help="the commit measured, or a directory holding its chatcli/")
    parser.add_argument("--out", default=str(HERE / "results-question-cpu.md"))
    args = parser.parse_args()
    sides = ("head", "base")
    client: dict[str, list[float]] = {name: [] for name in (*sides, "python")}
    worker = dict.fromkeys(sides, 0.0)
    paint: dict[str, list[float]] = {name: [] for name in sides}
    turn: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as scratch, FakeOpenAIServer() as server:
        work = Path(scratch)
        head = Path(args.head) if Path(args.head, "chatcli").is_dir() else base_tree(work / "head", args.head)
        trees = {"head": head, "base": base_tree(work, args.base)}
        envs, pids = {}, {}
        for name, tree in trees.items():
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], check=True)  # as an install has
            home = work / f"home-{name}"
            (home / "run").mkdir(parents=True, mode=0o700)
            env = {k: v for k, v in chat_env(server.base_url, home).items() if not k.startswith("PYTHON")}
            envs[name] = dict(env, PYTHONPATH=str(tree), XDG_RUNTIME_DIR=str(home / "run"), CHATCLI_WORKER="1")
            for _ in range(3):  # the worker started, the thread made, a fork or two run
                timed_run([CHAT, *QUESTION], env=envs[name], cwd=home)
            pids[name] = worker_pid(envs[name])
        try:
            for i in range(args.runs):
                client["python"].append(timed_run([sys.executable, "-c", "pass"], env=envs["head"])[2])
                for name in sides if i % 2 == 0 else sides[::-1]:
                    before = worker_cpu(pids[name])
                    _, proc, cpu = timed_run([CHAT, *QUESTION], env=envs[name])
                    if proc.returncode != 0 or not proc.stdout:
                        raise SystemExit(f"{name}: chat failed: {proc.stderr.decode(errors='replace')[-500:]}")
                    worker[name] += worker_cpu(pids[name]) - before
                    client[name].append(cpu)
            for name in sides:  # every run was the worker's, or the comparison is of nothing
                if worker_pid(envs[name]) != pids[name]:
                    raise SystemExit(f"{name}: the worker changed during the run")
        finally:
            for name in sides:
                subprocess.run([CHAT, "worker", "stop"], env=envs[name], capture_output=True, timeout=60)
        for i in range(args.prompt_runs):
            for name in sides if i % 2 == 0 else sides[::-1]:
                painted, answer = at_the_prompt(envs[name], work)
                paint[name].append(painted)
                turn[name].append(answer)
    mean = {name: (sum(client[name]) + worker[name]) / args.runs for name in sides}
    ratio = mean["head"] / mean["base"]

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    def paired(xs: dict[str, list[float]]) -> str:
        return f"{med([h / b for h, b in zip(xs['head'], xs['base'])]):.2f}x"

    rows = [
        ("35. python -c pass, this venv's interpreter (CPU)", ms(med(client["python"]))),
        ("35. the client's CPU, median: base / head", f"{ms(med(client['base']))} / {ms(med(client['head']))}"),
        (
            "35. the worker's CPU (its own and its child's), mean",
            f"{ms(worker['base'] / args.runs)} / {ms(worker['head'] / args.runs)}",
        ),
        ("35. a question's CPU, mean: base / head", f"{ms(mean['base'])} / {ms(mean['head'])}"),
        ("35. head / base, a question's CPU", f"{ratio:.2f}x", "<= 0.5x", met(ratio, 0.5)),
        ("35. the prompt's first paint, wall: base / head", f"{ms(med(paint['base']))} / {ms(med(paint['head']))}"),
        ("35. head / base, the prompt's first paint (paired)", paired(paint)),
        ("35. a turn at the prompt, wall: base / head", f"{ms(med(turn['base']))} / {ms(med(turn['head']))}"),
        ("35. head / base, a turn at the prompt (paired)", paired(turn)),
    ]
    how = f"{args.head} against {args.base}; {args.runs} alternating rounds, {args.prompt_runs} at the prompt"
    report(rows, args.runs, args.out, how)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
