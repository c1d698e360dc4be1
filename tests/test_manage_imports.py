"""The thread commands start as fast as `chat --version`: none of them imports the model stack.

Each runs in a real process (imports are per process) that reports its ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_thread_commands import seeded_db, seeded_pg, two_threads  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("langchain_core", "langchain_openai", "langgraph", "openai", "langsmith")

# Runs `chat ARGS...` in this interpreter, then reports the heavy modules it loaded on stderr.
REPORT = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("\\nLOADED " + json.dumps(sorted(
    m for m in sys.modules if m.split(".")[0] in %r)) + "\\n"))
sys.argv = ["chat", *sys.argv[1:]]
from chatcli.app.cli import main
sys.exit(main())
""" % (HEAVY,)


def loaded(env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", REPORT, *args], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    return done.returncode, json.loads(done.stderr.rsplit("LOADED ", 1)[1])


def test_thread_commands_import_no_langchain_langgraph_or_openai(two_threads):  # noqa: F811
    env = {**two_threads, "PYTHONPATH": str(ROOT)}
    for args in (
        ["threads"],
        ["threads", "--json"],
        ["show", "alpha"],
        ["export", "alpha"],
        ["export", "alpha", "-f", "json"],
        ["search", "penguins"],
        ["search", "zebras"],
        ["title", "beta", "Rotations"],
        ["roles"],
        ["rm", "--yes", "beta"],
    ):
        code, heavy = loaded(env, *args)
        assert code in (0, 1) and heavy == [], (args, code, heavy[:5])
