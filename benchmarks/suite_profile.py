"""Row 31: where the suite's CPU goes. Each test runs alone, one after another (``pytest -n 0``), and the whole
machine's CPU (``/proc/stat``) from its set-up to its teardown is charged to it: the processes it starts, the servers
it wakes, the warm processes' forks, which no one process's own accounting holds all of. Run it on an idle machine.
It prints the files that cost most, the costliest tests and what the two parts of the suite cost (the fast run's
tests and the ``e2e or slow`` rest), and writes them to ``benchmarks/results-suite-profile.md``.

    .venv/bin/python benchmarks/suite_profile.py -m "e2e or slow"       # about 20 minutes on 2 cores
    .venv/bin/python benchmarks/suite_profile.py tests/test_local.py    # pytest's arguments, as given
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

HERE = Path(__file__).resolve().parent
_TICK = os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """Seconds of CPU the whole machine has spent since it started (user, nice, system, interrupts)."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _wait, irq, softirq = (int(n) for n in stat.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / _TICK


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Iterator[None]:
    """(As pytest's plugin, ``-p suite_profile``.) One line per test: its id, marks, CPU and wall time."""
    began, cpu = time.monotonic(), machine_cpu()
    yield
    marks = sorted({m.name for m in item.iter_markers()} & {"e2e", "slow"})
    row = [item.nodeid, marks, machine_cpu() - cpu, time.monotonic() - began]
    with open(os.environ["SUITE_PROFILE_OUT"], "a") as out:
        out.write(json.dumps(row) + "\n")


def main() -> None:
    sys.path.insert(0, str(HERE))
    from report import report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=15, help="how many files and tests to name")
    parser.add_argument("--out", default=str(HERE / "results-suite-profile.md"))
    known, pytest_args = parser.parse_known_args()
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as rows_file:
        env = {**os.environ, "SUITE_PROFILE_OUT": rows_file.name, "PYTHONPATH": str(HERE)}
        command = [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider", "-p", "suite_profile"]
        said = subprocess.run([*command, *pytest_args], cwd=HERE.parent, env=env, capture_output=True, text=True)
        rows = [json.loads(line) for line in rows_file]
    by_file, tests = Counter[str](), Counter[str]()
    parts = {"fast run": [0.0, 0], "e2e or slow": [0.0, 0]}
    for test, marks, cpu, _wall in rows:
        by_file[test.split("::")[0]] += cpu
        tests[test] += cpu
        part = parts["e2e or slow" if marks else "fast run"]
        part[0], part[1] = part[0] + cpu, part[1] + 1
    lines = [(f"31. {name}: {count} tests", f"{cpu:.0f} s") for name, (cpu, count) in parts.items() if count]
    lines += [(f"31. file {name}", f"{cpu:.1f} s") for name, cpu in by_file.most_common(known.top)]
    lines += [(f"31. test {name}", f"{cpu:.1f} s") for name, cpu in tests.most_common(known.top)]
    summary = said.stdout.strip().splitlines()[-1:] or said.stderr.strip().splitlines()[-1:]
    lines.append(("31. pytest said", summary[0] if summary else f"exit {said.returncode}"))
    how = f"each test's share of the machine's CPU, run one at a time; pytest {' '.join(pytest_args)}"
    report(lines, 1, known.out, how)


if __name__ == "__main__":
    main()
