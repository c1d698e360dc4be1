"""Row 35: a question's CPU end to end, as users ask it (``chat -t T QUESTION`` through the warm worker), one commit's
code against another's (by default HEAD against 862c99e); and the prompt's first paint and a turn at it.

Each commit is installed as the README installs it (``pip install -e .``, its own pyproject.toml deciding what the
install puts in ``site``), each in a venv of its own whose other packages are this venv's (named by a ``.pth`` path
line), compiled as an install is, and run with no PYTHON* variable (as a user's shell has none:
PYTHONDONTWRITEBYTECODE would compile every module anew each run); each tree's worker is its own (a home, a runtime
directory and a worker each, started before the first round). Rounds alternate which tree goes first. A
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
from web_bench import med  # noqa: E402

from tests.fakeserver import FakeOpenAIServer  # noqa: E402

SITE = next(p for p in sys.path if p.endswith("site-packages"))


def installed(work: Path, name: str, commit: str) -> Path:
    """``commit`` unpacked and installed editable (as the README says) in a venv of its own: its ``chat``."""
    tree, venv = work / f"tree-{name}", work / f"venv-{name}"
    tree.mkdir()
    files = ["chatcli", "pyproject.toml", "README.md"]
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, *files], capture_output=True, check=True)
    subprocess.run(["tar", "x", "-C", str(tree)], input=archive.stdout, check=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True, text=True
    )
    Path(site.stdout.strip(), "_libraries.pth").write_text(SITE + "\n")  # this venv's packages, not its .pth files
    install = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
    ]
    subprocess.run([*install, "-e", str(tree)], check=True, capture_output=True)
    subprocess.run([python, "-m", "compileall", "-q", str(tree / "chatcli")], check=True)
    return venv / "bin" / "chat"


QUESTION = ["-t", "T", "What is the capital of France?"]
TICK = os.sysconf("SC_CLK_TCK")


def worker_pid(chat: str, env: dict[str, str]) -> int:
    status = subprocess.run([chat, "worker", "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
    return int(json.loads(status.stdout)["pid"])


def worker_cpu(pid: int) -> float:
    """CPU seconds of the worker and of the children it reaped (utime, stime, cutime, cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICK


def at_the_prompt(command: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds from the spawn of ``chat`` (a terminal, no question) to its prompt, and from Enter to the answer."""
    chat = PtyChat([], env, cwd, [command])
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
    parser.add_argument("--head", default="HEAD", help="the commit measured")
    parser.add_argument("--out", default=str(HERE / "results-question-cpu.md"))
    args = parser.parse_args()
    sides = ("head", "base")
    client: dict[str, list[float]] = {name: [] for name in (*sides, "python")}
    worker = dict.fromkeys(sides, 0.0)
    paint: dict[str, list[float]] = {name: [] for name in sides}
    turn: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as scratch, FakeOpenAIServer() as server:
        work = Path(scratch)
        chats = {
            name: str(installed(work, name, commit)) for name, commit in (("head", args.head), ("base", args.base))
        }
        envs, pids = {}, {}
        for name, chat in chats.items():
            home = work / f"home-{name}"
            (home / "run").mkdir(parents=True, mode=0o700)
            env = {k: v for k, v in chat_env(server.base_url, home).items() if not k.startswith("PYTHON")}
            envs[name] = dict(env, XDG_RUNTIME_DIR=str(home / "run"), CHATCLI_WORKER="1")
            for _ in range(3):  # the worker started, the thread made, a fork or two run
                timed_run([chat, *QUESTION], env=envs[name], cwd=home)
            pids[name] = worker_pid(chat, envs[name])
        try:
            for i in range(args.runs):
                client["python"].append(
                    timed_run([str(Path(chats["head"]).with_name("python")), "-c", "pass"], env=envs["head"])[2]
                )
                for name in sides if i % 2 == 0 else sides[::-1]:
                    before = worker_cpu(pids[name])
                    _, proc, cpu = timed_run([chats[name], *QUESTION], env=envs[name])
                    if proc.returncode != 0 or not proc.stdout:
                        raise SystemExit(f"{name}: chat failed: {proc.stderr.decode(errors='replace')[-500:]}")
                    worker[name] += worker_cpu(pids[name]) - before
                    client[name].append(cpu)
            for name in sides:  # every run was the worker's, or the comparison is of nothing
                if worker_pid(chats[name], envs[name]) != pids[name]:
                    raise SystemExit(f"{name}: the worker changed during the run")
        finally:
            for name in sides:
                subprocess.run([chats[name], "worker", "stop"], env=envs[name], capture_output=True, timeout=60)
        for i in range(args.prompt_runs):
            for name in sides if i % 2 == 0 else sides[::-1]:
                painted, answer = at_the_prompt(chats[name], envs[name], work)
                paint[name].append(painted)
                turn[name].append(answer)
    mean = {name: (sum(client[name]) + worker[name]) / args.runs for name in sides}
    ratio = mean["head"] / mean["base"]

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    def paired(xs: dict[str, list[float]]) -> str:
        return f"{med([h / b for h, b in zip(xs['head'], xs['base'])]):.2f}x"

    rows = [
        ("35. python -c pass, head's install's interpreter (CPU)", ms(med(client["python"]))),
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
