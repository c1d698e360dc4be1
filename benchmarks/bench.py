"""chatcli performance benchmark: one command, one table.

Run (from anywhere; uses the ``chat`` installed next to this Python)::

    .venv/bin/python benchmarks/bench.py                # full run, ~6 min on 2 cores
    .venv/bin/python benchmarks/bench.py --quick        # smoke run, ~2 min
    .venv/bin/python benchmarks/bench.py --tools-only   # row 7 alone, ~1 min
    .venv/bin/python benchmarks/bench.py --attachments-only   # row 8 alone, ~2 min
    .venv/bin/python benchmarks/bench.py --turns 1000 --runs 7

Prints a Markdown table (metric | value | target | met?) and writes it, with the run's
details, to ``benchmarks/results.md`` (``results-tools.md`` with ``--tools-only``,
``results-attachments.md`` with ``--attachments-only``; overwritten each run).  Every
figure is a median of several runs; every ratio compares figures measured in the same run
(paired runs are interleaved and the ratio is the median of the per-pair ratios).  No
network is used: a fake OpenAI-compatible server (``tests/fakeserver.py``) runs in this
process on 127.0.0.1 and answers every request at once with the same ~400-character
Markdown reply.

Rows (see docs/PERFORMANCE.md for the reading):

1. startup -- ``chat`` spawned in a pseudo-terminal: time to the first prompt, and time to
   the answer of a question typed the moment the prompt shows (the prompt appears before
   LangGraph and the OpenAI client finish importing in the background); ``chat --help``;
   ``python -c pass`` (the interpreter floor).
2. one-shot -- ``echo hi | chat`` beside ``python -c "import langchain_openai, langgraph"``
   (the import floor) and beside everything the one-shot path must import
   (``langgraph.graph``, the SQLite saver), runs rotated; wall and CPU (user + system) ratios.
3. per-turn overhead -- in-process, the product's own ``open_conversation`` on a temp
   database; each turn sends a ~200-character question and gets a ~400-character reply;
   overhead = client wall time minus the CPU time the fake server's handler thread spent on
   that request (the server shares this process); "CPU" = this process's CPU time minus the
   server's, which is far less disturbed by other load on the machine.  Threads filled to
   N-5, 95 and 5 turns then get one turn each per round for 10 rounds: medians of turns
   around 10, 100 and N, and ratios as medians of the per-round pairs.  Also the number of
   messages each request carried.
4. storage -- database bytes (after ``PRAGMA wal_checkpoint(TRUNCATE)``, main file + -wal)
   after 100 and N turns of that thread, and the same for LangGraph's bare
   ``AsyncSqliteSaver`` (the tutorial design) after 100 and ``--bare-turns`` turns.
5. render -- CPU time to stream a 20,000-token Markdown answer through chatcli's
   MarkdownStream into a pseudo-terminal vs writing the same tokens raw, and one
   ``rich.markdown.Markdown`` render of the whole answer for comparison
   (``benchmarks/render_bench.py``); and ``chat "question"`` in a pseudo-terminal while the
   server streams that answer at 2,000 tokens/s: how far the screen lags behind the stream.
6. memory -- VmHWM (peak RSS) of an idle REPL (prompt + 2.5 s for the background import),
   and of a REPL that resumed the N-turn thread and answered one question; plus that
   answer's latency (Enter -> last word), which includes loading the thread.
7. tools -- three MCP servers in mcp.json (``tests/mcp/bars.py`` over stdio, 7 tools each,
   run by this Python), with nothing cached of them (each run starts and lists them: a first
   run, or a changed configuration; ``benchmarks/mcp_bench.py``, row 14, has the cached path)
   vs no tools set up: the REPL in a pseudo-terminal (spawn -> prompt,
   interleaved; then ``hi`` typed at once: spawn -> the first chat request, which must offer
   the 21 MCP tools, i.e. when the tools are usable, and -> the answer); and the one-shot
   ``chat "question"`` with stdout a pipe, with no tools, with ``--tools shell,files`` and
   with the three servers, rotated with the servers' own start (three ``bars.py`` spoken to in
   raw JSON-RPC until all answered initialize and tools/list): ratios to no tools, and the
   seconds the servers add over that floor.  ``benchmarks/tools_timeline.py`` shows where
   those seconds go.
8. attachments -- in-process, the product's own ``open_conversation`` on two temp databases:
   a thread whose first question carries a ~500 KB PNG (``Thread.send(text,
   attachments=[from_bytes(...)])``), then N text turns, and a thread with the same
   questions but no image, one turn of each per round.  Database bytes (as in row 4) after
   the first turn, after 100 more and after N more; the growth per turn after the first
   turn, with the image and without, and their ratio (the image must be stored once, not
   once per turn); what the image turn itself added over the same turn without it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import fcntl
import json
import os
import platform
import re
import resource
import select
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any, Callable, Collection

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import render_bench  # noqa: E402  (benchmarks/render_bench.py)

from tests.fakeserver import FakeOpenAIServer, Reply  # noqa: E402
from tests.helpers import a_thread as thread_of  # noqa: E402  (a thread as every door gets it)

PY = sys.executable
CHAT = str(Path(sys.executable).with_name("chat"))

# Targets: None = no target set (the row is informational).
TARGETS: dict[str, tuple[str, Callable[[float], bool]] | None] = {
    "prompt": ("<= 0.3 s", lambda v: v <= 0.3),
    "oneshot_ratio": ("<= 1.1x", lambda v: v <= 1.1),
    "turn_ratio": ("<= 1.5", lambda v: v <= 1.5),
    "db_ratio": ("<= 11", lambda v: v <= 11),
    "render_ratio": ("<= 2x", lambda v: v <= 2),
    "render_lag": ("<= 0.25 s", lambda v: v <= 0.25),
    "tools_prompt": ("<= 0.3 s", lambda v: v <= 0.3),
    "builtin_ratio": ("<= 1.1x", lambda v: v <= 1.1),
    "mcp_over_floor": ("<= 2.0x", lambda v: v <= 2.0),
    "attach_growth_ratio": ("<= 1.1x", lambda v: v <= 1.1),
}

END_MARK = "zebraquux"  # last word of every reply: its arrival means the answer is complete
_WORDS = (
    "the store keeps each message once and every checkpoint refers to it so a long thread "
    "grows by the size of what was said and a turn costs the same at the thousandth as at the tenth"
).split()


class _Tokens:
    """A turn listener (chatcli.core.events) that hands each piece of the answer to ``on_token``."""

    def __init__(self, on_token: Callable[[str], None]):
        self.on_token = on_token

    def hear(self, event: Any) -> None:
        from chatcli.core.events import Token

        if isinstance(event, Token):
            self.on_token(event.text)

    async def approve(self, call: Any) -> Any:
        from chatcli.core.events import refuse

        return refuse(call)


def _words(n_chars: int, seed: int) -> str:
    out: list[str] = []
    i = seed
    while sum(len(w) + 1 for w in out) < n_chars:
        out.append(_WORDS[i % len(_WORDS)])
        i += 7
    return " ".join(out)


REPLY = "Here is **the answer**, with `code()` in it: " + _words(330, 3) + ".\n\n- one\n- two\n\nDone " + END_MARK


def question(i: int) -> str:
    """A ~200-character question, different for every turn."""
    return f"Question {i}: " + _words(185, i)


# ----------------------------------------------------------------------------------- utils


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def chat_env(base_url: str, home: Path) -> dict[str, str]:
    """A clean environment for the installed ``chat``: private HOME, the fake server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCLI_", "XDG_", "NO_COLOR"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="sk-bench-0123456789",
        CHATCLI_MODEL="gpt-fake",
        CHATCLI_TIMEOUT="30",
        CHATCLI_MAX_RETRIES="0",
        TERM="xterm-256color",
    )
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(
    argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: bytes | None = None
) -> tuple[float, subprocess.CompletedProcess, float]:
    """Run to completion; return (wall seconds, the process, its CPU seconds: user + system)."""
    cpu0 = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    return time.perf_counter() - start, proc, _children_cpu() - cpu0


_CSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|[\x08\r]")


class PtyChat:
    """``chat`` in a pseudo-terminal that answers cursor-position requests like a real terminal."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, command: list[str] | None = None) -> None:
        """``command``: what to run instead of the installed ``chat`` (benchmarks/tools_timeline.py)."""
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(
            [*(command or [CHAT]), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        self.raw = b""

    def text(self) -> str:
        return _CSI.sub(b"", self.raw).decode("utf-8", "replace")

    def wait_for(self, pred: Callable[[str], bool], timeout: float = 60.0) -> float:
        """Read until pred(visible text) holds; return seconds since spawn when it first did."""
        deadline = time.perf_counter() + timeout
        while True:
            if pred(self.text()):
                return time.perf_counter() - self.start
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"chat in pty: timed out; screen tail: {self.text()[-400:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise EOFError(f"chat exited early: {self.text()[-400:]!r}")
                if b"\x1b[6n" in data:  # cursor position request: answer like a terminal
                    os.write(self.master, b"\x1b[1;1R")
                self.raw += data

    def drain(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError, EOFError):
            self.wait_for(lambda _: False, seconds)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def vm_hwm_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))

    def close(self) -> None:
        # Ctrl-D: leave. One that arrives between the answer's last word and the next prompt
        # finds the terminal in cooked mode, where the line discipline eats it as end-of-file
        # for nobody: send it again every half second until chat leaves (or 5 s, then kill).
        end = time.perf_counter() + 5
        while self.proc.poll() is None and time.perf_counter() < end:
            with contextlib.suppress(OSError):
                self.send(b"\x04")
            resend = min(end, time.perf_counter() + 0.5)
            while self.proc.poll() is None and time.perf_counter() < resend:
                self.drain(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def prompt_shown(text: str) -> bool:
    """prompt-toolkit draws '>' after the two notes; nothing else prints '>' before it."""
    return ">" in text.split("quits", 1)[-1]


def answered(text: str) -> bool:
    return END_MARK in text


# ------------------------------------------------------------------------------- sections


def bench_startup(server: FakeOpenAIServer, work: Path, runs: int) -> dict[str, Any]:
    """Row 1: prompt, first answer, --help, python floor (interleaved)."""
    home = work / "home-startup"
    env = chat_env(server.base_url, home)
    res: dict[str, list[float]] = {"py": [], "help": [], "prompt": [], "answer": []}
    for _ in range(runs):
        res["py"].append(timed_run([PY, "-c", "pass"])[0])
        wall, proc, _ = timed_run([CHAT, "--help"], env=env, cwd=work)
        assert proc.returncode == 0, proc.stderr
        res["help"].append(wall)
        chat = PtyChat([], env, work)
        try:
            res["prompt"].append(chat.wait_for(prompt_shown))
            chat.send(b"hi\r")
            res["answer"].append(chat.wait_for(answered))
        finally:
            chat.close()
    return res


FLOOR = "import langchain_openai, langgraph"
# Everything the one-shot path cannot avoid importing (langgraph alone is a near-empty package).
FULL_FLOOR = "import langchain_openai, langgraph.graph, langgraph.checkpoint.sqlite.aio"


def bench_oneshot(server: FakeOpenAIServer, work: Path, runs: int) -> dict[str, Any]:
    """Row 2: echo hi | chat beside the import floor, interleaved; ratio per pair."""
    home = work / "home-oneshot"
    env = {**chat_env(server.base_url, home), "CHATCLI_WORKER": "0"}  # the cold path: row 11 has the worker's
    commands = {
        "chat": ([CHAT], b"hi\n"),
        "floor": ([PY, "-c", FLOOR], None),
        "full": ([PY, "-c", FULL_FLOOR], None),
    }
    out: dict[str, list[float]] = {}
    timed_run([CHAT], env=env, cwd=work, stdin=b"warm up\n")  # first run creates the db and dirs
    names = list(commands)
    for i in range(runs):
        for which in names[i % 3 :] + names[: i % 3]:  # rotate the order to cancel drift
            argv, stdin = commands[which]
            wall, proc, cpu = timed_run(argv, env=env, cwd=work, stdin=stdin)
            assert proc.returncode == 0, proc.stderr.decode()
            if which == "chat":
                assert END_MARK in proc.stdout.decode(), proc.stdout.decode()
            out.setdefault(which, []).append(wall)
            out.setdefault(which + "_cpu", []).append(cpu)
        for base in ("floor", "full"):
            out.setdefault(f"ratio_{base}", []).append(out["chat"][-1] / out[base][-1])
            out.setdefault(f"cpu_ratio_{base}", []).append(out["chat_cpu"][-1] / out[base + "_cpu"][-1])
    return out


def bench_render(runs: int, tokens: int) -> dict[str, Any]:
    """Row 5: MarkdownStream vs raw writes into a pty, CPU seconds, interleaved."""
    text = render_bench.make_answer(tokens)
    toks = render_bench.tokenize(text)
    out: dict[str, list[float]] = {"raw": [], "stream": [], "oneshot": [], "ratio": [], "oneshot_ratio": []}
    for _ in range(runs):
        raw = render_bench.run_in_pty(render_bench.raw(toks))
        stream = render_bench.run_in_pty(render_bench.streamed(toks, simulated=True))
        whole = render_bench.run_in_pty(render_bench.one_shot(text))
        out["raw"].append(raw)
        out["stream"].append(stream)
        out["oneshot"].append(whole)
        out["ratio"].append(stream / raw)
        out["oneshot_ratio"].append(whole / raw)
    out["tokens"] = len(toks)
    return out


def bench_keeps_up(server: FakeOpenAIServer, work: Path, runs: int, tokens: int) -> dict[str, Any]:
    """Row 5: ``chat "question"`` in a pty while the server streams the render answer at 2,000 tokens/s.

    Lag = from the server writing the end of the stream to the answer's last word reaching
    the terminal. Tokens go 4 to an SSE event, as fast servers batch them; the pause between
    events is set a tenth short of 2 ms to make up for the server's own time per event, and
    the rate reached is reported.
    """
    text = render_bench.make_answer(tokens) + f"\nDone {END_MARK}\n"
    toks = render_bench.tokenize(text)
    group = 4
    events = ["".join(toks[i : i + group]) for i in range(0, len(toks), group)]
    marks: dict[str, float] = {}
    base = server._httpd.RequestHandlerClass  # noqa: SLF001 - benchmark instrumentation

    class Marked(base):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:  # noqa: N802
            marks["start"] = time.perf_counter()
            super().do_POST()

        def _end_body(self) -> None:
            marks["end"] = time.perf_counter()
            super()._end_body()

    server._httpd.RequestHandlerClass = Marked  # noqa: SLF001
    out: dict[str, Any] = {"lag": [], "rate": [], "tokens": len(toks)}
    try:
        for i in range(runs):
            home = work / f"keepup{i}"
            home.mkdir()
            server.queue(Reply(tokens=events, delay=group / render_bench.TOKENS_PER_SECOND / 1.1))
            chat = PtyChat(
                ["--db", str(home / "k.db"), "Write the long answer."], chat_env(server.base_url, home), home
            )
            tail = b""
            while END_MARK.encode() not in tail:
                ready, _, _ = select.select([chat.master], [], [], 60)
                data = os.read(chat.master, 65536) if ready else b""
                if not data:
                    raise RuntimeError(f"keep-up run: no answer; last output {tail[-300:]!r}")
                tail = tail[-64:] + data
            seen = time.perf_counter()
            chat.proc.wait(timeout=30)
            os.close(chat.master)
            out["lag"].append(seen - marks["end"])
            out["rate"].append(len(toks) / (marks["end"] - marks["start"]))
    finally:
        server._httpd.RequestHandlerClass = base  # noqa: SLF001
    return out


def _install_server_timer(server: FakeOpenAIServer) -> list[float]:
    """Record the CPU time of each chat request's handler thread (fakeserver has no such hook)."""
    cpu: list[float] = []
    base = server._httpd.RequestHandlerClass  # noqa: SLF001 - benchmark instrumentation

    class Timed(base):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:  # noqa: N802
            start = time.thread_time()
            try:
                super().do_POST()
            finally:
                cpu.append(time.thread_time() - start)

    server._httpd.RequestHandlerClass = Timed  # noqa: SLF001
    return cpu


def db_bytes(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log(f"warning: wal_checkpoint on {path.name} was busy")
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


@contextlib.asynccontextmanager
async def bare_conversation(settings: Any, thread_id: str):
    """The product's graph and Thread on LangGraph's bare AsyncSqliteSaver (the tutorial design).

    No message table, thread index or cross-process lock: only the saver differs in what is stored.
    """
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from chatcli.backends.own.graph import build_graph
    from chatcli.backends.own.model import build_chat_model
    from chatcli.service.thread import Thread

    async with AsyncSqliteSaver.from_conn_string(settings.db) as saver:
        app = build_graph(
            build_chat_model(settings), saver, default_system=settings.system, context_tokens=settings.context_tokens
        )
        yield Thread(app=app, thread_id=thread_id)


class Turns:
    """Runs turns and measures each: wall, CPU, the server's CPU, messages sent."""

    def __init__(self, server: FakeOpenAIServer, server_cpu: list[float]) -> None:
        self.server = server
        self.server_cpu = server_cpu

    async def turn(self, conversation: Any, i: int) -> dict[str, float]:
        """Send question i; overhead = wall - server CPU; cpu = this process's CPU - server CPU."""
        expected = len(self.server_cpu) + 1
        received: list[str] = []
        c = time.process_time()
        t = time.perf_counter()
        conversation.listener = _Tokens(received.append)
        result = await conversation.send(question(i))
        wall = time.perf_counter() - t
        cpu = time.process_time() - c
        for _ in range(1000):  # the handler thread records its time just after the last byte
            if len(self.server_cpu) >= expected:
                break
            await asyncio.sleep(0.001)
        server = self.server_cpu[expected - 1]
        sent = len(self.server.last_messages())
        self.server.clear()  # keep the recorded request bodies from piling up
        if END_MARK not in result.text:
            raise RuntimeError(f"turn {i}: unexpected reply {result.text[:80]!r}")
        return {"wall": wall, "server": server, "overhead": wall - server, "cpu": cpu - server, "sent": sent}

    async def run(
        self,
        conversation: Any,
        first: int,
        last: int,
        label: str,
        db: Path | None = None,
        size_at: Collection[int] = (),
    ) -> tuple[list[dict[str, float]], dict[int, int]]:
        """Turns first..last in a row; database size at the turns in size_at."""
        out: list[dict[str, float]] = []
        sizes: dict[int, int] = {}
        for i in range(first, last + 1):
            out.append(await self.turn(conversation, i))
            if db is not None and i in size_at:
                sizes[i] = db_bytes(db)
            if i % 100 == 0:
                log(f"  {label}: turn {i}, {out[-1]['wall'] * 1000:.0f} ms")
        return out, sizes


def _summary(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: med([x[key] for x in samples]) for key in ("wall", "server", "overhead", "cpu", "sent")}


async def _ours(
    turns: Turns, settings: Callable[[Path], Any], work: Path, n: int, size_at: Collection[int]
) -> dict[str, Any]:
    """chatcli's store.  Fill a thread to n-5 turns, a second to 95 and a third to 5; then
    10 rounds of one turn on each (order rotated), so turns 6-15, 96-105 and n-4..n+5 are
    measured side by side and their ratios are per-round pairs that cancel the machine's drift.
    The second and third threads live in another database so the first's size is its own."""
    db, side = work / "long.db", work / "side.db"
    mid = n > 110
    start = time.perf_counter()
    async with thread_of(settings(db), "long") as long_thread:
        _, sizes = await turns.run(long_thread, 1, n - 5, "long thread", db, size_at)
        log(f"  long thread at turn {n - 5} after {time.perf_counter() - start:.0f} s; filling the short threads")
        async with contextlib.AsyncExitStack() as stack:
            short_thread = await stack.enter_async_context(thread_of(settings(side), "short"))
            await turns.run(short_thread, 1, 5, "short thread")
            lanes: dict[int, tuple[Any, int]] = {10: (short_thread, 5), n: (long_thread, n - 5)}
            if mid:
                mid_thread = await stack.enter_async_context(thread_of(settings(side), "mid"))
                await turns.run(mid_thread, 1, 95, "mid thread")
                lanes[100] = (mid_thread, 95)
            samples: dict[int, list[dict[str, float]]] = {m: [] for m in lanes}
            marks = sorted(lanes)
            for k in range(1, 11):
                for m in marks[k % len(marks) :] + marks[: k % len(marks)]:
                    conversation, base = lanes[m]
                    samples[m].append(await turns.turn(conversation, base + k))
                    if conversation is long_thread and base + k in size_at:
                        sizes[base + k] = db_bytes(db)
    pairs = {}
    for m in marks:
        if m != 10:
            pairs[m] = {
                key: med([a[key] / b[key] for a, b in zip(samples[m], samples[10])]) for key in ("overhead", "cpu")
            }
    if mid and n != 100:
        pairs[(n, 100)] = {
            key: med([a[key] / b[key] for a, b in zip(samples[n], samples[100])]) for key in ("overhead", "cpu")
        }
    return {"marks": {m: _summary(samples[m]) for m in marks}, "pairs": pairs, "sizes": sizes, "db": db}


async def _bare(turns: Turns, settings: Any, n_list: list[int]) -> dict[str, Any]:
    """The bare saver, turns in a row; the 10 turns around 10 and each of n_list."""
    n = max(n_list)
    async with bare_conversation(settings, "bare") as conversation:
        samples, sizes = await turns.run(conversation, 1, n, "bare saver", Path(settings.db), n_list)
    marks = {}
    for m in sorted({10, *n_list}):
        lo = min(max(0, m - 5), max(0, n - 10))  # turns m-4 .. m+5, kept inside the run
        marks[m] = _summary(samples[lo : lo + 10])
    return {"marks": marks, "sizes": sizes}


def store_settings(server: FakeOpenAIServer, work: Path, db: Path) -> Any:
    """Settings for an in-process conversation with the fake server, stored in ``db``."""
    from chatcli.config import Settings

    return Settings(
        model="gpt-fake",
        api_key="sk-bench-0123456789",
        base_url=server.base_url,
        db=str(db),
        history_file=str(work / "history"),
        max_retries=0,
        timeout=30.0,
    )


def bench_turns(server: FakeOpenAIServer, work: Path, n: int, bare_n: list[int]) -> dict[str, Any]:
    """Rows 3 and 4: per-turn overhead and storage, chatcli's store vs the bare saver."""
    from chatcli.config import Settings

    turns = Turns(server, _install_server_timer(server))

    def settings(db: Path) -> Settings:
        return store_settings(server, work, db)

    log(f"per-turn: {n} turns on chatcli's store (+ 105 and 15 on two other threads)")
    ours = asyncio.run(_ours(turns, settings, work, n, {100, n, *bare_n}))
    bare_db = work / "bare.db"
    log(f"per-turn: {max(bare_n)} turns on the bare AsyncSqliteSaver")
    bare = asyncio.run(_bare(turns, settings(bare_db), bare_n))
    with contextlib.closing(sqlite3.connect(bare_db)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if any(name.startswith("chatcli") for name in tables):
        raise RuntimeError(f"the bare-saver database has chatcli tables: {sorted(tables)}")
    return {"ours": ours, "bare": bare, "db": ours["db"], "n": n, "bare_n": bare_n}


def bench_memory(server: FakeOpenAIServer, work: Path, runs: int, long_db: Path) -> dict[str, Any]:
    """Row 6: VmHWM of an idle REPL, and after one question on the long thread."""
    env = chat_env(server.base_url, work / "home-memory")
    idle: list[float] = []
    long: list[float] = []
    long_answer: list[float] = []
    for _ in range(runs):
        chat = PtyChat([], env, work)
        try:
            chat.wait_for(prompt_shown)
            chat.drain(2.5)  # the engine imports in the background after the prompt shows
            idle.append(chat.vm_hwm_kb() / 1024)
        finally:
            chat.close()
        chat = PtyChat(["--thread", "long", "--db", str(long_db)], env, work)
        try:
            chat.wait_for(prompt_shown)
            chat.drain(2.5)  # let the background import finish: measure the turn, not the import
            t_sent = time.perf_counter() - chat.start
            chat.send(b"and one more question\r")
            long_answer.append(chat.wait_for(answered) - t_sent)
            chat.drain(0.3)
            long.append(chat.vm_hwm_kb() / 1024)
        finally:
            chat.close()
    return {"idle": idle, "long": long, "long_answer": long_answer}


# ----------------------------------------------------------------------------- attachments

IMAGE_BYTES = 500 * 1024  # the attached PNG: its signature, then random (incompressible) bytes


def bench_png(size: int = IMAGE_BYTES) -> bytes:
    import random

    signature = b"\x89PNG\r\n\x1a\n"
    return signature + random.Random(8).randbytes(size - len(signature))


def _carries_image(messages: list[dict]) -> bool:
    """True when a request's messages hold an image part."""
    return any(
        isinstance(m.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
        for m in messages
    )


async def _attachments(server: FakeOpenAIServer, work: Path, n: int, size_at: Collection[int]) -> dict[str, Any]:
    """Two threads in two databases, one turn of each per round (order alternated): turn 1 of
    "image" carries the PNG, turn 1 of "plain" the same question alone; then turns 2..n+1 are
    text on both.  Sizes after turn 1 and after each of ``size_at`` more turns."""
    from chatcli.content.attachments import from_bytes

    png = bench_png()
    image = from_bytes("shot.png", png)
    dbs = {"image": work / "attach-image.db", "plain": work / "attach-plain.db"}
    sizes: dict[str, dict[int, int]] = {"image": {}, "plain": {}}
    wall: dict[str, list[float]] = {"image": [], "plain": []}
    sent_through = 0  # the last turn whose request carried the image
    async with contextlib.AsyncExitStack() as stack:
        threads = {
            name: await stack.enter_async_context(thread_of(store_settings(server, work, db), name))
            for name, db in dbs.items()
        }
        for i in range(1, n + 2):
            order = ("image", "plain") if i % 2 else ("plain", "image")
            for name in order:
                received: list[str] = []
                files = [image] if (i == 1 and name == "image") else []
                t = time.perf_counter()
                threads[name].listener = _Tokens(received.append)
                result = await threads[name].send(question(i), attachments=files)
                wall[name].append(time.perf_counter() - t)
                if END_MARK not in result.text:
                    raise RuntimeError(f"{name} turn {i}: unexpected reply {result.text[:80]!r}")
                if name == "image" and _carries_image(server.last_messages()):
                    sent_through = i
                server.clear()  # the image thread's requests are ~700 KB each: keep none
                if i == 1 or i - 1 in size_at:
                    sizes[name][i - 1] = db_bytes(dbs[name])
            if i % 100 == 0:
                log(
                    f"  attachments: turn {i}, {wall['image'][-1] * 1000:.0f} ms with the image, {wall['plain'][-1] * 1000:.0f} ms without"
                )
        first = (await threads["image"].messages())[0]
    records = first.additional_kwargs.get("chatcli_attachments")
    if records != [image.record()]:
        raise RuntimeError(f"the image thread's first question does not hold the attachment: {records!r}")
    if sent_through < 2:
        raise RuntimeError(f"the image went with turns 1..{sent_through} only: it should stay in the history sent")
    return {
        "n": n,
        "image_bytes": len(png),
        "base64_bytes": len(base64.b64encode(png)),
        "sizes": sizes,
        "sent_through": sent_through,
        # per-turn wall, turns 2-11 (the image in every request) and the last 10, paired by round
        "wall_early": [a / b for a, b in zip(wall["image"][1:11], wall["plain"][1:11])],
        "wall_late": [a / b for a, b in zip(wall["image"][-10:], wall["plain"][-10:])],
    }


def bench_attachments(server: FakeOpenAIServer, work: Path, n: int) -> dict[str, Any]:
    """Row 8: storage of a thread whose first question carries a ~500 KB image."""
    log(f"attachments: a {IMAGE_BYTES // 1024} KB image, then {n} text turns, beside the same thread without it")
    marks = sorted({m for m in (100, n) if m <= n})
    return asyncio.run(_attachments(server, work, n, marks))


# ----------------------------------------------------------------------------------- tools

BARS = ROOT / "tests" / "mcp" / "bars.py"  # the FastMCP test server
BARS_TOOLS = 8  # the tools it offers (without BARS_EXTRA)
N_SERVERS = 3
BUILTIN_TOOLS = "shell,files"
ONESHOT_QUESTION = "What is the capital of France?"


def tools_homes(work: Path) -> dict[str, Path]:
    """Two private homes: one with no mcp.json, one whose mcp.json starts three bars.py over stdio."""
    homes = {"none": work / "home-tools-none", "mcp": work / "home-tools-mcp"}
    for home in homes.values():
        (home / ".config" / "chatcli").mkdir(parents=True, exist_ok=True)
    servers = {f"bars{i + 1}": {"command": PY, "args": [str(BARS)]} for i in range(N_SERVERS)}
    (homes["mcp"] / ".config" / "chatcli" / "mcp.json").write_text(json.dumps({"mcpServers": servers}, indent=1))
    return homes


def uncached(home: Path) -> None:
    """Forget what the MCP servers offer (chat's cache): the run starts and lists them (row 14 has the cached path)."""
    shutil.rmtree(home / ".cache", ignore_errors=True)


@contextlib.contextmanager
def chat_requests(server: FakeOpenAIServer):
    """Record when each chat-completions request arrives (perf_counter), beside server.requests."""
    arrivals: list[float] = []
    base = server._httpd.RequestHandlerClass  # noqa: SLF001 - benchmark instrumentation

    class Arrival(base):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/").endswith("/chat/completions"):
                arrivals.append(time.perf_counter())
            super().do_POST()

    server._httpd.RequestHandlerClass = Arrival  # noqa: SLF001
    try:
        yield arrivals
    finally:
        server._httpd.RequestHandlerClass = base  # noqa: SLF001


def tools_sent(server: FakeOpenAIServer) -> int:
    """How many tools the last chat request offered the model."""
    return len(server.requests[-1].get("tools") or []) if server.requests else -1


_MCP_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}


def mcp_servers_floor(n: int) -> tuple[float, int]:
    """n bars.py started at once, spoken to in raw JSON-RPC over stdio (no client library):
    seconds until every one answered initialize and tools/list (their exit is not counted),
    and the number of tools they listed."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen([PY, str(BARS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _ in range(n)
    ]
    try:
        for proc in procs:
            proc.stdin.write((json.dumps(_MCP_INIT) + "\n").encode())
            proc.stdin.flush()
        for proc in procs:
            json.loads(proc.stdout.readline())  # the initialize result
            proc.stdin.write((json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n").encode())
            proc.stdin.write((json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n").encode())
            proc.stdin.flush()
        listed = sum(len(json.loads(proc.stdout.readline())["result"]["tools"]) for proc in procs)
        ready = time.perf_counter() - start
    finally:
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return ready, listed


def bench_tools_prompt(server: FakeOpenAIServer, work: Path, runs: int) -> dict[str, Any]:
    """Row 7: the REPL in a pty with no tools set up vs three MCP servers in mcp.json (interleaved).

    Prompt = spawn -> '>' drawn. Then 'hi' is typed at once: the first chat request's arrival
    at the fake server (spawn -> request) is when the session's tools are usable -- the graph
    waits for starting servers before it calls the model -- and the request must offer all
    of the servers' tools; the answer's last word on screen ends the run.
    """
    homes = tools_homes(work)
    envs = {which: chat_env(server.base_url, home) for which, home in homes.items()}
    expected = {"none": 0, "mcp": BARS_TOOLS * N_SERVERS}
    out: dict[str, list[float]] = {}
    names = list(envs)
    with chat_requests(server) as arrivals:
        for i in range(runs):
            for which in names[i % 2 :] + names[: i % 2]:
                server.clear()
                arrivals.clear()
                uncached(homes[which])
                chat = PtyChat([], envs[which], work)
                try:
                    out.setdefault(f"prompt_{which}", []).append(chat.wait_for(prompt_shown))
                    chat.send(b"hi\r")
                    out.setdefault(f"answer_{which}", []).append(chat.wait_for(answered))
                    out.setdefault(f"request_{which}", []).append(arrivals[0] - chat.start)
                    if tools_sent(server) != expected[which]:
                        raise RuntimeError(
                            f"REPL ({which}): the first request offered {tools_sent(server)} tools, not {expected[which]}"
                        )
                finally:
                    chat.close()
            for key in ("prompt", "answer", "request"):
                out.setdefault(f"{key}_ratio", []).append(out[f"{key}_mcp"][-1] / out[f"{key}_none"][-1])
    return out


def bench_tools_oneshot(server: FakeOpenAIServer, work: Path, runs: int) -> dict[str, Any]:
    """Row 7: ``chat "question"`` (stdout a pipe) with no tools, with --tools shell,files, and with
    three MCP servers; beside three bars.py started at once (the servers' own start); rotated."""
    homes = tools_homes(work)
    cold = {"CHATCLI_WORKER": "0"}  # each run lists the servers itself: mcp_bench.py has the worker and the MCP host
    env_none, env_mcp = ({**chat_env(server.base_url, homes[k]), **cold} for k in ("none", "mcp"))
    commands = {
        "none": ([CHAT, ONESHOT_QUESTION], env_none, 0),
        "builtin": ([CHAT, "--tools", BUILTIN_TOOLS, ONESHOT_QUESTION], env_none, 3),
        "mcp": ([CHAT, ONESHOT_QUESTION], env_mcp, BARS_TOOLS * N_SERVERS),
    }
    for argv, env, _ in commands.values():  # the first run creates each home's database and dirs
        timed_run(argv, env=env, cwd=work)
    names = [*commands, "floor"]
    out: dict[str, list[float]] = {}
    for i in range(runs):
        for which in names[i % len(names) :] + names[: i % len(names)]:
            if which == "floor":
                cpu0 = _children_cpu()
                wall, listed = mcp_servers_floor(N_SERVERS)
                cpu = _children_cpu() - cpu0
                if listed != BARS_TOOLS * N_SERVERS:
                    raise RuntimeError(f"the {N_SERVERS} bars.py listed {listed} tools")
            else:
                argv, env, expected = commands[which]
                server.clear()
                uncached(homes["mcp"])
                wall, proc, cpu = timed_run(argv, env=env, cwd=work)
                if proc.returncode != 0 or END_MARK not in proc.stdout.decode():
                    raise RuntimeError(f"one-shot ({which}): exit {proc.returncode}; {proc.stderr.decode()[-400:]!r}")
                if tools_sent(server) != expected:
                    raise RuntimeError(
                        f"one-shot ({which}): the request offered {tools_sent(server)} tools, not {expected}"
                    )
            out.setdefault(which, []).append(wall)
            out.setdefault(which + "_cpu", []).append(cpu)
        for which in ("builtin", "mcp"):
            out.setdefault(f"ratio_{which}", []).append(out[which][-1] / out["none"][-1])
            out.setdefault(f"cpu_ratio_{which}", []).append(out[which + "_cpu"][-1] / out["none_cpu"][-1])
        out.setdefault("added_mcp", []).append(out["mcp"][-1] - out["none"][-1])
        out.setdefault("added_over_floor", []).append(out["added_mcp"][-1] / out["floor"][-1])
    return out


# ---------------------------------------------------------------------------------- report


def build_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []

    def add(metric: str, value: str, key: str | None = None, x: float | None = None) -> None:
        target = TARGETS.get(key) if key else None
        if target is None:
            rows.append((metric, value, "—", "—"))
        else:
            rows.append((metric, value, target[0], "yes" if target[1](x) else "**no**"))

    if "startup" in r:
        startup_rows(r, add)
    if "oneshot" in r:
        oneshot_rows(r, add)
    if "turns" in r:
        turns_rows(r, add)
    if "render" in r:
        render_rows(r, add)
    if "memory" in r:
        memory_rows(r, add)
    if "tools_prompt" in r:
        tools_rows(r, add)
    if "attachments" in r:
        attachments_rows(r, add)
    return rows


def startup_rows(r: dict[str, Any], add: Callable[..., None]) -> None:
    s = r["startup"]
    add("1. python -c pass (interpreter floor)", f"{med(s['py']) * 1000:.0f} ms")
    add("1. chat --help", f"{med(s['help']) * 1000:.0f} ms")
    add("1. REPL: spawn -> prompt drawn", f"{med(s['prompt']) * 1000:.0f} ms", "prompt", med(s["prompt"]))
    add("1. REPL: spawn -> first answer (typed at the prompt)", f"{med(s['answer']) * 1000:.0f} ms")


def oneshot_rows(r: dict[str, Any], add: Callable[..., None]) -> None:
    o = r["oneshot"]
    add(
        "2. `echo hi \\| chat` (one-shot, fake server)",
        f"{med(o['chat']) * 1000:.0f} ms (CPU {med(o['chat_cpu']) * 1000:.0f} ms)",
    )
    add(f"2. import floor `{FLOOR}`", f"{med(o['floor']) * 1000:.0f} ms (CPU {med(o['floor_cpu']) * 1000:.0f} ms)")
    add("2. one-shot / import floor, wall", f"{med(o['ratio_floor']):.2f}x", "oneshot_ratio", med(o["ratio_floor"]))
    add(
        "2. one-shot / import floor, CPU",
        f"{med(o['cpu_ratio_floor']):.2f}x",
        "oneshot_ratio",
        med(o["cpu_ratio_floor"]),
    )
    add(
        f"2. full import floor `{FULL_FLOOR}`",
        f"{med(o['full']) * 1000:.0f} ms (CPU {med(o['full_cpu']) * 1000:.0f} ms)",
    )
    add("2. one-shot / full import floor, wall · CPU", f"{med(o['ratio_full']):.2f}x · {med(o['cpu_ratio_full']):.2f}x")


def turns_rows(r: dict[str, Any], add: Callable[..., None]) -> None:
    t = r["turns"]
    ours, bare, n = t["ours"], t["bare"], t["n"]
    for m, v in ours["marks"].items():
        add(
            f"3. per-turn overhead at turn {m} ({v['sent']:.0f} messages sent)",
            f"{v['overhead'] * 1000:.1f} ms wall (CPU {v['cpu'] * 1000:.1f} ms; server CPU {v['server'] * 1000:.1f} ms)",
        )
    for key, (m, base) in {k: (k, 10) if isinstance(k, int) else k for k in ours["pairs"]}.items():
        for kind, label in (("overhead", "wall"), ("cpu", "CPU")):
            ratio = ours["pairs"][key][kind]
            if base == 10 and m == n:
                add(f"3. overhead turn {m} / turn {base}, {label} (paired)", f"{ratio:.2f}", "turn_ratio", ratio)
            elif base == 100:
                add(f"3. overhead turn {m} / turn {base} (same request size), {label} (paired)", f"{ratio:.2f}")
    for m, v in bare["marks"].items():
        add(
            f"3. bare AsyncSqliteSaver: per-turn overhead at turn {m}",
            f"{v['overhead'] * 1000:.1f} ms wall (CPU {v['cpu'] * 1000:.1f} ms)",
        )

    sizes = ours["sizes"]
    for m in sorted(sizes):
        add(f"4. db size after {m} turns", f"{sizes[m] / 1e6:.2f} MB ({sizes[m] / m / 1000:.1f} kB/turn)")
    if 100 in sizes and n in sizes and n != 100:
        dr = sizes[n] / sizes[100]
        add(f"4. size({n}) / size(100)", f"{dr:.2f} (linear: {n / 100:g})", "db_ratio", dr)
    bs = bare["sizes"]
    for m in sorted(bs):
        add(
            f"4. bare AsyncSqliteSaver: db size after {m} turns",
            f"{bs[m] / 1e6:.2f} MB ({bs[m] / m / 1000:.1f} kB/turn)",
        )
    if len(bs) >= 2:
        lo, hi = min(bs), max(bs)
        add(f"4. bare: size({hi}) / size({lo})", f"{bs[hi] / bs[lo]:.1f} (linear: {hi / lo:g})")
    for m in sorted(set(bs) & set(sizes)):
        add(f"4. bare / chatcli db size at {m} turns", f"{bs[m] / sizes[m]:.1f}x")


def render_rows(r: dict[str, Any], add: Callable[..., None]) -> None:
    rd = r["render"]
    add(
        f"5. render {rd['tokens']:,}-token Markdown: MarkdownStream CPU / raw CPU",
        f"{med(rd['ratio']):.2f}x ({med(rd['stream']):.3f} s vs {med(rd['raw']):.3f} s)",
        "render_ratio",
        med(rd["ratio"]),
    )
    add(
        "5. for comparison: one rich.Markdown render of the whole answer / raw",
        f"{med(rd['oneshot_ratio']):.1f}x ({med(rd['oneshot']):.2f} s)",
    )
    ku = r["keepup"]
    add(
        f"5. `chat` in a pty, server streaming {ku['tokens']:,} tokens at {med(ku['rate']):,.0f} tokens/s: "
        "end of stream -> last word on screen",
        f"{med(ku['lag']):.3f} s (max {max(ku['lag']):.3f} s)",
        "render_lag",
        med(ku["lag"]),
    )


def memory_rows(r: dict[str, Any], add: Callable[..., None]) -> None:
    n = r["turns"]["n"]
    mm = r["memory"]
    add("6. peak RSS, idle REPL (prompt + 2.5 s)", f"{med(mm['idle']):.0f} MB")
    add(f"6. peak RSS, REPL resumed on the {n}-turn thread, one answer", f"{med(mm['long']):.0f} MB")
    add(
        f"6. REPL resumed on the {n}-turn thread: Enter -> answer (first turn of the process)",
        f"{med(mm['long_answer']) * 1000:.0f} ms",
    )


def tools_rows(r: dict[str, Any], add: Callable[..., None]) -> None:
    tp, to = r["tools_prompt"], r["tools_oneshot"]
    ms = lambda xs: f"{med(xs) * 1000:.0f} ms"  # noqa: E731
    servers = f"{N_SERVERS} MCP servers (bars.py, stdio)"
    add("7. REPL: spawn -> prompt drawn, no tools set up", ms(tp["prompt_none"]))
    add(
        f"7. REPL: spawn -> prompt drawn, {servers} in mcp.json",
        ms(tp["prompt_mcp"]),
        "tools_prompt",
        med(tp["prompt_mcp"]),
    )
    add(f"7. REPL prompt: {N_SERVERS} MCP servers / none (paired)", f"{med(tp['prompt_ratio']):.2f}x")
    add(
        f"7. REPL, `hi` typed at the prompt: spawn -> first request offering the {BARS_TOOLS * N_SERVERS} MCP tools (tools usable)",
        f"{ms(tp['request_mcp'])} (no tools: {ms(tp['request_none'])}; {med(tp['request_ratio']):.2f}x paired)",
    )
    add(
        f"7. REPL, `hi` typed at the prompt: spawn -> answer, {servers} vs none",
        f"{ms(tp['answer_mcp'])} vs {ms(tp['answer_none'])} ({med(tp['answer_ratio']):.2f}x paired)",
    )
    add(
        '7. one-shot `chat "question" \| cat`, no tools',
        f"{ms(to['none'])} (CPU {ms(to['none_cpu'])})",
    )
    add(
        f"7. one-shot with `--tools {BUILTIN_TOOLS}`",
        f"{ms(to['builtin'])} (CPU {ms(to['builtin_cpu'])})",
    )
    add(
        f"7. one-shot `--tools {BUILTIN_TOOLS}` / no tools, wall (paired)",
        f"{med(to['ratio_builtin']):.2f}x",
        "builtin_ratio",
        med(to["ratio_builtin"]),
    )
    add(
        f"7. one-shot `--tools {BUILTIN_TOOLS}` / no tools, CPU (paired)",
        f"{med(to['cpu_ratio_builtin']):.2f}x",
        "builtin_ratio",
        med(to["cpu_ratio_builtin"]),
    )
    add(
        f"7. one-shot with {servers} (CPU includes the servers')",
        f"{ms(to['mcp'])} (CPU {ms(to['mcp_cpu'])}); {med(to['ratio_mcp']):.2f}x no tools (paired)",
    )
    add(f"7. one-shot: added by {N_SERVERS} MCP servers (paired difference)", f"+{med(to['added_mcp']):.2f} s")
    add(
        f"7. floor: {N_SERVERS} bars.py started at once, raw JSON-RPC -> all answered initialize + tools/list",
        f"{ms(to['floor'])} (CPU {ms(to['floor_cpu'])})",
    )
    add(
        f"7. one-shot: added by {N_SERVERS} MCP servers / that floor (paired)",
        f"{med(to['added_over_floor']):.2f}x",
        "mcp_over_floor",
        med(to["added_over_floor"]),
    )


def attachments_rows(r: dict[str, Any], add: Callable[..., None]) -> None:
    a = r["attachments"]
    img, plain = a["sizes"]["image"], a["sizes"]["plain"]
    kb = lambda b: f"{b / 1024:.0f} KB"  # noqa: E731
    add(
        f"8. db size after the image turn ({kb(a['image_bytes'])} PNG; {kb(a['base64_bytes'])} as base64)",
        f"{img[0] / 1e6:.2f} MB; the same turn without the image: {plain[0] / 1e6:.2f} MB "
        f"(+{kb(img[0] - plain[0])}, {(img[0] - plain[0]) / a['base64_bytes']:.2f}x the base64)",
    )
    for m in sorted(k for k in img if k):
        grow_img, grow_plain = (img[m] - img[0]) / m, (plain[m] - plain[0]) / m
        add(
            f"8. db size after the image turn + {m} text turns",
            f"{img[m] / 1e6:.2f} MB (without the image: {plain[m] / 1e6:.2f} MB)",
        )
        add(
            f"8. growth per turn over those {m} turns, with the image / without",
            f"{grow_img / 1000:.2f} / {grow_plain / 1000:.2f} kB/turn = {grow_img / grow_plain:.3f}x",
            "attach_growth_ratio",
            grow_img / grow_plain,
        )
    add(
        "8. per-turn wall with the image in the thread / without (paired), turns 2-11 · last 10",
        f"{med(a['wall_early']):.2f}x · {med(a['wall_late']):.2f}x "
        f"(requests carried the image through turn {a['sent_through']} of {a['n'] + 1})",
    )


def table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| metric | value | target | met? |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def machine() -> str:
    return (
        f"{platform.node()} · {platform.machine()} · nproc {os.cpu_count()} · "
        f"Python {platform.python_version()} · {platform.system()} {platform.release()}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 3 runs, 200 turns, small render")
    p.add_argument("--turns", type=int, default=None, help="length of the long thread (default 1000; 200 with --quick)")
    p.add_argument(
        "--bare-turns", type=int, default=None, help="longest bare-saver thread (default 300; 100 with --quick)"
    )
    p.add_argument("--runs", type=int, default=None, help="runs per subprocess measurement (default 7; 3 with --quick)")
    p.add_argument(
        "--tools-only",
        action="store_true",
        help="only row 7 (tools: REPL prompt and one-shot with MCP servers / built-in tools), about a minute",
    )
    p.add_argument(
        "--attachments-only",
        action="store_true",
        help="only row 8 (storage of a thread whose first question carries a ~500 KB image)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the results (default benchmarks/results.md; benchmarks/results-tools.md with --tools-only, "
        "benchmarks/results-attachments.md with --attachments-only)",
    )
    args = p.parse_args()
    if args.tools_only and args.attachments_only:
        p.error("--tools-only and --attachments-only: choose one")
    if args.out is None:
        args.out = HERE / (
            "results-tools.md"
            if args.tools_only
            else "results-attachments.md"
            if args.attachments_only
            else "results.md"
        )
    runs = args.runs or (3 if args.quick else 7)
    n = args.turns or (200 if args.quick else 1000)
    bare_top = args.bare_turns or (100 if args.quick else 300)
    bare_n = sorted({m for m in (100, bare_top) if m <= bare_top})
    render_tokens = 5000 if args.quick else 20_000
    if not Path(CHAT).exists():
        print(f"no chat next to {sys.executable}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="chatcli-bench-"))
    results: dict[str, Any] = {}
    try:
        with FakeOpenAIServer(default_reply=REPLY) as server:
            if args.tools_only:
                run_tools(results, server, work, runs)
            elif args.attachments_only:
                results["attachments"] = bench_attachments(server, work, n)
            else:
                log(f"startup: {runs} runs")
                results["startup"] = bench_startup(server, work, runs)
                log(f"one-shot: {runs} rotated runs of chat and the two import floors")
                results["oneshot"] = bench_oneshot(server, work, runs)
                run_tools(results, server, work, runs)
                log("render")
                results["render"] = bench_render(3, render_tokens)
                log("render: keeping up with 2,000 tokens/s")
                results["keepup"] = bench_keeps_up(server, work, 3, render_tokens)
                results["turns"] = bench_turns(server, work, n, bare_n)
                log("memory")
                results["memory"] = bench_memory(server, work, max(3, runs // 2), results["turns"]["db"])
                results["attachments"] = bench_attachments(server, work, n)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return finish(args, results, runs, n, bare_top, time.perf_counter() - t0)


def run_tools(results: dict[str, Any], server: FakeOpenAIServer, work: Path, runs: int) -> None:
    """Row 7, both parts."""
    log(f"tools: {runs} interleaved REPL runs, no tools vs {N_SERVERS} MCP servers")
    results["tools_prompt"] = bench_tools_prompt(server, work, runs)
    log(
        f"tools: {runs} rotated one-shot runs: no tools, --tools {BUILTIN_TOOLS}, {N_SERVERS} MCP servers, the servers alone"
    )
    results["tools_oneshot"] = bench_tools_oneshot(server, work, runs)


def finish(args: argparse.Namespace, results: dict[str, Any], runs: int, n: int, bare_top: int, elapsed: float) -> int:
    """Print the table and write it, with the run's details, to args.out."""
    rows = build_rows(results)
    md = table(rows)
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    if args.tools_only:
        mode, flags = "tools only", " --tools-only"
        details = f"medians of {runs} runs; bench took {elapsed:.0f} s\n"
    elif args.attachments_only:
        mode, flags = "attachments only", " --attachments-only"
        details = f"{n} text turns after the image turn; bench took {elapsed:.0f} s\n"
    else:
        mode, flags = ("quick", " --quick") if args.quick else ("full", "")
        details = (
            f"medians of {runs} runs (render: 3, memory: {max(3, runs // 2)}); long thread {n} turns, "
            f"bare saver {bare_top} turns; bench took {elapsed:.0f} s\n"
        )
    header = f"chatcli benchmark ({mode}) · {when} · {machine()}\n" + details
    print()
    print(header)
    print(md)
    args.out.write_text(
        "# chatcli benchmark results\n\n"
        "Generated by `python benchmarks/bench.py"
        + flags
        + "`; overwritten each run.\n\n"
        + header.replace("\n", "  \n")
        + "\n"
        + md
        + "\n"
    )
    print(f"\nwritten to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
