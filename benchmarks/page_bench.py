"""chat serve's page (issue 87, item 6): its weight, its first paint on loopback, and how soon a token shows on it.

Run (from anywhere; uses the ``chat`` installed next to this Python unless ``--chat`` names another)::

    .venv/bin/python benchmarks/page_bench.py [--rounds N]     # about a minute on 2 shared cores
    .venv/bin/python benchmarks/page_bench.py --screenshots docs/img   # the phone's view, light and dark, only

``chat serve`` runs as a user starts it (its own process, its token and sign-in link, a private HOME and store), its
model a fake OpenAI-compatible server in this process (tests/fakeserver.py); Chromium (``/usr/bin/chromium``, or
``$CHATCLI_TEST_CHROMIUM``) is driven by Playwright, signed in once with the printed link.

- *Weight*: every response the page's first load takes from the server that is not the API's data (the HTML, its
  script, its style sheet, its icon), uncompressed, as sent. Target: at most 150 KB.
- *First paint*: Chromium's ``first-contentful-paint`` of the page in a fresh tab (the session's cookie kept), and its
  threads listed (the ``/v1/threads`` answer drawn), at a phone's size; medians and p90 of ``--rounds``.
- *A token's way*: the model streams ``--tokens`` tokens, one every 20 ms, stamping each with the time it leaves the
  fake server. Each round asks once from the page (its question typed and sent; a MutationObserver, put in by the
  benchmark, notes when each token's text is in the page's document: the page draws at most once a frame, as a user
  sees it) and once from an SSE client (httpx, reading serve's ``Accept: text/event-stream`` answer, noting each
  token as its event is parsed), in turns. The time from the model's sending to the token's showing, each client's
  median and p90; the goal: the page within 50 ms of the SSE client's. Both clocks are this machine's wall clock.

Results go to ``benchmarks/results-page.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.report import met, report  # noqa: E402
from tests.browser import ARGS, CHROMIUM, PHONE, Size  # noqa: E402
from tests.fakeserver import FakeOpenAIServer, Raw, Reply, delta_chunk, sse, tool_calls  # noqa: E402

GOAL_WEIGHT = 150 * 1024
GOAL_BEHIND = 50.0  # ms the page may show a token after the SSE client has it
PACE = 0.020  # seconds between the model's tokens
MARK = re.compile(r"t(\d{3})\b")


def chat_env(home: Path, model: str) -> dict[str, str]:
    """A private HOME, XDG dirs, runtime dir and store, the model the fake server."""
    runtime = home / "run"
    runtime.mkdir(mode=0o700, parents=True)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "XDG_", "OPENAI_"))}
    return {
        **keep,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_RUNTIME_DIR": str(runtime),
        "OPENAI_BASE_URL": model,
        "OPENAI_API_KEY": "sk-bench",
        "CHATCLI_MODEL": "gpt-fake",
        "CHATCLI_WORKER": "0",
        "CHATCLI_DB": str(home / "threads.db"),
    }


class Serving:
    """``chat serve --port PORT`` as a process: its sign-in link and token, read from what it says."""

    def __init__(self, chat: str, env: dict[str, str], *args: str):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [chat, "serve", "--port", str(self.port), *args], env=env, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stderr is not None
        line = self.process.stderr.readline()
        found = re.search(r"listening on (\S+)", line)
        if not found:
            raise SystemExit(f"chat serve did not start: {line}{self.process.stderr.read()[-500:]}")
        self.link = found.group(1)
        shown = subprocess.run([chat, "serve", "--show-token"], env=env, capture_output=True, text=True, timeout=60)
        self.token = shown.stdout.strip()
        threading.Thread(target=self.process.stderr.read, daemon=True).start()  # its console, never full

    def api(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.token}"}
        answer = httpx.request(method, self.origin + path, json=body, headers=headers, timeout=60)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def signed_in(browser: Any, served: Serving) -> Any:
    """The session's storage state, from the printed link (good once)."""
    context = browser.new_context(**PHONE.options())
    page = context.new_page()
    page.goto(served.link)
    page.wait_for_url(f"{served.origin}/")
    state = context.storage_state()
    context.close()
    return state


def weight(browser: Any, served: Serving, state: Any) -> dict[str, int]:
    """Bytes of each kind the page's first load takes (the API's data left out)."""
    context = browser.new_context(**PHONE.options(), storage_state=state)
    page = context.new_page()
    taken: dict[str, int] = {}

    def took(response: Any) -> None:
        path = response.url.removeprefix(served.origin)
        if path.startswith("/v1/") or not response.url.startswith(served.origin):
            return
        kind = {"js": "JavaScript", "css": "CSS", "svg": "icon"}.get(path.rpartition(".")[2], "HTML")
        taken[kind] = taken.get(kind, 0) + len(response.body())

    page.on("response", took)
    page.goto(f"{served.origin}/", wait_until="networkidle")
    context.close()
    return taken


def first_paint(browser: Any, served: Serving, state: Any) -> tuple[float, float]:
    """A fresh tab's first contentful paint and the time its threads were listed, in ms from the navigation."""
    context = browser.new_context(**PHONE.options(), storage_state=state)
    page = context.new_page()
    page.goto(f"{served.origin}/")
    page.locator("#thread-list button[data-thread-id]").first.wait_for(state="attached")
    listed = page.evaluate("performance.now()")
    painted = page.evaluate(
        """() => new Promise((done) => new PerformanceObserver((seen, observer) => {
             const paint = seen.getEntriesByName("first-contentful-paint")[0];
             if (paint) { observer.disconnect(); done(paint.startTime); }
           }).observe({type: "paint", buffered: true}))"""
    )
    context.close()
    return float(painted), float(listed)


def stamped(server: FakeOpenAIServer, tokens: int) -> dict[int, float]:
    """Queue an answer of ``tokens`` marked tokens, PACE apart; the wall time each leaves the server, by its number."""
    sent: dict[int, float] = {}

    def stamp(k: int) -> Callable[[], None]:
        return lambda: sent.__setitem__(k, time.time() * 1000)

    parts: list[bytes | float | Callable[[], object]] = [sse(delta_chunk({"role": "assistant", "content": ""}))]
    for k in range(tokens):
        parts += [PACE, stamp(k), sse(delta_chunk({"content": f" t{k:03d}"}))]
    parts += [sse(delta_chunk({}, finish_reason="stop")), b"data: [DONE]\n\n"]
    server.queue(Raw(parts))
    return sent


def by_sse(served: Serving, server: FakeOpenAIServer, tokens: int, thread: str) -> list[float]:
    """Each token's time from the model to an SSE client's hands, in ms."""
    import httpx

    sent = stamped(server, tokens)
    seen: dict[int, float] = {}
    headers = {"Authorization": f"Bearer {served.token}", "Accept": "text/event-stream"}
    body = {"content": "count for me"}
    url = f"{served.origin}/v1/threads/{thread}/messages"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=60) as answer:
        for line in answer.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                for k in MARK.findall(event.get("text") or "") if event.get("type") == "token" else ():
                    seen.setdefault(int(k), time.time() * 1000)
    return [seen[k] - sent[k] for k in sorted(sent) if k in seen]


WATCH = """() => {
  window.shown = {};
  new MutationObserver(() => {
    const answers = document.querySelectorAll('#messages .message[data-role="assistant"]');
    const live = answers[answers.length - 1];  // the answer being written (its last tokens drawn as it ends)
    if (!live) return;
    const now = performance.timeOrigin + performance.now();
    for (const m of live.textContent.matchAll(/t(\\d{3})\\b/g)) window.shown[m[1]] ??= now;
  }).observe(document.getElementById("messages"), {subtree: true, childList: true, characterData: true});
}"""


def by_page(browser: Any, served: Serving, state: Any, server: FakeOpenAIServer, tokens: int) -> list[float]:
    """Each token's time from the model to the page's document, in ms (a question typed on a new thread)."""
    context = browser.new_context(**PHONE.options(), storage_state=state)
    page = context.new_page()
    page.goto(f"{served.origin}/")
    page.locator("#question").wait_for()
    page.evaluate(WATCH)
    sent = stamped(server, tokens)
    page.locator("#question").fill("count for me")
    page.locator("#send").tap()  # on a touch screen, Enter is a new line
    page.locator("#messages .message[data-live]").wait_for(state="attached")
    page.locator("#messages .message[data-live]").wait_for(state="detached", timeout=60_000)
    shown = {int(k): float(v) for k, v in page.evaluate("window.shown").items()}
    context.close()
    return [shown[k] - sent[k] for k in sorted(sent) if k in shown]


def p90(values: list[float]) -> float:
    """The nearest-rank 90th percentile."""
    import math

    return sorted(values)[max(0, math.ceil(len(values) * 0.9) - 1)]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms (p90 {p90(values):.0f} ms)"


def seed(served: Serving, server: FakeOpenAIServer, here: Path) -> None:
    """A few threads for the page to list and show: Markdown and code, a tool's call and result, a call waiting."""
    server.queue(Reply("A short poem of three lines: five, seven and five syllables."))
    served.api("POST", "/v1/threads/haiku/messages", {"content": "What is a haiku?"})
    (here / "notes.txt").write_text("- buy pineapples\n- call the plumber\n")
    server.queue(tool_calls(("read_file", {"path": "notes.txt"}, "call_read")))
    served.api("POST", "/v1/threads/notes/messages", {"content": "What is on my list?"})
    server.queue(Reply("Two things: **buy pineapples** and *call the plumber*."))
    served.api("POST", "/v1/threads/notes/approvals", {"decisions": {"call_read": {"action": "yes"}}})
    answer = (
        "A fox is a small wild dog with a **bushy tail**. Foxes:\n\n- hunt at dusk\n- live in dens\n\n"
        "Count them in Python:\n\n```python\nfoxes = ['red', 'arctic', 'fennec']\nprint(len(foxes))\n```\n"
    )
    server.queue(Reply(answer, thinking="The user asks about foxes: a short answer with a list and some code."))
    served.api("POST", "/v1/threads/foxes/messages", {"content": "Tell me about foxes"})
    server.queue(tool_calls(("shell", {"command": "git push origin main"}, "call_push")))
    served.api("POST", "/v1/threads/release/messages", {"content": "Push the release"})


def screenshots(browser: Any, served: Serving, state: Any, out: Path) -> list[Path]:
    """The phone's view of the thread of foxes, light and dark, and its inbox: small PNGs (one pixel a CSS pixel)."""
    out.mkdir(parents=True, exist_ok=True)
    taken = []
    phone = Size("phone", PHONE.width, PHONE.height, mobile=True)
    for scheme in ("light", "dark"):
        options = {**phone.options(), "device_scale_factor": 1}
        context = browser.new_context(**options, storage_state=state, color_scheme=scheme)
        page = context.new_page()
        page.goto(f"{served.origin}/#thread=foxes")
        page.locator('#messages .message[data-role="assistant"] .code').wait_for()
        page.locator("#inbox-count").wait_for()
        taken.append(out / f"page-phone-{scheme}.png")
        page.screenshot(path=taken[-1])
        if scheme == "light":
            page.locator("#inbox-button").tap()
            page.locator("#inbox-list .card").first.wait_for()
            taken.append(out / "page-phone-inbox.png")
            page.screenshot(path=taken[-1])
        context.close()
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--chat", default=str(Path(sys.executable).with_name("chat")))
    parser.add_argument("--screenshots", metavar="DIR", help="only write the phone's screenshots into DIR")
    parser.add_argument("--out", default=str(HERE / "results-page.md"))
    options = parser.parse_args()
    shots = Path(options.screenshots).resolve() if options.screenshots else None  # before the change of directory
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as temp, FakeOpenAIServer() as server, sync_playwright() as driver:
        here = Path(temp)
        env = chat_env(here / "home", server.base_url)
        env["CHATCLI_TOOLS"] = "files,shell"
        os.chdir(here)
        served = Serving(options.chat, env)
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            state = signed_in(browser, served)
            seed(served, server, here)
            if shots is not None:
                for path in screenshots(browser, served, state, shots):
                    print(f"{path}: {path.stat().st_size // 1024} KB")
                return
            rows = measure(browser, served, state, server, options)
        finally:
            browser.close()
            served.stop()
    report(rows, options.rounds, options.out)


def measure(browser: Any, served: Serving, state: Any, server: FakeOpenAIServer, options: Any) -> list[tuple[str, ...]]:
    taken = weight(browser, served, state)
    total = sum(taken.values())
    rows = [
        (f"weight: {kind}", f"{size / 1024:.1f} KB", "—", "—")
        for kind, size in sorted(taken.items(), key=lambda kv: -kv[1])
    ]
    rows.append(
        ("weight: the page whole, uncompressed", f"{total / 1024:.1f} KB", "<= 150 KB", met(total, GOAL_WEIGHT))
    )
    first_paint(browser, served, state)  # a warm-up: the browser's caches of its own, the server's first requests
    paints = [first_paint(browser, served, state) for _ in range(options.rounds)]
    rows.append(("first contentful paint, a fresh tab on loopback", ms([p for p, _ in paints]), "—", "—"))
    rows.append(("the threads listed, from the navigation", ms([listed for _, listed in paints]), "—", "—"))
    page: list[float] = []
    client: list[float] = []
    for k in range(options.rounds):  # in turns, so that neither has the quieter moments
        page += by_page(browser, served, state, server, options.tokens)
        client += by_sse(served, server, options.tokens, f"sse-{k}")
    behind = statistics.median(page) - statistics.median(client)
    rows.append((f"a token, the model -> an SSE client ({len(client)} tokens)", ms(client), "—", "—"))
    rows.append((f"a token, the model -> the page's document ({len(page)} tokens)", ms(page), "—", "—"))
    rows.append(
        (
            "the page behind the SSE client, medians",
            f"{behind:.0f} ms",
            f"<= {GOAL_BEHIND:.0f} ms",
            met(behind, GOAL_BEHIND),
        )
    )
    behind90 = p90(page) - p90(client)
    rows.append(
        (
            "the page behind the SSE client, p90",
            f"{behind90:.0f} ms",
            f"<= {GOAL_BEHIND:.0f} ms",
            met(behind90, GOAL_BEHIND),
        )
    )
    return rows


if __name__ == "__main__":
    main()
