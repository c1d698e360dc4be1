"""A one-shot's imports against a recorded budget, so that the next 0.3 s of start-up is caught in the change
that adds it (run by .ci/run after the tests).

Run::

    .venv/bin/python benchmarks/import_budget.py            # check: exit 1 when a one-shot imports past the budget
    .venv/bin/python benchmarks/import_budget.py --record   # write the budget from this run (say why in the commit)

One ``chat QUESTION`` runs the cold way (``CHATCLI_WORKER=0``: what a one-shot costs without the warm worker)
against the fake OpenAI-compatible server (tests/fakeserver.py, in this process), under ``python -X importtime``.
What it imports is counted (modules, and the top-level packages they belong to) and compared with
``benchmarks/import-budget.json``: more modules than the budget's count and 3 % (a heavy library pulls in
dozens), or a top-level package the budget does not list (a new dependency on the one-shot's path), fails.
Counts, not times, are the gate: they do not change with the machine's load. The import time the run measured
is printed beside them, for the reader.
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
sys.path.insert(0, str(HERE.parent))

from tests.fakeserver import FakeOpenAIServer  # noqa: E402

BUDGET = HERE / "import-budget.json"
MARGIN = 1.03


def one_shot_imports() -> tuple[list[str], float]:
    """The modules a cold one-shot imports, in order, and their import time in seconds (their own, summed)."""
    with FakeOpenAIServer() as server, tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "XDG_CONFIG_HOME": f"{home}/config",
            "XDG_DATA_HOME": f"{home}/data",
            "XDG_RUNTIME_DIR": home,
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-budget",
            "CHATCLI_MODEL": "gpt-fake",
            "CHATCLI_WORKER": "0",
        }
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "chatcli", "What is the capital of France?"],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode != 0:
        raise SystemExit(f"the one-shot failed ({done.returncode}): {done.stderr[-800:]}")
    names, own = [], 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|", 2))
        if not name.strip().startswith("__editable__"):  # the editable install's finder: named by the version
            names.append(name.strip())
        own += int(self_us)
    return names, own / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help="write the budget from this run")
    args = parser.parse_args()
    names, seconds = one_shot_imports()
    # Private top-level names (``_ssl``, a site hook's ``_distutils_hack``) are the interpreter's and its venv's.
    packages = sorted({name.split(".")[0] for name in names if not name.startswith("_")})
    if args.record:
        BUDGET.write_text(json.dumps({"modules": len(names), "packages": packages}, indent=1) + "\n")
        print(f"recorded: a one-shot imports {len(names)} modules of {len(packages)} packages ({seconds:.2f} s)")
        return 0
    budget = json.loads(BUDGET.read_text())
    allowed = int(budget["modules"] * MARGIN)
    new = sorted(set(packages) - set(budget["packages"]))
    print(
        f"a one-shot imports {len(names)} modules (budget {budget['modules']}, at most {allowed}) of "
        f"{len(packages)} packages; {seconds:.2f} s of import time here"
    )
    failed = False
    if len(names) > allowed:
        print(f"FAIL: {len(names) - budget['modules']} modules more than the budget", file=sys.stderr)
        failed = True
    if new:
        print(f"FAIL: packages new on a one-shot's path: {', '.join(new)}", file=sys.stderr)
        failed = True
    if failed:
        print("import them lazily where they are used, or record a new budget (--record) and say why", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
