"""Row 27: a one-shot through the warm worker, one commit's code against another's: the caller's wall time and the
CPU of the worker's forks.

First asked of the command line kept by the app (``chatcli.app.shared._App.commands``): Typer builds chat's click
commands from its functions (6 ms in a warm process) each time it is asked, and a fork of the worker ran
``cli.main`` and built them again for every one-shot. Built in the worker before it forks, a fork's CPU and the
caller's wall time were the same as before (1.01-1.02x, 1.00-1.01x in two runs): the build was not what a fork's 80 ms is spent on, and
the worker does not build it ahead.

Runs a commit's code (``--head``, HEAD by default) against a base commit (``--base``; by default the parent of the
commit that added ``_App.commands``), both unpacked with ``git archive`` (``python -m chatcli`` with PYTHONPATH set):
two trees unpacked alike, not this checkout against an unpacked copy, which differ by some 10% of a fork's CPU with
the same code. Each tree has a home and a worker of its own, started before the first round; the rounds alternate which goes first, each run paired with the
other's; ratios are medians of the per-pair ratios. Wall time of ``chat QUESTION`` from the spawn to the exit (what
the worker's fork does is the caller's wait), and the CPU of the worker's forks (what the worker reaped, from /proc)
over the rounds. The fake OpenAI server (tests/fakeserver.py) answers at once.

    .venv/bin/python benchmarks/worker_fork_bench.py [--runs N] [--base REV] [--head REV]

Writes the table to benchmarks/results-worker-fork.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench import chat_env, timed_run  # noqa: E402
from report import report  # noqa: E402
from web_bench import base_tree, med  # noqa: E402

from tests.fakeserver import FakeOpenAIServer  # noqa: E402

PY = sys.executable


def default_base() -> str:
    """The parent of the commit that added ``_App.commands`` (HEAD while it is not committed yet)."""
    added = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-S", "def commands(self)", "--format=%H", "--", "chatcli/app/shared.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def forks_cpu(env: dict[str, str]) -> float:
    """The CPU seconds of the forks the worker has reaped (user + system), from its /proc entry."""
    status = subprocess.run([PY, "-m", "chatcli", "worker", "status"], env=env, capture_output=True, text=True).stdout
    pid = int(status.split("pid ", 1)[1].split(",", 1)[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--base", default=None, help="the commit to compare with")
    parser.add_argument("--head", default="HEAD", help="the commit measured")
    parser.add_argument("--out", default=str(HERE / "results-worker-fork.md"))
    args = parser.parse_args()
    base = args.base or default_base()
    walls: dict[str, list[float]] = {"branch": [], "base": []}
    cpu: dict[str, float] = {}
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as scratch, FakeOpenAIServer() as server:
        work = Path(scratch)
        trees = {"branch": base_tree(work / "head", args.head), "base": base_tree(work, base)}
        envs: dict[str, dict[str, str]] = {}
        for name, tree in trees.items():
            home = work / f"home-{name}"
            runtime = home / "run"
            runtime.mkdir(parents=True, mode=0o700)
            envs[name] = {
                **chat_env(server.base_url, home),
                "PYTHONPATH": str(tree),
                "XDG_RUNTIME_DIR": str(runtime),
                "CHATCLI_WORKER": "1",
            }
            for _ in range(3):  # the worker started and a fork or two run
                timed_run([PY, "-m", "chatcli", "warm up"], env=envs[name], cwd=home)
        try:
            before = {name: forks_cpu(envs[name]) for name in trees}
            for i in range(args.runs):
                order = ["branch", "base"] if i % 2 == 0 else ["base", "branch"]
                got: dict[str, float] = {}
                for name in order:
                    wall, proc, _ = timed_run([PY, "-m", "chatcli", "hello there"], env=envs[name])
                    if proc.returncode != 0:
                        raise SystemExit(f"{name}: chat failed: {proc.stderr.decode(errors='replace')[-500:]}")
                    got[name] = wall
                    walls[name].append(wall)
                ratios.append(got["branch"] / got["base"])
            cpu = {name: (forks_cpu(envs[name]) - before[name]) / args.runs for name in trees}
            for name in trees:  # every run was the worker's, or the comparison is of nothing
                status = subprocess.run(
                    [PY, "-m", "chatcli", "worker", "status"], env=envs[name], capture_output=True, text=True
                )
                if "running" not in status.stdout:
                    raise SystemExit(f"{name}: no worker answered: {status.stdout} {status.stderr}")
        finally:
            for name in trees:
                subprocess.run([PY, "-m", "chatcli", "worker", "stop"], env=envs[name], capture_output=True)
    rows = [
        ("27. chat QUESTION through the worker, base", f"{med(walls['base']) * 1000:.0f} ms"),
        ("27. chat QUESTION through the worker, head", f"{med(walls['branch']) * 1000:.0f} ms"),
        ("27. head / base, wall (paired)", f"{med(ratios):.2f}x"),
        ("27. a fork's CPU, base", f"{cpu['base'] * 1000:.0f} ms"),
        ("27. a fork's CPU, head", f"{cpu['branch'] * 1000:.0f} ms"),
        ("27. head / base, a fork's CPU", f"{cpu['branch'] / cpu['base']:.2f}x"),
    ]
    print(report(rows, args.runs, args.out, f"{args.head} against {base}; medians of {args.runs} paired rounds"))
    return 0


if __name__ == "__main__":
    os.environ.pop("CHATCLI_WORKER", None)
    raise SystemExit(main())
