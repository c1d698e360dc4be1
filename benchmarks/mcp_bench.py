"""Row 14: what MCP servers in mcp.json cost when no tool is called, and what the first call costs.

Private homes, run side by side round by round (order rotated): one with no mcp.json, one
whose mcp.json lists three copies of the FastMCP test server ``tests/mcp/bars.py`` over stdio
(8 tools each) as servers of MCP's 2025 revisions (mcp 1.x), their listings cached by a first run;
for the one-shot, two more: the same three as servers of the 2026-07-28 revision (mcp 2.x) saying
their lists stay good a day (``ttlMs``), and saying 0 (mcp's default: stale at once, which a one-shot
without the worker lists again only when it uses the server). Each server writes a line to a file
when it starts: the run fails if a question that calls no tool started one.

- *one-shot*: ``chat QUESTION`` (stdout a pipe, stdin empty), wall and CPU (the child and what it
  waited for), the request must offer 21 MCP tools (0 with none);
- *worker*: the same with the warm worker on (``CHATCLI_WORKER=1``), the worker started before the
  first round, three pairs a round; the run fails unless the worker answered every one;
- *prompt*: ``chat`` in a pseudo-terminal: spawn -> prompt drawn, and spawn -> the answer of ``hi``
  typed the moment the prompt shows;
- *first call*: ``chat --yes --jsonl`` whose reply calls ``bars1_add`` twice (three servers offer ``add``: each its SERVER_TOOL): the seconds of each call as
  chat reports them (the first starts the server, the second finds it up), for a server of each era;
  and through the warm worker, the first call of a one-shot once the MCP host keeps the server from
  an earlier one.

Ratios are medians of per-round ratios. Runs this checkout (``python -m chatcli``, PYTHONPATH naming it); with
``--base TREE`` (a ``git worktree`` of an earlier commit) every run is paired with the same run of TREE's code (its own
homes and worker, which side goes first alternating by round), and rows ``this / TREE`` give each measure's ratio:

    .venv/bin/python benchmarks/mcp_bench.py [--runs N] [--base TREE]   # about 2 minutes on 2 cores (4 with --base)

Prints a Markdown table and writes it to benchmarks/results-mcp.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench import END_MARK, PY, PtyChat, answered, chat_env, prompt_shown, timed_run  # noqa: E402

from tests.fakeserver import FakeOpenAIServer, Reply, tool_calls  # noqa: E402

CHAT = [PY, "-m", "chatcli"]
BARS = ROOT / "tests" / "mcp" / "bars.py"
SERVERS, TOOLS = 3, 8
DAY_MS = str(24 * 3600 * 1000)
# Each home's servers: none, or three bars.py of an era (their environment).
HOMES = {
    "none": None,
    "mcp": {},
    "modern": {"MCP_ERA": "2026", "BARS_TTL_MS": DAY_MS},
    "stale": {"MCP_ERA": "2026", "BARS_TTL_MS": "0"},
}
QUESTION = "What is the capital of France?"
WORKER_PAIRS = 3  # worker runs of each home per round


def homes(work: Path, tag: str = "") -> dict[str, Path]:
    found = {name + tag: work / (name + tag) for name in HOMES}
    for name, home in found.items():
        (home / ".config" / "chatcli").mkdir(parents=True)
        era = HOMES[name.removesuffix(tag)]
        if era is None:
            continue
        marks = {"BARS_STARTS": str(work / ("starts-stale" if name.startswith("stale") else "starts"))}
        servers = {
            f"bars{i}": {"command": PY, "args": [str(BARS)], "env": {**marks, **era}} for i in range(1, SERVERS + 1)
        }
        (home / ".config" / "chatcli" / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
    return found


def plain_env(base_url: str, home: Path, tree: Path) -> dict[str, str]:
    """``chat_env`` running ``tree``'s code, with no other PYTHON* variable (as a user's shell has none: with
    PYTHONDONTWRITEBYTECODE a tree without bytecode would compile every module anew each run)."""
    env = {k: v for k, v in chat_env(base_url, home).items() if not k.startswith("PYTHON")}
    return {**env, "PYTHONPATH": str(tree), "CHATCLI_WORKER": "0"}


def starts(work: Path, name: str = "starts") -> int:
    path = work / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def offered(server: FakeOpenAIServer) -> int:
    return len(server.requests[-1].get("tools") or [])


def oneshot(env: dict[str, str], work: Path, server: FakeOpenAIServer, tools: int) -> tuple[float, float]:
    before = starts(work)
    wall, proc, cpu = timed_run([*CHAT, QUESTION], env=env, cwd=work)
    if proc.returncode != 0 or END_MARK not in proc.stdout.decode():
        raise SystemExit(f"one-shot failed: {proc.stderr.decode()[-400:]}")
    if offered(server) != tools or starts(work) != before:
        raise SystemExit(f"one-shot offered {offered(server)} tools (not {tools}) or started a server")
    return wall, cpu


def legacy_overlay() -> None:
    """mcp 1.x beside this checkout's 2.x, for the servers of the 2025 era (tests/mcp/legacy.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mcp_overlay", ROOT / "tests" / "mcp" / "legacy.py")
    assert spec is not None and spec.loader is not None
    overlay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(overlay)
    overlay.build()


def prompt(env: dict[str, str], work: Path) -> tuple[float, float]:
    chat = PtyChat([], env, work, command=CHAT)
    try:
        shown = chat.wait_for(prompt_shown)
        chat.send(b"hi\r")
        return shown, chat.wait_for(answered)
    finally:
        chat.close()


def call_seconds(env: dict[str, str], work: Path, server: FakeOpenAIServer, calls: int) -> list[float]:
    """The seconds chat reports for each ``bars1_add`` call of one reply (``calls`` of them)."""
    server.queue(tool_calls(*[("bars1_add", {"a": i, "b": 1}) for i in range(calls)]), Reply(f"done {END_MARK}"))
    proc = subprocess.run([*CHAT, "--yes", "--jsonl", "add"], env=env, cwd=work, capture_output=True, timeout=120)
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    seconds = [e["seconds"] for e in events if e["type"] == "tool_result" and e["status"] == "ok"]
    if proc.returncode != 0 or len(seconds) != calls:
        raise SystemExit(f"the tool calls failed: {proc.stderr.decode()[-400:]}")
    return seconds


def served(env: dict[str, str]) -> int:
    out = subprocess.run([*CHAT, "worker", "status", "--json"], env=env, capture_output=True, timeout=60).stdout
    return json.loads(out).get("served") or 0


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds (default 9)")
    parser.add_argument("--out", default=str(HERE / "results-mcp.md"))
    parser.add_argument("--base", help="another tree whose code each run is paired with (a worktree of 862c99e)")
    options = parser.parse_args()
    legacy_overlay()
    work = Path(tempfile.mkdtemp(prefix="mb", dir="/tmp"))
    trees = {"": ROOT, **({"@base": Path(options.base).resolve()} if options.base else {})}
    found = {k: h for tag in trees for k, h in homes(work, tag).items()}
    samples: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    with FakeOpenAIServer(default_reply=f"Paris. {END_MARK}") as server:
        # (the worker off: the warm worker is on by default, and has rows of its own below)
        every = {k + t: plain_env(server.base_url, found[k + t], tree) for t, tree in trees.items() for k in HOMES}
        for t, tree in trees.items():  # each side's code its own tree's, compiled as an install's is
            subprocess.run([PY, "-m", "compileall", "-q", str(tree / "chatcli")], check=True, capture_output=True)
            code = "import chatcli; print(chatcli.__file__)"
            imported = subprocess.run([PY, "-c", code], env=every["none" + t], cwd=work, capture_output=True)
            if not imported.stdout.startswith(str(tree).encode()):
                raise SystemExit(f"chat does not import {tree}'s code with PYTHONPATH={tree}")
        envs = {k: v for k, v in every.items() if k.startswith(("none", "mcp"))}  # (worker, prompt: none, 2025's)
        for t in trees:
            (work / f"run{t}").mkdir(mode=0o700)
        workers = {
            k: {**env, "CHATCLI_WORKER": "1", "XDG_RUNTIME_DIR": str(work / ("run@base" if "@" in k else "run"))}
            for k, env in envs.items()
        }
        tools = {k + t: 0 if era is None else SERVERS * TOOLS for k, era in HOMES.items() for t in trees}
        for which in every:  # the first runs list the servers (and cache them)
            timed_run([*CHAT, QUESTION], env=every[which], cwd=work)
        for which in envs:  # and start the worker
            timed_run([*CHAT, QUESTION], env=workers[which], cwd=work)
        listed, answered_before = starts(work), {t: served(workers["none" + t]) for t in trees}
        relisted = starts(work, "starts-stale")
        for round_ in range(options.runs):
            names, tags = list(HOMES)[round_ % 4 :] + list(HOMES)[: round_ % 4], list(trees)[:: 1 - round_ % 2 * 2]
            order = [k + t for k in names for t in tags]
            for which in order:
                wall, cpu = oneshot(every[which], work, server, tools[which])
                add(f"oneshot_{which}", wall)
                add(f"oneshot_cpu_{which}", cpu)
            for which in ("modern", "stale"):
                add(f"oneshot_{which}_ratio", samples[f"oneshot_{which}"][-1] / samples["oneshot_none"][-1])
                add(f"oneshot_cpu_{which}_ratio", samples[f"oneshot_cpu_{which}"][-1] / samples["oneshot_cpu_none"][-1])
            order = [k for k in order if k in envs]
            for _pair in range(WORKER_PAIRS):  # a worker run is short: more pairs, fewer strays
                for which in order:
                    add(f"worker_{which}", oneshot(workers[which], work, server, tools[which])[0])
                add("worker_ratio", samples["worker_mcp"][-1] / samples["worker_none"][-1])
            for which in order:
                shown, answer = prompt(envs[which], work)
                add(f"prompt_{which}", shown)
                add(f"answer_{which}", answer)
            for key in ("oneshot", "oneshot_cpu", "prompt", "answer"):
                add(f"{key}_ratio", samples[f"{key}_mcp"][-1] / samples[f"{key}_none"][-1])
        if starts(work) != listed:
            raise SystemExit("a question that called no tool started an MCP server")
        if starts(work, "starts-stale") != relisted:
            raise SystemExit("a one-shot started servers whose lists are stale, though it used none of them")
        if any(served(workers["none" + t]) - answered_before[t] != 2 * WORKER_PAIRS * options.runs for t in trees):
            raise SystemExit("the worker did not answer every worker run")
        for round_ in range(options.runs):
            for t in list(trees)[:: 1 - round_ % 2 * 2]:
                first, later = call_seconds(envs["mcp" + t], work, server, 2)
                add("call_first" + t, first)
                add("call_later" + t, later)
                add("call_first_modern" + t, call_seconds(every["modern" + t], work, server, 2)[0])
                add("call_worker" + t, call_seconds(workers["mcp" + t], work, server, 1)[0])
        for t in trees:
            subprocess.run([*CHAT, "worker", "stop"], env=workers["none" + t], capture_output=True, timeout=60)
    shutil.rmtree(work, ignore_errors=True)

    m = {key: med(values) for key, values in samples.items()}
    rows = [
        (
            "14. one-shot, no tool called: 3 MCP servers (cached) / none, wall (paired)",
            f"{m['oneshot_ratio']:.2f}x ({m['oneshot_mcp'] * 1000:.0f} ms vs {m['oneshot_none'] * 1000:.0f} ms)",
            "<= 1.1x",
            m["oneshot_ratio"] <= 1.1,
        ),
        (
            "14. one-shot, no tool called: 3 MCP servers / none, CPU (paired)",
            f"{m['oneshot_cpu_ratio']:.2f}x ({m['oneshot_cpu_mcp'] * 1000:.0f} ms vs {m['oneshot_cpu_none'] * 1000:.0f} ms)",
            "<= 1.1x",
            m["oneshot_cpu_ratio"] <= 1.1,
        ),
        (
            "14. one-shot, no tool called: 3 MCP servers of 2026-07-28 (cached, good a day) / none, wall (paired)",
            f"{m['oneshot_modern_ratio']:.2f}x ({m['oneshot_modern'] * 1000:.0f} ms vs {m['oneshot_none'] * 1000:.0f} ms)",
            "<= 1.1x",
            m["oneshot_modern_ratio"] <= 1.1,
        ),
        (
            "14. one-shot, no tool called: 3 MCP servers of 2026-07-28 saying 0 (stale at once) / none, wall (paired)",
            f"{m['oneshot_stale_ratio']:.2f}x ({m['oneshot_stale'] * 1000:.0f} ms vs {m['oneshot_none'] * 1000:.0f} ms)",
            "—",
            None,
        ),
        (
            "14. the same, CPU (paired)",
            f"{m['oneshot_cpu_stale_ratio']:.2f}x ({m['oneshot_cpu_stale'] * 1000:.0f} ms vs "
            f"{m['oneshot_cpu_none'] * 1000:.0f} ms)",
            "—",
            None,
        ),
        (
            "14. one-shot through the warm worker, no tool called: 3 MCP servers / none, wall (paired)",
            f"{m['worker_ratio']:.2f}x ({m['worker_mcp'] * 1000:.0f} ms vs {m['worker_none'] * 1000:.0f} ms)",
            "<= 1.1x",
            m["worker_ratio"] <= 1.1,
        ),
        (
            "14. prompt: spawn -> prompt drawn, 3 MCP servers / none (paired)",
            f"{m['prompt_ratio']:.2f}x ({m['prompt_mcp'] * 1000:.0f} ms vs {m['prompt_none'] * 1000:.0f} ms)",
            "<= 1.1x",
            m["prompt_ratio"] <= 1.1,
        ),
        (
            "14. prompt: spawn -> answer of `hi` typed at once, 3 MCP servers / none (paired)",
            f"{m['answer_ratio']:.2f}x ({m['answer_mcp'] * 1000:.0f} ms vs {m['answer_none'] * 1000:.0f} ms)",
            "—",
            None,
        ),
        (
            "14. first tool call of a one-shot (starts its server) vs the next call of the same reply",
            f"{m['call_first'] * 1000:.0f} ms vs {m['call_later'] * 1000:.0f} ms",
            "—",
            None,
        ),
        (
            "14. first tool call of a one-shot (starts its server): a server of 2026-07-28 (mcp 2.x) / of 2025 (1.x)",
            f"{m['call_first_modern'] / m['call_first']:.2f}x ({m['call_first_modern'] * 1000:.0f} ms vs "
            f"{m['call_first'] * 1000:.0f} ms)",
            "—",
            None,
        ),
        (
            "14. through the warm worker: a one-shot's first tool call, the MCP host keeping the server",
            f"{m['call_worker'] * 1000:.0f} ms",
            "—",
            None,
        ),
    ]
    for key, values in samples.items():  # this tree / the base, run by run (each run paired with the base's)
        if (base := samples.get(f"{key}@base")) and not key.endswith("ratio"):
            ratio = med([a / b for a, b in zip(values, base, strict=True)])
            value = f"{ratio:.2f}x ({m[key] * 1000:.0f} ms vs {m[key + '@base'] * 1000:.0f} ms)"
            rows.append((f"14. this tree / {options.base}: {key} (paired)", value, "<= 1.1x", ratio <= 1.1))
    lines = ["| metric | value | target | met? |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {'—' if d is None else 'yes' if d else '**no**'} |" for a, b, c, d in rows]
    table = "\n".join(lines)
    print(table)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    Path(options.out).write_text(
        f"# MCP servers until used (row 14)\n\n{stamp}, {options.runs} rounds, `{' '.join(sys.argv)}`\n\n{table}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
