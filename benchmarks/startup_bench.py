"""Row 26: a chat process's start-up without the cycle collector's rounds (chatcli.local.startup), against the code
before it.

Runs this checkout's code (``python -m chatcli`` with PYTHONPATH set) against a base commit (``--base``; by default
the parent of the commit that added chatcli/local/startup.py), unpacked with ``git archive``, interleaved, each run
paired with the other; ratios are medians of the per-pair ratios. The same libraries serve both: only chat's code
differs. The fake OpenAI server (tests/fakeserver.py) answers at once, in this process.

1. a cold one-shot: ``echo hi | chat`` without the worker (``CHATCLI_WORKER=0``), wall and CPU (user + system);
2. the prompt: ``chat`` in a pseudo-terminal, to the prompt drawn, and ``hi`` typed the moment it shows, to the
   answer's last word on the screen; the whole session's CPU, Ctrl-D included;
3. ``chat --help``, wall and CPU (a command that never opens a thread: its start-up is never said to be over).

    .venv/bin/python benchmarks/startup_bench.py [--runs N] [--base REV]

Writes the table to benchmarks/results-startup.md.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench import REPLY, PtyChat, answered, chat_env, prompt_shown, timed_run  # noqa: E402
from report import report  # noqa: E402
from web_bench import base_tree  # noqa: E402

from tests.fakeserver import FakeOpenAIServer  # noqa: E402

PY = sys.executable
ADDED = "chatcli/local/startup.py"


def default_base() -> str:
    """The parent of the commit that added ``ADDED`` (HEAD while it is not committed yet)."""
    added = subprocess.run(
        ["git", "-C", str(ROOT), "log", "--diff-filter=A", "--format=%H", "--", ADDED],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--base", default=None, help="the commit to compare with (default: before chatcli.startup)")
    args = parser.parse_args()
    given = args.base or default_base()
    named = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", given], capture_output=True, text=True)
    base = named.stdout.strip() or given  # the commit itself in the report, not a name that moves
    r: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        r.setdefault(key, []).append(value)

    with FakeOpenAIServer(default_reply=REPLY) as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        trees = {"branch": ROOT, "base": base_tree(work, base)}
        envs = {
            name: {**chat_env(server.base_url, work / f"home-{name}"), "PYTHONPATH": str(path), "CHATCLI_WORKER": "0"}
            for name, path in trees.items()
        }
        for name in trees:  # priced by config.toml: neither loads genai-prices' table
            config = work / f"home-{name}" / ".config" / "chatcli" / "config.toml"
            config.parent.mkdir(parents=True)
            config.write_text('[prices."gpt-fake"]\ninput = 1\noutput = 2\n')
        for name in trees:  # each side once unmeasured: the unpacked base compiles its bytecode
            assert timed_run([PY, "-m", "chatcli"], env=envs[name], cwd=work, stdin=b"hi\n")[1].returncode == 0
        for i in range(args.runs):
            order = ("branch", "base") if i % 2 == 0 else ("base", "branch")
            for name in order:  # row 1: a cold one-shot
                wall, proc, cpu = timed_run([PY, "-m", "chatcli"], env=envs[name], cwd=work, stdin=b"hi\n")
                assert proc.returncode == 0 and b"zebraquux" in proc.stdout, proc.stderr.decode()
                add(f"oneshot_{name}", wall)
                add(f"oneshot_cpu_{name}", cpu)
            for name in order:  # row 2: the prompt
                cpu0 = children_cpu()
                chat = PtyChat([], envs[name], work, command=[PY, "-m", "chatcli"])
                try:
                    add(f"prompt_{name}", chat.wait_for(prompt_shown))
                    chat.send(b"hi\r")
                    add(f"answer_{name}", chat.wait_for(answered))
                finally:
                    chat.close()
                add(f"session_cpu_{name}", children_cpu() - cpu0)
            for name in order:  # row 3: chat --help
                wall, proc, cpu = timed_run([PY, "-m", "chatcli", "--help"], env=envs[name], cwd=work)
                assert proc.returncode == 0, proc.stderr.decode()
                add(f"help_{name}", wall)
                add(f"help_cpu_{name}", cpu)
            for key in ("oneshot", "oneshot_cpu", "prompt", "answer", "session_cpu", "help", "help_cpu"):
                add(f"{key}_ratio", r[f"{key}_branch"][-1] / r[f"{key}_base"][-1])

    def pair(key: str, label: str) -> tuple[str, str]:
        ms = f"{med(r[f'{key}_branch']) * 1000:.0f} ms against {med(r[f'{key}_base']) * 1000:.0f} ms"
        return (label, f"{ms} ({med(r[f'{key}_ratio']):.2f}x)")

    rows = [
        pair("oneshot", "26. cold one-shot `echo hi \\| chat`, wall: this checkout against the base"),
        pair("oneshot_cpu", "26. cold one-shot, CPU"),
        pair("prompt", "26. the prompt: spawn -> prompt drawn"),
        pair("answer", "26. the prompt: spawn -> answer of `hi` typed at once"),
        pair("session_cpu", "26. the prompt: that session's CPU, Ctrl-D included"),
        pair("help", "26. `chat --help`, wall"),
        pair("help_cpu", "26. `chat --help`, CPU"),
    ]
    how = f"medians of {args.runs} rounds, each pair interleaved; the base is {base}"
    report(rows, args.runs, str(HERE / "results-startup.md"), how=how)
    return 0


if __name__ == "__main__":
    sys.exit(main())
