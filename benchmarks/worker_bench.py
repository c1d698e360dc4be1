"""Row 11: a one-shot through the warm worker, beside ``python -c pass``, chat without the worker, and llm.

Run (from anywhere; uses the ``chat`` installed next to this Python unless ``--chat`` names another)::

    .venv/bin/python benchmarks/worker_bench.py                       # ~1 min on 2 cores
    .venv/bin/python benchmarks/worker_bench.py --llm /path/to/llm    # with simonw/llm as the yardstick

Every round runs, in rotated order: ``python -c pass`` (the interpreter's start), ``chat QUESTION``
with the worker on (``CHATCLI_WORKER=1``; the worker was started before the first round) and
off; the imports of LangGraph and of a LangChain chat model alone, asking nothing (the floor of any cold
path that answers through them); and, with ``--llm``, ``llm -m fake QUESTION`` (an OpenAI-compatible model in
``extra-openai-models.yaml`` pointing at the same fake server). Stdout and stderr go to pipes
that are read whole; stdin is empty. Whole-process wall time from the spawn to the exit; medians;
ratios are medians of the per-round ratios. The fake server (tests/fakeserver.py) runs in this
process on 127.0.0.1 and answers at once. The run fails if a worker run was not answered by
the worker (``chat worker status`` counts the runs it served). Results go to
``benchmarks/results-worker.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.report import met, report  # noqa: E402
from tests.fakeserver import FakeOpenAIServer  # noqa: E402
from tests.providers import ROWS  # noqa: E402

QUESTION = "What is the capital of France?"
CHAT_MODELS = "langchain_core.language_models.chat_models"


def chat_python(chat: list[str]) -> str:
    """The Python of the environment the ``chat`` command runs in (its script's ``#!`` line), else this one."""
    try:
        first = Path(chat[-1] if len(chat) == 1 else chat[0]).read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return sys.executable
    return first[2:].strip() if first.startswith("#!") and "python" in first else sys.executable


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return wall


def served(chat: list[str], env: dict[str, str]) -> int:
    out = subprocess.run([*chat, "worker", "status", "--json"], env=env, capture_output=True, timeout=60).stdout
    return json.loads(out).get("served") or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--chat", default=str(Path(sys.executable).with_name("chat")), help="the chat command (split as a shell does)"
    )
    parser.add_argument("--llm", default=None, help="the llm command, to compare with")
    parser.add_argument("--out", default=str(HERE / "results-worker.md"))
    args = parser.parse_args()
    chat = shlex.split(args.chat)
    work = Path(tempfile.mkdtemp(prefix="wb", dir="/tmp"))
    (work / "home").mkdir()
    (work / "run").mkdir(mode=0o700)
    with FakeOpenAIServer() as server:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCLI_", "XDG_", "LLM_"))}
        env = dict(
            base,
            HOME=str(work / "home"),
            XDG_CONFIG_HOME=str(work / "home/.config"),
            XDG_DATA_HOME=str(work / "home/.data"),
            XDG_RUNTIME_DIR=str(work / "run"),
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY="sk-bench",
            CHATCLI_MODEL="gpt-fake",
        )
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], env),
            "chat, worker": ([*chat, QUESTION], dict(env, CHATCLI_WORKER="1")),
            "chat, no setting": ([*chat, QUESTION], env),  # the default: the worker started by the warm-up round
            "chat, no worker": ([*chat, QUESTION], dict(env, CHATCLI_WORKER="0")),
            # The floor of any cold path that answers through LangGraph and a LangChain chat model: their imports
            # alone, nothing asked (the Python of the chat command's environment)
            "import langgraph.graph": ([chat_python(chat), "-c", "import langgraph.graph"], env),
            "import a LangChain chat model": ([chat_python(chat), "-c", f"import {CHAT_MODELS}"], env),
        }
        fakes = ExitStack()
        for row in ROWS[1:]:  # every other installed provider, through the worker, on its own fake server
            if row.module and importlib.util.find_spec(row.module) is None:
                continue
            fake = fakes.enter_context(row.start())
            provider_env = {k: v for k, v in env.items() if not k.startswith("OPENAI_")}
            provider_env.update(row.env(fake), CHATCLI_MODEL=row.model, CHATCLI_WORKER="1")
            commands[f"chat, worker, {row.name}"] = ([*chat, QUESTION], provider_env)
        if args.llm:
            llm_home = work / "llm"
            llm_home.mkdir()
            (llm_home / "extra-openai-models.yaml").write_text(
                f'- model_id: fake\n  model_name: gpt-fake\n  api_base: "{server.base_url}"\n  api_key_name: fake\n'
            )
            (llm_home / "keys.json").write_text('{"fake": "sk-bench"}')
            commands["llm"] = ([*shlex.split(args.llm), "-m", "fake", QUESTION], dict(env, LLM_USER_PATH=str(llm_home)))
        for command, run_env in commands.values():  # warm-up: bytecode, page cache, the worker started
            timed(command, run_env)
        before = served(chat, commands["chat, worker"][1])
        names = list(commands)
        walls: dict[str, list[float]] = {name: [] for name in names}
        for i in range(args.runs):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                walls[name].append(timed(*commands[name]))
        through = served(chat, commands["chat, worker"][1]) - before
        subprocess.run([*chat, "worker", "stop"], env=commands["chat, worker"][1], capture_output=True, timeout=60)
        fakes.close()
    expected = args.runs * sum(1 for name in names if name.startswith("chat, ") and "no worker" not in name)
    if through != expected:
        raise SystemExit(
            f"the worker answered {through} of {expected} runs meant for it: is --chat this checkout's launcher?"
        )

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(walls[a], walls[b]))

    rows = [(f"11. {name}", f"{statistics.median(walls[name]) * 1000:.0f} ms", "—", "—") for name in names]
    rows.append(("11. worker / no worker, wall", f"{ratio('chat, worker', 'chat, no worker'):.2f}x", "—", "—"))
    rows.append(("11. worker / python -c pass, wall", f"{ratio('chat, worker', 'python -c pass'):.2f}x", "—", "—"))
    for name in names:
        if name.startswith("chat, worker, "):
            value = ratio(name, "chat, worker")
            label = f"11. {name.removeprefix('chat, worker, ')} / OpenAI-compatible, through the worker, wall"
            rows.append((label, f"{value:.2f}x", "<= 1.5x", met(value, 1.5)))
    if args.llm:
        value = ratio("chat, worker", "llm")
        rows.append(("11. worker / llm one-shot, wall", f"{value:.2f}x", "<= 0.3x", met(value, 0.3)))
        value = ratio("chat, no setting", "llm")
        rows.append(("11. no setting (the default) / llm one-shot, wall", f"{value:.2f}x", "<= 0.5x", met(value, 0.5)))
        value = ratio("chat, no worker", "llm")
        rows.append(("11. no worker (cold) / llm one-shot, wall", f"{value:.2f}x", "<= 1.0x", met(value, 1.0)))
        for name in ("import langgraph.graph", "import a LangChain chat model"):
            rows.append((f"11. the floor: {name} / llm one-shot, wall", f"{ratio(name, 'llm'):.2f}x", "—", "—"))
    report(rows, args.runs, args.out)


if __name__ == "__main__":
    main()
