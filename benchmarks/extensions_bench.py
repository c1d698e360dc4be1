"""Rows 30 and 34: what skills and hooks, and five plugins, cost when they are configured but not used.

Run (uses the ``chat`` installed next to this Python unless ``--chat`` names another)::

    .venv/bin/python benchmarks/extensions_bench.py            # about 1 minute on 2 cores
    .venv/bin/python benchmarks/extensions_bench.py --plugins  # row 34: five plugins installed with chat plugin

Two homes, alike but for what a Claude Code or codex user brings: ``bare`` has nothing; ``configured`` has 50 skills
in ``~/.agents/skills`` (each a ``SKILL.md`` with front matter and a body of a few hundred words) and 10 hooks in
``~/.claude/settings.json``, none of which matches a one-shot that calls no tool (``PreToolUse``, ``PostToolUse`` and
``PermissionRequest`` on tools the question never calls). Rounds of, alternated: ``chat QUESTION`` through the warm
worker in each home (each home's worker started before the first round), and the prompt's first paint in an 80x24
pseudo-terminal in each (``benchmarks/first_paint_bench.py``'s measure). Whole-process wall time; medians, and the
median of the per-round ratios (targets: the one-shot at most 1.1x, the first paint unchanged: at most 1.1x too).
The run fails if a one-shot was not answered by its worker. Results go to ``benchmarks/results-extensions.md``.

With ``--plugins`` (row 34) the configured home has five plugins installed from a marketplace with ``chat plugin
install --yes`` (each file's digest kept, checked as each session starts), each with 3 skills, 3 commands, 2 agents
and 2 hooks that the question never runs; results go to ``benchmarks/results-plugins.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.first_paint_bench import READY, painted  # noqa: E402
from benchmarks.report import met, report  # noqa: E402
from benchmarks.worker_bench import QUESTION, served, timed  # noqa: E402
from tests.fakeserver import FakeOpenAIServer  # noqa: E402

SKILLS = 50
BODY = " ".join(["Follow the steps below, one at a time, and say what each found."] * 40)


def configure(home: Path) -> None:
    """50 skills and 10 hooks that a question calling no tool never runs."""
    for i in range(SKILLS):
        folder = home / ".agents" / "skills" / f"skill-{i:02d}"
        folder.mkdir(parents=True)
        about = f"Use when the user asks about topic number {i}: reviews, checklists and the steps to take."
        (folder / "SKILL.md").write_text(
            f"---\nname: skill-{i:02d}\ndescription: {about}\n---\n\n# Skill {i}\n\n{BODY}\n"
        )
    never = {"type": "command", "command": "exit 0", "timeout": 5}
    hooks = {
        "PreToolUse": [{"matcher": f"NoSuchTool{i}", "hooks": [never]} for i in range(4)],
        "PostToolUse": [{"matcher": f"NoSuchTool{i}", "hooks": [never]} for i in range(4)],
        "PermissionRequest": [{"matcher": f"NoSuchTool{i}", "hooks": [never]} for i in range(2)],
    }
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps({"hooks": hooks}))


def plugged(home: Path) -> None:
    """Five plugins, installed as a user installs them: a marketplace folder, then chat plugin install --yes."""
    import subprocess

    market = home / "market"
    entries = []
    never = {"type": "command", "command": "exit 0", "timeout": 5}
    for p in range(5):
        root = market / "plugins" / f"kit-{p}"
        files = {".claude-plugin/plugin.json": json.dumps({"name": f"kit-{p}", "version": "1.0.0"})}
        files["hooks/hooks.json"] = json.dumps(
            {"hooks": {"PreToolUse": [{"matcher": f"NoSuchTool{i}", "hooks": [never]} for i in range(2)]}}
        )
        for i in range(3):
            about = f"Use when the user asks about kit {p} topic {i}: the steps to take."
            files[f"skills/topic-{i}/SKILL.md"] = f"---\nname: topic-{i}\ndescription: {about}\n---\n\n{BODY}\n"
            files[f"commands/do-{i}.md"] = f"---\ndescription: do {i} of kit {p}\n---\nDo {i} with $ARGUMENTS.\n"
        for i in range(2):
            files[f"agents/helper-{i}.md"] = f"---\nname: helper-{i}\ndescription: helps with {i}\n---\n{BODY}\n"
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        entries.append({"name": f"kit-{p}", "source": f"./plugins/kit-{p}"})
    (market / ".claude-plugin").mkdir(parents=True)
    (market / ".claude-plugin" / "marketplace.json").write_text(json.dumps({"name": "bench", "plugins": entries}))
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".data"))
    chat = str(Path(sys.executable).with_name("chat"))
    subprocess.run([chat, "plugin", "marketplace", "add", str(market)], env=env, check=True, capture_output=True)
    for p in range(5):
        subprocess.run([chat, "plugin", "install", f"kit-{p}@bench", "--yes"], env=env, check=True, capture_output=True)


def homes(work: Path, server: FakeOpenAIServer, configured: str, configure: Any) -> dict[str, dict[str, str]]:
    """Two homes under ``work`` with a warm worker each on ``server``: "bare", and ``configured`` made by
    ``configure(home)``; the environment of each, by name."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCLI_", "XDG_"))}
    envs: dict[str, dict[str, str]] = {}
    for name in ("bare", configured):
        home = work / name
        (home / "run").mkdir(parents=True, mode=0o700)
        if name == configured:
            configure(home)
        envs[name] = dict(
            base,
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".data"),
            XDG_RUNTIME_DIR=str(home / "run"),
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY="sk-bench",
            CHATCLI_MODEL="gpt-fake",
            CHATCLI_WORKER="1",
        )
    return envs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--chat", default=str(Path(sys.executable).with_name("chat")))
    parser.add_argument("--plugins", action="store_true", help="row 34: five plugins installed, against none")
    parser.add_argument("--out")
    args = parser.parse_args()
    row, what = ("34", "five plugins") if args.plugins else ("30", f"{SKILLS} skills and 10 hooks")
    args.out = args.out or str(HERE / ("results-plugins.md" if args.plugins else "results-extensions.md"))
    chat = shlex.split(args.chat)
    work = Path(tempfile.mkdtemp(prefix="xb", dir="/tmp"))
    with FakeOpenAIServer() as server:
        envs = homes(work, server, "configured", plugged if args.plugins else configure)
        for env in envs.values():  # warm-up: bytecode, page cache, each home's worker started
            timed([*chat, QUESTION], env)
            painted(chat, env, READY)
        before = {name: served(chat, env) for name, env in envs.items()}
        one_shot: dict[str, list[float]] = {name: [] for name in envs}
        paint: dict[str, list[float]] = {name: [] for name in envs}
        for i in range(args.runs):
            for name in ["bare", "configured"] if i % 2 == 0 else ["configured", "bare"]:
                one_shot[name].append(timed([*chat, QUESTION], envs[name]))
                paint[name].append(painted(chat, envs[name], READY))
        answered = {name: served(chat, env) - before[name] for name, env in envs.items()}
        for env in envs.values():
            timed([*chat, "worker", "stop"], env)
    if any(count != args.runs for count in answered.values()):
        raise SystemExit(f"the workers answered {answered} of {args.runs} runs each: is --chat this checkout's?")

    def ratio(walls: dict[str, list[float]]) -> float:
        return statistics.median(c / b for c, b in zip(walls["configured"], walls["bare"]))

    rows = []
    for label, walls in (("one-shot through the worker", one_shot), ("the prompt's first paint", paint)):
        for name in ("bare", "configured"):
            rows.append((f"{row}. {label}, {name}", f"{statistics.median(walls[name]) * 1000:.0f} ms", "—", "—"))
        value = ratio(walls)
        rows.append((f"{row}. {label}, {what} / none", f"{value:.2f}x", "<= 1.1x", met(value, 1.1)))
    report(rows, args.runs, args.out)


if __name__ == "__main__":
    main()
