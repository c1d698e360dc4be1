"""What a one-shot costs with each provider's model beside an OpenAI-compatible one, paired in one run.

Round by round, order rotating, the same checkout answers ``chat -m M hi`` (stdout a pipe) with
``gpt-fake`` from the fake OpenAI-compatible server, ``anthropic:claude-fake`` from the fake
Anthropic Messages server, ``google_genai:gemini-fake`` from the fake Gemini API and
``ollama:qwen3`` from the fake Ollama server (tests/fakes/: the same answer, in each wire format),
all in this process on 127.0.0.1. Whole-process wall and CPU (user + system); each ratio is the
median of the per-round ratios to the OpenAI-compatible one-shot. Also each provider's library
imported alone, the cost its one-shot cannot avoid: chat imports a provider's library only when
one of its models is used (tests/test_startup.py checks that an OpenAI one-shot loads none of the
others'). Writes benchmarks/results-providers.md:

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
from tests.fakes.gemini import FakeGeminiServer  # noqa: E402
from tests.fakes.ollama import FakeOllamaServer  # noqa: E402
from tests.fakeserver import FakeOpenAIServer  # noqa: E402

CHAT = [PY, "-m", "chatcli"]
MODELS = {
    "openai": "gpt-fake",
    "anthropic": "anthropic:claude-fake",
    "google_genai": "google_genai:gemini-fake",
    "ollama": "ollama:qwen3",
}
IMPORTS = {
    "openai": "import langchain_openai.chat_models.base",
    "anthropic": "import langchain_anthropic",
    "google_genai": "import langchain_google_genai",
    "ollama": "import langchain_ollama",
}


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
        FakeGeminiServer(default_reply=reply) as gemini,
        FakeOllamaServer(default_reply=reply) as ollama,
    ):
        work = Path(tmp)
        env = {**chat_env(openai.base_url, work / "home"), "PYTHONPATH": str(ROOT)}
        env.update(ANTHROPIC_BASE_URL=anthropic.base_url, ANTHROPIC_API_KEY="sk-ant-bench-0123456789")
        env.update(GOOGLE_GEMINI_BASE_URL=gemini.base_url, GOOGLE_API_KEY=gemini.key or "", OLLAMA_HOST=ollama.base_url)
        kinds = list(MODELS)
        for round_ in range(options.runs):
            for kind in kinds[round_ % len(kinds) :] + kinds[: round_ % len(kinds)]:
                wall, cpu = oneshot(env, work, MODELS[kind])
                imported, proc, _ = timed_run([PY, "-c", IMPORTS[kind]], env=env, cwd=work)
                if proc.returncode:
                    raise SystemExit(proc.stderr.decode()[-400:])
                for name, value in (("wall", wall), ("cpu", cpu), ("import", imported)):
                    samples[kind][name].append(value)

    others = [kind for kind in MODELS if kind != "openai"]

    def row(metric: str, what: str) -> str:
        base = samples["openai"][metric]
        cells = [f"{statistics.median(base) * 1000:.0f} ms"]
        for kind in others:
            mine = samples[kind][metric]
            ratio = statistics.median([x / y for x, y in zip(mine, base)])
            cells.append(f"{statistics.median(mine) * 1000:.0f} ms ({ratio:.2f}x)")
        return f"| {what} | " + " | ".join(cells) + " |"

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run of {stamp} · nproc {os.cpu_count()} · Python {sys.version.split()[0]} · {options.runs} rounds",
        "",
        "| metric | " + " | ".join(f"`{MODELS[kind]}`" for kind in MODELS) + " |",
        "|---|" + "---|" * len(MODELS),
        row("wall", "one-shot `chat -m M hi`, wall"),
        row("cpu", "one-shot, CPU (user + system)"),
        row("import", "the provider's library imported alone, wall"),
        "",
        "(in brackets: the median of the per-round ratios to the OpenAI-compatible column)",
    ]
    text = "\n".join(lines) + "\n"
    Path(options.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
