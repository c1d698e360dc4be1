"""Row 33: what ten Claude Code-shaped hooks on the shell cost a one-shot, configured and run.

Run (uses the ``chat`` installed next to this Python unless ``--chat`` names another)::

    .venv/bin/python benchmarks/hooks_bench.py            # about a minute on 2 cores

Two homes, alike but for the hooks: ``bare`` has none; ``hooked`` has ten PreToolUse hooks on ``Bash`` in
``~/.claude/settings.json``, each a node script written as the public collections write their guards (it reads the
event from stdin, parses it, tests ``tool_name === "Bash"`` and ``tool_input.command``, and lets the call through).
Rounds of, alternated, through the warm worker in each home (each home's worker started before the first round):
``chat QUESTION`` (no tool called: the hooks are configured, not run; target: at most 1.2x), and ``chat --tools
shell --yes QUESTION`` with the fake server asking for one ``echo`` (the ten hooks run, at once, before it); and the
ten guards alone, started at once with the same input (what node itself costs: chat's share of the second ratio is
what is left). Whole-process wall time; medians, and the median of the per-round ratios. Results go to
``benchmarks/results-hooks.md``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.extensions_bench import homes  # noqa: E402
from benchmarks.report import met, report  # noqa: E402
from benchmarks.worker_bench import timed  # noqa: E402
from tests.fakeserver import FakeOpenAIServer, Reply, tool_calls  # noqa: E402

HOOKS = 10
GUARD = r"""
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const data = JSON.parse(input);
  if (data.tool_name === "Bash" && /rm\s+-rf\s+~/.test(data.tool_input.command)) {
    console.error("blocked");
    process.exit(2);
  }
  process.exit(0);
});
"""


def configure(home: Path) -> None:
    """Ten node guards on Bash, each its own command (an identical command runs once)."""
    scripts = home / ".claude" / "hooks"
    scripts.mkdir(parents=True)
    groups = []
    for i in range(HOOKS):
        (scripts / f"guard-{i}.js").write_text(GUARD)
        command = f"node {scripts / f'guard-{i}.js'}"
        groups.append({"matcher": "Bash", "hooks": [{"type": "command", "command": command, "timeout": 30}]})
    (home / ".claude" / "settings.json").write_text(json.dumps({"hooks": {"PreToolUse": groups}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--chat", default=str(Path(sys.executable).with_name("chat")))
    parser.add_argument("--out", default=str(HERE / "results-hooks.md"))
    args = parser.parse_args()
    chat = shlex.split(args.chat)
    work = Path(tempfile.mkdtemp(prefix="hb", dir="/tmp"))
    question = [*chat, "--tools", "shell", "--yes", "say hello in the shell"]
    with FakeOpenAIServer() as server:
        envs = homes(work, server, "hooked", configure)

        def asked(env: dict[str, str], shell: bool) -> float:
            if not shell:
                server.queue(Reply("Paris."))
                return timed([*chat, "What is the capital of France?"], env)
            server.queue(tool_calls(("shell", {"command": "echo hello"})), Reply("It said hello."))
            return timed(question, env)

        guards = sorted((work / "hooked" / ".claude" / "hooks").glob("*.js"))
        event = json.dumps({"tool_name": "Bash", "tool_input": {"command": "echo hello"}}).encode()
        for env in envs.values():  # warm-up: bytecode, page cache, each home's worker started
            asked(env, True)
        walls: dict[tuple[str, bool], list[float]] = {(name, shell): [] for name in envs for shell in (False, True)}
        alone: list[float] = []
        for i in range(args.runs):
            for name in ["bare", "hooked"] if i % 2 == 0 else ["hooked", "bare"]:
                for shell in (False, True):
                    walls[name, shell].append(asked(envs[name], shell))
            alone.append(at_once([["node", str(g)] for g in guards], event))
        for env in envs.values():
            timed([*chat, "worker", "stop"], env)

    def ratio(shell: bool) -> float:
        return statistics.median(h / b for h, b in zip(walls["hooked", shell], walls["bare", shell]))

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} ms"

    left = [h - b - a for h, b, a in zip(walls["hooked", True], walls["bare", True], alone)]
    rows = [
        ("33. one-shot, no tool called, bare / hooked", f"{ms(walls['bare', False])} / {ms(walls['hooked', False])}"),
        (f"33. one-shot, no tool called, {HOOKS} node hooks on Bash / none", f"{ratio(False):.2f}x", "<= 1.2x"),
        ("33. one-shot with one shell call, bare / hooked", f"{ms(walls['bare', True])} / {ms(walls['hooked', True])}"),
        (f"33. one-shot with one shell call, {HOOKS} node hooks run / none", f"{ratio(True):.2f}x", "—"),
        (f"33. the {HOOKS} guards alone, started at once", ms(alone), "—"),
        ("33. chat's own share of running them (hooked - bare - the guards alone)", ms(left), "—"),
    ]
    report([(*row, met(ratio(False), 1.2) if "<=" in row[-1] else "—") if len(row) == 3 else (*row, "—", "—")
            for row in rows], args.runs, args.out)  # fmt: skip


def at_once(commands: list[list[str]], given: bytes) -> float:
    """Wall time of ``commands`` started at once, each given ``given`` on stdin, until the last ends."""
    import subprocess
    import time

    began = time.perf_counter()
    running = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL) for c in commands]
    for process in running:
        process.communicate(given, timeout=60)
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
