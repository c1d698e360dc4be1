"""Row 32: ``.ci/run``, one commit's against another's, from clean clones, the two run at the same time.

Each commit is cloned afresh and its ``.ci/run`` (a venv, the install, the servers, lint, types, the suite, the
conformance suite, the local model) runs from nothing, as CI runs it, both at once so that the machine's speed is
the same for both; each run's wall time, exit and what its suite said. ``.ci/run`` is started with SIGINT and SIGQUIT
at their defaults, as in a terminal's foreground (a script's background job ignores them, and the tests that press
Ctrl-C would wait for nothing). pip's and the local model's wheel caches are the machine's, for both alike. Results go
to ``benchmarks/results-ci-run.md``.

    .venv/bin/python benchmarks/ci_run_bench.py --base REV    # about 25 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SUMMARY = re.compile(r"^=* ?(\d+ (?:passed|failed).*) in [\d.]+s", re.M)


# SIGINT and SIGQUIT at their defaults, then the command: what a terminal's foreground gives a program.
DEFAULTS = (
    "import os, signal, sys; [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGQUIT)]; "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def clean_environment() -> dict[str, str]:
    """This environment without this checkout's venv or any of chat's variables (the tests' servers and clients
    among them): what .ci/run sets up, it sets up itself."""
    venv = os.environ.get("VIRTUAL_ENV")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if not venv or not p.startswith(venv)]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith("CHATCLI_")}
    return {**env, "PATH": os.pathsep.join(path)}


def clone(commit: str, target: Path) -> str:
    """A clean clone of this repository at ``commit``; its short id."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "-q", commit], check=True)
    return subprocess.run(
        ["git", "-C", str(target), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def ci_run(tree: Path) -> tuple[float, int, str]:
    """``tree``'s ``.ci/run``: its wall time, its exit code and its suite's summary line."""

    log = tree / "ci-run.log"
    began = time.monotonic()
    with open(log, "wb") as out:
        code = subprocess.run(
            [sys.executable, "-c", DEFAULTS, ".ci/run"],
            cwd=tree, env=clean_environment(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        ).returncode  # fmt: skip
    took = time.monotonic() - began
    said = SUMMARY.findall(log.read_text(errors="replace"))
    return took, code, said[0] if said else "(no suite summary: see the log)"


def main() -> None:
    sys.path.insert(0, str(HERE))
    from report import report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the commit to compare with")
    parser.add_argument("--head", default="HEAD", help="the commit measured")
    parser.add_argument("--out", default=str(HERE / "results-ci-run.md"))
    given = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatcli-ci-") as scratch:
        trees = {"base": Path(scratch) / "base", "head": Path(scratch) / "head"}
        names = {"base": clone(given.base, trees["base"]), "head": clone(given.head, trees["head"])}
        with ThreadPoolExecutor(2) as pool:
            done = dict(zip(trees, pool.map(ci_run, trees.values())))
    rows = [(f"32. {side} ({names[side]}): wall", f"{done[side][0]:.0f} s") for side in trees]
    rows += [(f"32. {side}: exit", str(done[side][1])) for side in trees]
    ratio = done["head"][0] / done["base"][0]
    whole = done["head"][1] == done["base"][1] == 0  # a failing step ends .ci/run there: less work, less time
    rows.append(
        ("32. head / base, wall", f"{ratio:.2f}x" if whole else f"{ratio:.2f}x (not like for like: an exit not 0)")
    )
    rows += [(f"32. {side}'s suite said", done[side][2]) for side in trees]
    report(rows, 1, given.out, f"`.ci/run`, HEAD against {given.base}, both at once from clean clones")


if __name__ == "__main__":
    main()
