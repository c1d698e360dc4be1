"""`chat --remote` one-shot beside a bare langgraph-sdk script that makes the same call, paired in one run.

Starts `langgraph dev` on a free port of 127.0.0.1 serving the example graph (examples/graphs/agent.py, its
model the fake OpenAI-compatible server of tests/fakeserver.py, which echoes the question) as the chat --remote
tests do (tests/remote_server.py), then runs N rounds, in alternating order, of

* `chat --remote URL --assistant example "hello there"` (stdout a pipe: plain output), and
* a Python script that does what it does with langgraph-sdk alone: create a thread, stream one run of the
  same graph with stream_mode="messages-tuple", print the tokens,

and prints the medians of wall and CPU time (user + system of the child) and the medians of the per-round
ratios as a Markdown table, written to benchmarks/results-remote.md. Both wait for the same server (the
in-memory server picks a new run up from its queue after about half a second to a second), so the wall
ratio is near 1 whatever chat costs; the CPU ratio is what chat adds to the call on the client.

    .venv/bin/python benchmarks/remote_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAT = str(Path(sys.executable).with_name("chat"))
QUESTION = "hello there"

# What `chat --remote URL --assistant example QUESTION` does, with langgraph-sdk alone.
BARE = """
import asyncio, os, sys
from langgraph_sdk import get_client

async def main(url, question):
    client = get_client(url=url, api_key=os.environ["LANGGRAPH_API_KEY"])
    thread = await client.threads.create()
    async for part in client.runs.stream(thread["thread_id"], "example", stream_mode="messages-tuple",
                                         input={"messages": [{"role": "user", "content": question}]}):
        if part.event == "messages" and part.data[0].get("type") in ("ai", "AIMessageChunk"):
            sys.stdout.write(part.data[0]["content"])
    sys.stdout.write("\\n")

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system) of one run of ``command``, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    sys.path.insert(0, str(ROOT))
    from tests.fakeserver import FakeOpenAIServer
    from tests.remote_server import KEY, serve

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer() as fake:
        home = Path(tmp)
        served = serve(home, fake.base_url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_", "LANGSMITH_"))},
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "LANGGRAPH_API_KEY": KEY,
        }
        chat = [CHAT, "--remote", served.url, "--assistant", "example", QUESTION]
        bare = [sys.executable, "-c", BARE, served.url, QUESTION]
        try:
            for command in (chat, bare):  # warm up: the server's first run loads the graph
                assert timed(command, env)[2] == f"You said: {QUESTION}\n"
            rows = []
            for i in range(runs):
                order = (chat, bare) if i % 2 == 0 else (bare, chat)
                measured = {id(command): timed(command, env) for command in order}
                rows.append((measured[id(chat)][:2], measured[id(bare)][:2]))
        finally:
            served.stop()

    def median(values: list[float]) -> float:
        return statistics.median(values)

    chat_wall, chat_cpu = median([c[0] for c, _ in rows]), median([c[1] for c, _ in rows])
    bare_wall, bare_cpu = median([b[0] for _, b in rows]), median([b[1] for _, b in rows])
    table = [
        "| metric | value |",
        "|---|---|",
        f'| `chat --remote URL --assistant example "{QUESTION}"` (median) | {chat_wall * 1000:.0f} ms (CPU {chat_cpu * 1000:.0f} ms) |',
        f"| bare langgraph-sdk script, same call (median) | {bare_wall * 1000:.0f} ms (CPU {bare_cpu * 1000:.0f} ms) |",
        f"| chat / bare, wall (median of paired ratios) | {median([c[0] / b[0] for c, b in rows]):.2f}x |",
        f"| chat / bare, CPU (median of paired ratios) | {median([c[1] / b[1] for c, b in rows]):.2f}x |",
    ]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"`chat --remote` vs a bare langgraph-sdk script on `langgraph dev`, {runs} paired rounds, {stamp}\n\n"
    text += "\n".join(table) + "\n"
    (ROOT / "benchmarks" / "results-remote.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
