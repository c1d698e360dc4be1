"""Row 28: the fast test run, one commit's against another's, the two run at the same time.

The fast run (``pytest -m "not e2e and not slow"``) is bound by the CPU on two cores, and a shared machine's speed
drifts from one minute to the next (the same run took 1 min 12 s and 3 min here on two days): one run, then the
other, measures the machine as much as the change. Here both commits are unpacked alike (``git archive``, each with
PYTHONPATH set to its own tree, the tests' files and chat's), their bytecode written by a collection first, then
their fast runs start together, two pytest-xdist workers each, and share the machine for as long as both run. What
is compared is each run's CPU (user + system, its workers and what they started, from ``wait4``) and its wall time;
rounds alternate which starts first. Each run's pytest is the child of a reaper (``REAPER``) that reaps, as init
would, what the suite leaves to end on its own (chat's warm worker, the MCP host, a background reply: daemons whose
parent has gone), so that their CPU is the run's too. A run that fails ends the benchmark: a comparison of runs that
did not pass is of nothing.

    .venv/bin/python benchmarks/fast_run_bench.py [--runs N] [--base REV] [--head REV] [--workers N] [--whole] [--skip EXPR]

``--whole`` runs the whole suite instead of the fast run; ``--skip`` leaves the tests a ``-k`` expression names out of
both runs (a base tree whose cells fail in this environment for a reason since fixed).

Writes the table to benchmarks/results-fast-run.md. About 7 minutes a round on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from report import report  # noqa: E402

PY = sys.executable
FAST = "not e2e and not slow"
# The one fast test that asks of the install, not the code: an unpacked tree is no checkout pip installed.
INSTALLED = "tests/test_install_hints.py::test_the_install_hint_names_this_checkout_and_no_registry_package"


def unpacked(commit: str, target: Path) -> Path:
    """The whole of ``commit``'s tree (the package, its tests, pyproject.toml), unpacked into ``target``."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(target, filter="data")
    overlay = ROOT / "tests" / "mcp" / ".mcp1"  # the old MCP SDK the tests' 2025 servers run on (tests/mcp/legacy.py)
    if overlay.is_dir() and (target / "tests" / "mcp").is_dir():
        shutil.copytree(overlay, target / "tests" / "mcp" / ".mcp1", dirs_exist_ok=True)
    return target


def environment(tree: Path) -> dict[str, str]:
    """The environment a tree's tests run in: its own code first on the path, its bytecode written."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "CHATCLI_TEST_PG")}
    env["PYTHONPATH"] = str(tree)
    return env


def selection(whole: bool, skip: str | None) -> list[str]:
    """pytest's arguments choosing the tests: the fast run's marker (or the whole suite), less what ``skip`` names."""
    chosen = [] if whole else ["-m", FAST]
    return chosen + (["-k", f"not ({skip})"] if skip else [])


# A run's pytest as the child of a subreaper (prctl PR_SET_CHILD_SUBREAPER): every process it starts that outlives
# its parent comes here and is reaped as it ends, as init would (``wait4`` then counts it), up to 60 s after pytest
# ends; then ended.
REAPER = """
import ctypes, os, signal, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
pytest = subprocess.Popen(sys.argv[1:])
deadline = None
while True:
    try:
        pid, status = os.waitpid(-1, 0 if deadline is None else os.WNOHANG)
    except ChildProcessError:
        break
    if pid == pytest.pid:
        pytest.returncode, deadline = os.waitstatus_to_exitcode(status), time.monotonic() + 60
    elif pid == 0 and time.monotonic() > deadline:
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid()):
                    os.kill(int(entry), signal.SIGKILL)
            except (OSError, IndexError):
                pass
    elif pid == 0:
        time.sleep(0.2)
sys.exit(pytest.returncode)
"""


def started(tree: Path, workers: int, chosen: list[str]) -> subprocess.Popen[bytes]:
    """The tree's run, started; what it says goes to a file beside the tree (a pipe nobody reads would fill)."""
    command = [
        PY,
        "-c",
        REAPER,
        PY,
        "-m",
        "pytest",
        *chosen,
        "-n",
        str(workers),
        "-q",
        "-p",
        "no:cacheprovider",
        "--deselect",
        INSTALLED,
    ]
    with open(tree.parent / f"{tree.name}.log", "wb") as log:
        return subprocess.Popen(command, cwd=tree, env=environment(tree), stdout=log, stderr=subprocess.STDOUT)


def finished(
    name: str, proc: subprocess.Popen[bytes], began: float, log: Path, failing: bool = False
) -> tuple[float, float, str]:
    """The run's CPU seconds and wall seconds once it ends, and its last line; exits if it failed, unless ``failing``
    (the whole suite: its failures are then said in the table, a base tree's cells that fail in this environment)."""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text(errors="replace").strip()
    last = output.splitlines()[-1] if output else ""
    failures = [line.split(" - ")[0] for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    last += f" ({'; '.join(failures)})" if failures else ""  # which, to be run again alone
    if proc.returncode != 0 and not failing:
        raise SystemExit(f"{name}'s run failed:\n{output[-3000:]}")
    return usage.ru_utime + usage.ru_stime, wall, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--base", required=True, help="the commit to compare with")
    parser.add_argument("--head", default="HEAD", help="the commit measured")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers for each of the two runs")
    parser.add_argument("--whole", action="store_true", help="the whole suite, not the fast run")
    parser.add_argument("--skip", help="a pytest -k expression of tests left out of both runs (say why in the table)")
    parser.add_argument("--out", default=str(HERE / "results-fast-run.md"))
    args = parser.parse_args()
    chosen = selection(args.whole, args.skip)
    cpu: dict[str, list[float]] = {"head": [], "base": []}
    wall: dict[str, list[float]] = {"head": [], "base": []}
    said: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="fast-run-") as scratch:
        trees = {name: unpacked(rev, Path(scratch) / name) for name, rev in (("head", args.head), ("base", args.base))}
        for tree in trees.values():  # bytecode written, the old MCP SDK's overlay built: not part of what is timed
            subprocess.run(
                [PY, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *chosen],
                cwd=tree,
                env=environment(tree),
                capture_output=True,
                check=True,
            )
        for i in range(args.runs):
            order = ["head", "base"] if i % 2 == 0 else ["base", "head"]
            runs = {}
            for name in order:
                runs[name] = (started(trees[name], args.workers, chosen), time.perf_counter())
            with ThreadPoolExecutor(len(runs)) as waiting:  # each run's end read when it comes, whichever is first
                ends = {
                    name: waiting.submit(finished, name, *runs[name], trees[name].parent / f"{name}.log", args.whole)
                    for name in order
                }
                for name, end in ends.items():
                    seconds, took, last = end.result()
                    cpu[name].append(seconds)
                    wall[name].append(took)
                    said[name] = last
    total = {name: sum(cpu[name]) for name in cpu}
    walls = {name: sum(wall[name]) for name in wall}
    what = "the whole suite" if args.whole else "the fast run"
    ran = {name: sum(int(n) for n in re.findall(r"(\d+) (?:passed|failed)", said[name])) or 1 for name in said}
    per = {name: total[name] / ran[name] for name in total}
    rows = [
        (f"28. {what}'s CPU, base (each round's mean)", f"{total['base'] / args.runs:.0f} s"),
        (f"28. {what}'s CPU, head", f"{total['head'] / args.runs:.0f} s"),
        ("28. head / base, CPU", f"{total['head'] / total['base']:.2f}x"),
        ("28. head / base, CPU per test run", f"{per['head'] / per['base']:.2f}x"),
        (f"28. {what}'s wall time, base (sharing the machine with head's)", f"{walls['base'] / args.runs:.0f} s"),
        (f"28. {what}'s wall time, head", f"{walls['head'] / args.runs:.0f} s"),
        ("28. head / base, wall", f"{walls['head'] / walls['base']:.2f}x"),
        ("28. base said", said["base"]),
        ("28. head said", said["head"]),
    ]
    how = f"{what}, {args.head} against {args.base}; {args.runs} round(s), both at once, {args.workers} workers each"
    how += f"; left out of both: {args.skip}" if args.skip else ""
    print(report(rows, args.runs, args.out, how))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
