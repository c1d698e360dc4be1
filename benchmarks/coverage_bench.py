"""Row 29: the package's line coverage by the whole suite, one commit's, every process the tests start included.

The commit is unpacked as benchmarks/fast_run_bench.py unpacks it (``git archive``, PYTHONPATH set to its tree).
coverage.py follows every Python process the suite starts (the installed ``chat``, the worker, ``chat serve``, the
MCP host) through a ``sitecustomize`` on PYTHONPATH that calls ``coverage.process_startup()``; the data files are
combined and the total read; a forked child (the warm processes' of the tests, the worker's) measures its own and
saves it as it ends, ``os._exit`` too (coverage.py's ``patch = fork, _exit``). Only the tree's files count; the
installed checkout's count as the tree's when the tree is HEAD and the checkout clean (a process started with an
environment of its own runs the installed chat).

    .venv/bin/python benchmarks/coverage_bench.py [--rev REV] [--workers N] [-- PYTEST ARGS]

Needs coverage.py in the venv (``pip install coverage``). Writes benchmarks/results-coverage.md. Takes the suite's
time and a half.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fast_run_bench import PY, environment, unpacked  # noqa: E402
from report import report  # noqa: E402

STARTUP = "import coverage\ncoverage.process_startup()\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", default="HEAD", help="the commit measured")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results-coverage.md"))
    parser.add_argument("pytest", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coverage-") as scratch:
        tree, site, data = unpacked(args.rev, Path(scratch) / "tree"), Path(scratch) / "site", Path(scratch) / "data"
        site.mkdir()
        data.mkdir()
        (site / "sitecustomize.py").write_text(STARTUP)
        rc = Path(scratch) / "coveragerc"
        installed = Path(
            subprocess.run(
                [PY, "-c", "import chatcli; print(chatcli.__file__)"],
                capture_output=True,
                text=True,
                cwd=HERE.parent.parent,
            ).stdout.strip()  # fmt: skip
        ).parent
        # A process the suite starts with an environment of its own (a background reply's, a server's child) runs
        # the installed checkout, not the tree: counted as the tree's files when they are the same commit's.
        same = (
            args.rev == "HEAD"
            and not subprocess.run(["git", "-C", str(HERE.parent), "diff", "--quiet", "HEAD"]).returncode
        )
        paths = f"[paths]\nchatcli =\n    {tree}/chatcli\n    {installed}\n" if same else ""
        sources = f"\n    {tree}/chatcli\n    {installed}" if same else f" {tree}/chatcli"
        rc.write_text(
            f"[run]\nsource ={sources}\nparallel = True\ndata_file = {data}/.coverage\nconcurrency = thread\n"
            f"sigterm = true\npatch =\n    fork\n    _exit\n{paths}"
        )
        env = environment(tree)
        env["PYTHONPATH"] = f"{tree}:{site}"
        env["COVERAGE_PROCESS_START"] = str(rc)
        command = [PY, "-m", "pytest", "-n", str(args.workers), "-q", "-p", "no:cacheprovider", *args.pytest]
        run = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
        said = (run.stdout.strip().splitlines() or [""])[-1]
        subprocess.run([PY, "-m", "coverage", "combine", "-q", f"--rcfile={rc}"], cwd=tree, capture_output=True)
        reported = subprocess.run(
            [PY, "-m", "coverage", "report", f"--rcfile={rc}"], cwd=tree, capture_output=True, text=True
        )
        table = reported.stdout
    total = re.search(r"^TOTAL\s+(\d+)\s+(\d+)\s+(\d+)%", table, re.M)
    if total is None:
        said = f"{run.stdout[-1500:]}{run.stderr[-1500:]}\n{reported.stderr[-1000:]}"
        raise SystemExit(f"no coverage total:\n{table[-2000:]}\nthe suite said:\n{said}")
    statements, missed, percent = total.groups()
    rows = [
        (
            f"29. line coverage of the package, {args.rev}",
            f"{percent}% ({int(statements) - int(missed)} of {statements})",
        ),
        ("29. the suite said", said),
    ]
    print(report(rows, 1, args.out, f"{args.rev}, the whole suite with {args.workers} workers, once"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
