"""The prompt's first paint beside `llm chat`'s: spawn to the prompt ready for typing, in a pseudo-terminal.

Run::

    .venv/bin/python benchmarks/first_paint_bench.py --llm /path/to/llm     # about 1 minute

Rounds of, alternated: ``chat`` (its prompt is drawn when prompt-toolkit turns bracketed paste on, the moment
it reads keys) and ``llm chat -m fake`` (its prompt is ready when it prints ``> ``), each in an 80x24
pseudo-terminal against the same fake OpenAI-compatible server (tests/fakeserver.py, in this process),
killed once the prompt is up. Wall time from the spawn to that output; medians, and the median of the
per-round ratios (target: chat / llm chat <= 0.5x). Results go to ``benchmarks/results-first-paint.md``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.report import met, report  # noqa: E402
from tests.fakeserver import FakeOpenAIServer  # noqa: E402

READY = "\x1b[?2004h"  # prompt-toolkit turns bracketed paste on as the prompt starts reading keys


def painted(command: list[str], env: dict[str, str], ready: str) -> float:
    """Seconds from the spawn until ``ready`` is on the terminal."""
    start = time.perf_counter()
    child = pexpect.spawn(command[0], command[1:], env=env, encoding="utf-8", dimensions=(24, 80), timeout=60)
    try:
        child.expect_exact(ready)
        return time.perf_counter() - start
    finally:
        child.terminate(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", required=True, help="the llm command")
    parser.add_argument("--chat", default=str(Path(sys.executable).with_name("chat")))
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", default=str(HERE / "results-first-paint.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fp"))
    with FakeOpenAIServer() as server:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCLI_", "XDG_", "LLM_"))}
        env = dict(
            base,
            TERM="xterm-256color",
            HOME=str(work),
            XDG_CONFIG_HOME=str(work / ".config"),
            XDG_DATA_HOME=str(work / ".data"),
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY="sk-bench",
            CHATCLI_MODEL="gpt-fake",
        )
        llm_home = work / "llm"
        llm_home.mkdir()
        (llm_home / "extra-openai-models.yaml").write_text(
            f'- model_id: fake\n  model_name: gpt-fake\n  api_base: "{server.base_url}"\n  api_key_name: fake\n'
        )
        (llm_home / "keys.json").write_text('{"fake": "sk-bench"}')
        commands = {
            "chat": (shlex.split(args.chat), env, READY),
            "llm chat": ([*shlex.split(args.llm), "chat", "-m", "fake"], dict(env, LLM_USER_PATH=str(llm_home)), "> "),
        }
        for command, run_env, ready in commands.values():  # warm-up: bytecode and page cache
            painted(command, run_env, ready)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(args.runs):
            for name in list(commands)[i % 2 :] + list(commands)[: i % 2]:
                times[name].append(painted(*commands[name]))
    value = statistics.median(a / b for a, b in zip(times["chat"], times["llm chat"]))
    rows = [(f"first paint, {name}", f"{statistics.median(t) * 1000:.0f} ms", "—", "—") for name, t in times.items()]
    rows.append(("first paint, chat / llm chat", f"{value:.2f}x", "<= 0.5x", met(value, 0.5)))
    report(rows, args.runs, args.out)


if __name__ == "__main__":
    main()
