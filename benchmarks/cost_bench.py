"""What pricing answers costs the prompt and a one-shot: genai-prices' table against no table at all, paired in one run.

The same checkout answers the same question two ways, rotated round by round: with a model
priced by genai-prices' kept table (gpt-4o: the table is imported and loaded during the turn,
in the background while the request is out), and with a model priced by config.toml's
``[prices."gpt-fake"]`` (the table is never imported). Measured: the one-shot ``chat -m M hi``
(stdout a pipe), wall and CPU, against the fake server answering at once and against one that
streams its 4-token answer over 0.3 s as a remote endpoint would; the prompt in a pseudo-terminal (spawn -> prompt drawn, and
spawn -> the answer of ``hi`` typed the moment the prompt shows); and, in a process of its own,
what importing and loading the table takes once the engine is imported. Prints a Markdown table
and writes it to benchmarks/results-cost.md.

The fake servers are reached as a hosted endpoint (HOSTED, through them as HTTP proxies), since a
local one is never priced from the table. Runs this checkout (``python -m chatcli`` with PYTHONPATH
set to it), not the installed ``chat``:

    .venv/bin/python benchmarks/cost_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
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

from tests.fakeserver import FakeOpenAIServer  # noqa: E402

CHAT = [PY, "-m", "chatcli"]
# A hosted endpoint's name for the fake servers, reached through them as HTTP proxies: on 127.0.0.1
# they are local endpoints, which the table never prices (it would not even be loaded).
HOSTED = "http://api.chatcli.invalid/v1"
MODELS = {"table": "gpt-4o", "config": "gpt-fake"}  # priced by genai-prices / by config.toml
LOAD = """
import time
import langchain_openai, langgraph.graph, chatcli.backends.own.graph
start = time.perf_counter()
from chatcli.backends.own.pricing import _table
_table()
print(time.perf_counter() - start)
"""


def hosted(server: FakeOpenAIServer) -> dict[str, str]:
    """The environment that sends requests for HOSTED to ``server``."""
    proxy = server.base_url.removesuffix("/v1")
    return {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}


def oneshot(env: dict[str, str], work: Path, model: str) -> tuple[float, float]:
    wall, proc, cpu = timed_run([*CHAT, "-m", model, "hi"], env=env, cwd=work)
    if proc.returncode != 0 or END_MARK not in proc.stdout.decode():
        raise SystemExit(f"chat -m {model} failed: {proc.stderr.decode()[-400:]}")
    return wall, cpu


def prompt(env: dict[str, str], work: Path, model: str) -> tuple[float, float]:
    chat = PtyChat(["-m", model], env, work, command=CHAT)
    try:
        shown = chat.wait_for(prompt_shown)
        chat.send(b"hi\r")
        return shown, chat.wait_for(answered)
    finally:
        chat.close()


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds (default 9)")
    parser.add_argument("--out", default=str(HERE / "results-cost.md"))
    options = parser.parse_args()
    samples: dict[str, dict[str, list[float]]] = {
        kind: {"wall": [], "cpu": [], "slow": [], "prompt": [], "answer": []} for kind in MODELS
    }
    reply = f"a short answer {END_MARK}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAIServer(default_reply=reply) as fake,
        FakeOpenAIServer(default_reply=reply, delay=0.1) as slow,
    ):
        work = Path(tmp)
        env = {**chat_env(HOSTED, work / "home"), "PYTHONPATH": str(ROOT), **hosted(fake)}
        config = work / "home" / ".config" / "chatcli" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text('[prices."gpt-fake"]\ninput = 2.5\noutput = 10\n')
        loads = [
            float(subprocess.run([PY, "-c", LOAD], env=env, capture_output=True, text=True, check=True).stdout)
            for _ in range(5)
        ]
        for round_ in range(options.runs):
            kinds = list(MODELS) if round_ % 2 == 0 else list(reversed(MODELS))
            for kind in kinds:
                wall, cpu = oneshot(env, work, MODELS[kind])
                remote, _ = oneshot({**env, **hosted(slow)}, work, MODELS[kind])
                shown, answer = prompt(env, work, MODELS[kind])
                for name, value in (
                    ("wall", wall),
                    ("cpu", cpu),
                    ("slow", remote),
                    ("prompt", shown),
                    ("answer", answer),
                ):
                    samples[kind][name].append(value)

    def row(metric: str, what: str) -> str:
        table, config = samples["table"][metric], samples["config"][metric]
        ratio = med([a / b for a, b in zip(table, config)])
        return f"| {what} | {med(table) * 1000:.0f} ms | {med(config) * 1000:.0f} ms | {ratio:.3f}x |"

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run of {stamp} · nproc {os.cpu_count()} · Python {sys.version.split()[0]} · {options.runs} paired rounds",
        "",
        "| metric | priced by genai-prices' table | priced by config.toml (no table) | table / config (median of pairs) |",
        "|---|---|---|---|",
        row("wall", "one-shot `chat -m M hi`, wall"),
        row("cpu", "one-shot, CPU (user + system)"),
        row("slow", "one-shot, wall, the answer streamed over 0.3 s"),
        row("prompt", "prompt: spawn -> prompt drawn"),
        row("answer", "prompt: spawn -> answer of `hi` typed at once"),
        "",
        f"Importing and loading the table once the engine is imported (the work done in the background): {med(loads) * 1000:.0f} ms (median of 5).",
    ]
    text = "\n".join(lines) + "\n"
    Path(options.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
