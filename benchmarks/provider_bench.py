"""What a one-shot costs with an Anthropic model beside an OpenAI-compatible one, paired in one run.

Round by round, order alternating, the same checkout answers ``chat -m M hi`` (stdout a pipe) with
``gpt-fake`` from the fake OpenAI-compatible server and with ``anthropic:claude-fake`` from the
fake Anthropic Messages server (tests/fakes/anthropic.py: the same answer, as Anthropic's SSE
events), both in this process on 127.0.0.1. Whole-process wall and CPU (user + system); the
ratio is the median of the per-round ratios. Also each provider's library imported alone
(``import langchain_openai`` against ``import langchain_anthropic``), the cost the Anthropic
one-shot cannot avoid: chat imports a provider's library only when one of its models is used
(tests/test_startup.py checks that an OpenAI one-shot loads none of Anthropic's). Writes
benchmarks/results-providers.md:

    .venv/bin/python benchmarks/provider_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench import END_MARK, PY, chat_env, timed_run  # noqa: E402

from tests.fakes.anthropic import FakeAnthropicServer  # noqa: E402
from tests.fakeserver import FakeOpenAIServer  # noqa: E402

CHAT = [PY, "-m", "chatcli"]
MODELS = {"openai": "gpt-fake", "anthropic": "anthropic:claude-fake"}
IMPORTS = {"openai": "import langchain_openai.chat_models.base", "anthropic": "import langchain_anthropic"}


def oneshot(env: dict[str, str], work: Path, model: str) -> tuple[float, float]:
    wall, proc, cpu = timed_run([*CHAT, "-m", model, "hi"], env=env, cwd=work)
    if proc.returncode != 0 or END_MARK not in proc.stdout.decode():
        raise SystemExit(f"chat -m {model} failed: {proc.stderr.decode()[-400:]}")
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds (default 9)")
    parser.add_argument("--out", default=str(HERE / "results-providers.md"))
    options = parser.parse_args()
    samples = {kind: {"wall": [], "cpu": [], "import": []} for kind in MODELS}
    reply = f"a short answer {END_MARK}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAIServer(default_reply=reply) as openai,
        FakeAnthropicServer(default_reply=reply) as anthropic,
    ):
        work = Path(tmp)
        env = {**chat_env(openai.base_url, work / "home"), "PYTHONPATH": str(ROOT)}
        env.update(ANTHROPIC_BASE_URL=anthropic.base_url, ANTHROPIC_API_KEY="sk-ant-bench-0123456789")
        for round_ in range(options.runs):
            for kind in list(MODELS) if round_ % 2 == 0 else list(reversed(MODELS)):
                wall, cpu = oneshot(env, work, MODELS[kind])
                imported, proc, _ = timed_run([PY, "-c", IMPORTS[kind]], env=env, cwd=work)
                if proc.returncode:
                    raise SystemExit(proc.stderr.decode()[-400:])
                for name, value in (("wall", wall), ("cpu", cpu), ("import", imported)):
                    samples[kind][name].append(value)

    def row(metric: str, what: str) -> str:
        a, o = samples["anthropic"][metric], samples["openai"][metric]
        ratio = statistics.median([x / y for x, y in zip(a, o)])
        return (
            f"| {what} | {statistics.median(o) * 1000:.0f} ms | {statistics.median(a) * 1000:.0f} ms | {ratio:.3f}x |"
        )

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run of {stamp} · nproc {os.cpu_count()} · Python {sys.version.split()[0]} · {options.runs} paired rounds",
        "",
        "| metric | `gpt-fake` (OpenAI-compatible) | `anthropic:claude-fake` | Anthropic / OpenAI (median of pairs) |",
        "|---|---|---|---|",
        row("wall", "one-shot `chat -m M hi`, wall"),
        row("cpu", "one-shot, CPU (user + system)"),
        row("import", "the provider's library imported alone, wall"),
    ]  # fmt: skip
    text = "\n".join(lines) + "\n"
    Path(options.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
