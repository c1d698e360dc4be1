"""Row 25: what the test suite pays again and again, measured the way the suite now pays it and the way it did.

25a. A test MCP server written with FastMCP (tests/mcp/bars.py, each era) started, asked to initialize and stopped
(its stdin closed), as chat starts one for a test: ``python bars.py`` against the warm start the suite uses
(tests/mcp/warm.py: forked from a process that imported the SDK once). 25b, where PostgreSQL is installed: a test's
database copied from a template with chat's schema (what each PostgreSQL test gets) on a server whose files are on
a disk's file system (``/tmp`` here) against one in memory (``/dev/shm``). 25c. ``chat acp`` (the tests' editor door as a
process) started, asked to initialize and stopped: the installed ``chat acp`` against the warm start the suite uses
for its ``chat acp`` and ``chat serve`` processes (tests/mcp_servers.chat_argv). 25d. A one-shot answered by the fake
server: the installed ``chat`` against the same warm start (the tests' ``cold-host`` door and the sign-ins of
tests/test_mcp_oauth.py). Order alternates each round; ratios are
the medians of the per-round ratios; CPU is the whole machine's (``/proc/stat``), as the warm server's forks and the
database server are not this process's children. Results go to ``benchmarks/results-suite.md``.

    .venv/bin/python benchmarks/suite_bench.py              # about a minute
    .venv/bin/python benchmarks/suite_bench.py --runs 40
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import report  # noqa: E402

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}

ACP_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": 1, "clientCapabilities": {}},
}


def _machine_cpu() -> float:
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    return (int(fields[0]) + int(fields[1]) + int(fields[2])) / os.sysconf("SC_CLK_TCK")


def _timed(work: Callable[[], None]) -> tuple[float, float]:
    cpu, start = _machine_cpu(), time.perf_counter()
    work()
    return time.perf_counter() - start, _machine_cpu() - cpu


def _server_round(argv: list[str], env: dict[str, str], initialize: dict[str, Any] = INITIALIZE) -> None:
    """Start the server, have its answer to initialize, close its stdin and wait for it to end."""
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(initialize).encode() + b"\n")
    process.stdin.flush()
    answer = json.loads(process.stdout.readline())
    assert answer.get("id") == 1 and "result" in answer, answer
    process.stdin.close()
    process.wait(30)


def _paired(runs: int, now: Callable[[], None], before: Callable[[], None]) -> dict[str, float]:
    rows: list[tuple[float, float, float, float]] = []
    for run in range(runs):
        if run % 2:
            b, n = _timed(before), _timed(now)
        else:
            n, b = _timed(now), _timed(before)
        rows.append((n[0], n[1], b[0], b[1]))
    return {
        "now_wall": statistics.median(r[0] for r in rows),
        "now_cpu": statistics.median(r[1] for r in rows),
        "before_wall": statistics.median(r[2] for r in rows),
        "before_cpu": statistics.median(r[3] for r in rows),
        "wall_ratio": statistics.median(r[0] / r[2] for r in rows),
    }


def _rows(now: str, before: str, ratio: str, got: dict[str, float], digits: int = 2) -> list[tuple[str, str]]:
    """A paired measurement's three rows: the way the suite pays it now, the way it did, and their ratio."""
    return [
        (now, f"{got['now_wall'] * 1000:.0f} ms, {got['now_cpu']:.{digits}f} s of CPU"),
        (before, f"{got['before_wall'] * 1000:.0f} ms, {got['before_cpu']:.{digits}f} s of CPU"),
        (ratio, f"{got['wall_ratio']:.2f}x"),
    ]


def mcp_rows(runs: int) -> list[tuple[str, str]]:
    from tests import mcp_servers

    bars = mcp_servers.MCP / "bars.py"
    rows = []
    for era, env_extra in (("2025", {}), ("2026", {"MCP_ERA": "2026"})):
        env = {**os.environ, **env_extra}
        warm = mcp_servers.argv(bars, env=env_extra)
        cold = mcp_servers.argv(bars, env=env_extra, warm=False)
        _server_round(warm, env)  # the warm server of the era is up before the first round
        got = _paired(runs, lambda: _server_round(warm, env), lambda: _server_round(cold, env))
        rows += _rows(
            f"25a. a FastMCP test server of {era} started warm, initialized, stopped",
            "25a. the same as `python bars.py`",
            f"25a. warm / cold, {era} (paired)",
            got,
        )
    return rows


@contextmanager
def _chat_home(**extra: str) -> Iterator[dict[str, str]]:
    """chat's environment in a home of its own (the worker off), with ``extra``; the home removed at the end."""
    home = tempfile.mkdtemp(prefix="chatcli-bench-")
    try:
        yield {"PATH": os.environ.get("PATH", ""), "HOME": home, "XDG_RUNTIME_DIR": home, "CHATCLI_WORKER": "0",
               "OPENAI_API_KEY": "sk-bench", **extra}  # fmt: skip
    finally:
        shutil.rmtree(home, ignore_errors=True)


def chat_rows(runs: int) -> list[tuple[str, str]]:
    from tests import mcp_servers
    from tests.helpers import CHAT

    warm, cold = mcp_servers.chat_argv(CHAT, "acp"), [str(CHAT), "acp"]
    with _chat_home() as env:
        _server_round(warm, env, ACP_INITIALIZE)  # the warm process is up before the first round
        got = _paired(
            runs, lambda: _server_round(warm, env, ACP_INITIALIZE), lambda: _server_round(cold, env, ACP_INITIALIZE)
        )
    return _rows(
        "25c. `chat acp` started warm, initialized, stopped",
        "25c. the same as the installed `chat acp`",
        "25c. warm / cold (paired)",
        got,
    )


def _one_shot(argv: list[str], env: dict[str, str]) -> None:
    """``chat "hello"`` answered by the fake server, its stdin empty."""
    done = subprocess.run([*argv, "hello"], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr


def one_shot_rows(runs: int) -> list[tuple[str, str]]:
    """25d. A one-shot (the tests' cold-host door, a sign-in of tests/test_mcp_oauth.py): warm against the installed
    ``chat``, both with the worker off, against tests/fakeserver.py's OpenAI fake."""
    from tests import mcp_servers
    from tests.fakeserver import FakeOpenAIServer
    from tests.helpers import CHAT

    warm, cold = mcp_servers.chat_argv(CHAT), [str(CHAT)]
    with FakeOpenAIServer() as server, _chat_home(OPENAI_BASE_URL=server.base_url, CHATCLI_MODEL="gpt-fake") as env:
        _one_shot(warm, env)  # the warm process is up (and the database made) before the first round
        got = _paired(runs, lambda: _one_shot(warm, env), lambda: _one_shot(cold, env))
    return _rows(
        "25d. a one-shot `chat hello` started warm, answered",
        "25d. the same as the installed `chat`",
        "25d. warm / cold (paired)",
        got,
    )


def _postgres(where: str) -> tuple[str, str]:
    folder = tempfile.mkdtemp(prefix="chatcli-bench-pg-", dir=where)
    done = subprocess.run(
        [str(ROOT / ".ci" / "postgres"), "start", folder], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-300:])
    return done.stdout.strip(), folder


def database_rows(runs: int) -> list[tuple[str, str]]:
    if not (shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))):
        return [("25b. a test's database copied from its template", "skipped: PostgreSQL is not installed")]
    if not os.access("/dev/shm", os.W_OK):
        return [("25b. a test's database copied from its template", "skipped: no /dev/shm here")]
    from tests.stores import PgServer

    started = [_postgres("/dev/shm"), _postgres("/tmp")]
    try:
        memory, disk = (PgServer(dsn) for dsn, _folder in started)
        made: list[tuple[PgServer, str]] = []

        def copy(server: PgServer) -> Callable[[], None]:
            return lambda: made.append((server, server.create(server.schema_template)))

        got = _paired(runs, copy(memory), copy(disk))
        for server, name in made:
            server.drop(name)
        for server in (memory, disk):
            server.close()
    finally:
        for _dsn, folder in started:
            subprocess.run([str(ROOT / ".ci" / "postgres"), "stop", folder], capture_output=True, timeout=60)
            shutil.rmtree(folder, ignore_errors=True)
    return _rows(
        "25b. a test's database copied from its template, the server's files in /dev/shm",
        "25b. the same, the server's files in /tmp",
        "25b. memory / disk (paired)",
        got,
        digits=3,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="paired rounds of each (default 20)")
    args = parser.parse_args()
    rows = mcp_rows(args.runs) + database_rows(args.runs) + chat_rows(args.runs) + one_shot_rows(args.runs)
    report(rows, args.runs, str(HERE / "results-suite.md"), how=f"medians of {args.runs} paired rounds")


if __name__ == "__main__":
    main()
