"""A question answered by `chat serve` against the same question as a one-shot `chat --json`, paired in one run.

Starts the fake OpenAI-compatible server and `chat serve` on a private database, then asks the
same short question N times each way, alternating (an HTTP POST answered with the --json
object; a `chat --json -t THREAD` process), and prints the medians and the median of the
per-round ratios (served / one-shot) as a Markdown table, written to benchmarks/results-serve.md.
Both answer from the same model endpoint into the same kind of thread, so the difference is
what a process start costs a script that asks in a loop.

    .venv/bin/python benchmarks/serve_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAT = str(Path(sys.executable).with_name("chat"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, thread: str, content: str, token: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            f"/v1/threads/{thread}/messages",
            json.dumps({"content": content}),
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    sys.path.insert(0, str(ROOT))
    from tests.fakeserver import FakeOpenAIServer

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(default_reply="a short answer") as fake:
        home = Path(tmp)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_"))},
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "CHATCLI_DB": str(home / "chat.db"),
        }
        port = free_port()
        # The token chat serve uses, as chat's own clients read it (made here if it is not yet).
        token = subprocess.run([CHAT, "serve", "--show-token"], env=env, capture_output=True, text=True).stdout.strip()
        served = subprocess.Popen([CHAT, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    post(port, "warm", "warm up", token)
                    break
                except OSError:
                    time.sleep(0.1)
            rows = []
            for i in range(runs):
                t = time.perf_counter()
                answer = post(port, "served", f"question {i}", token)
                served_s = time.perf_counter() - t
                t = time.perf_counter()
                run = subprocess.run(
                    [CHAT, "--json", "-t", "oneshot", f"question {i}"], env=env, capture_output=True, text=True
                )
                oneshot_s = time.perf_counter() - t
                if run.returncode != 0 or "reply" not in answer:
                    raise SystemExit(f"a question failed: {run.stderr or answer}")
                rows.append((served_s, oneshot_s))
        finally:
            served.terminate()
            served.wait(10)
    served_ms = statistics.median(r[0] for r in rows) * 1000
    oneshot_ms = statistics.median(r[1] for r in rows) * 1000
    ratio = statistics.median(r[0] / r[1] for r in rows)
    table = "\n".join(
        [
            f"`chat serve` vs one-shot `chat --json`, {runs} paired rounds, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            "",
            "| metric | value |",
            "|---|---|",
            f"| a question over HTTP to `chat serve` (median) | {served_ms:.0f} ms |",
            f"| the same question as `chat --json -t ID` (median) | {oneshot_ms:.0f} ms |",
            f"| served / one-shot (median of paired ratios) | {ratio:.3f}x |",
        ]
    )
    print(table)
    (ROOT / "benchmarks" / "results-serve.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
