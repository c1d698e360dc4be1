"""Row 22: background replies (#65 item 7): `chat --bg` to its return beside a warm one-shot, and `chat attach` joining.

Run (from anywhere; uses the ``chat`` installed next to this Python unless ``--chat`` names another)::

    .venv/bin/python benchmarks/jobs_bench.py [--rounds N]      # about 1-1.5 minutes on 2 shared cores

Two fake OpenAI-compatible servers (tests/fakeserver.py) run in this process on 127.0.0.1: one answers at once
(the warm one-shots), the other holds each background job's reply (``Raw`` parts: the role chunk, ``--tokens``
tokens, then nothing until the benchmark releases it, then one more token and the end), so a job is running, and
has said something, for as long as the benchmark wants. A private HOME, XDG directories, runtime directory (the
worker's socket) and ``CHATCLI_DB``; ``CHATCLI_WORKER=1`` (the worker is started by the warm-up and waited for).

*Return*: every round runs, in rotated order, ``python -c pass`` (the interpreter's start), ``chat --version`` (the
floor of any command of chat's Typer command line), ``chat QUESTION`` answered through the warm worker, and
``chat --bg QUESTION`` (stdout and stderr pipes read whole, stdin empty); whole-process wall time from the spawn to
the exit. The job's reply is held until ``--bg`` has returned, so ``--bg`` cannot have waited for it; after that the
job's request is awaited at the server (the time from the spawn of ``--bg`` to it is also reported), the reply
released and the job's end awaited, so no job runs while the next command is timed.

*Attach*: every round starts ``chat --bg``, waits until the job's events hold the held reply's ``--tokens`` tokens,
then times ``chat attach THREAD`` (stdout a pipe, read as it comes): from the spawn to its first byte (goal: within
100 ms) and to the last byte of what had arrived; then, after a random 0-100 ms (attach looks every 50 ms), releases
the reply and times the live token from the server's sending it to attach's stdout. A ``chat --version`` in each
round, before or after the attach in turn, is chat's floor of the same moment; and the same job is followed, before
or after the attach in turn, by the floor of any reader of it: ``python -c`` importing ``chatcli.service.jobs``
alone (the standard library: no Typer command line, no settings), ``jobs.find`` and ``jobs.follow``, the tokens
written as attach writes them (spawn -> first byte). Medians and p90; ratios are medians of the per-round ratios.
Results go to ``benchmarks/results-jobs.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.report import met, report  # noqa: E402
from tests.fakeserver import FakeOpenAIServer, Raw, delta_chunk, sse  # noqa: E402

QUESTION = "What is the capital of France?"
LIVE = " LIVE-TOKEN"
GOAL_ATTACH = 0.100  # seconds from `chat attach` to the first token shown


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time of ``command`` from the spawn to the exit, and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return wall, done.stdout.decode()


def served(chat: list[str], env: dict[str, str]) -> int:
    out = subprocess.run([*chat, "worker", "status", "--json"], env=env, capture_output=True, timeout=60).stdout
    return json.loads(out).get("served") or 0


class Held:
    """The replies of the background jobs: each request gets the next one queued, held until ``release``."""

    def __init__(self, server: FakeOpenAIServer, tokens: int) -> None:
        self.server = server
        self.tokens = [f" word{i}" for i in range(tokens)]
        self.text = "".join(self.tokens)
        self.releases: list[threading.Event] = []

    def queue(self) -> tuple[threading.Event, list[float], list[float]]:
        """Queue one held reply: its release, and the times (perf_counter) its request came and its live token
        went."""
        release = threading.Event()
        arrived: list[float] = []
        sent: list[float] = []
        self.releases.append(release)

        def now(into: list[float]) -> Callable[[], None]:
            return lambda: into.append(time.perf_counter())

        parts: list[bytes | float | Callable[[], object]] = [
            now(arrived),
            sse(delta_chunk({"role": "assistant", "content": ""})),
            *(sse(delta_chunk({"content": token})) for token in self.tokens),
            lambda: release.wait(60),
            now(sent),
            sse(delta_chunk({"content": LIVE})),
            sse(delta_chunk({}, finish_reason="stop")),
            b"data: [DONE]\n\n",
        ]
        self.server.queue(Raw(parts))
        return release, arrived, sent

    def release_all(self) -> None:
        for release in self.releases:
            release.set()


def job_files(data: Path, thread: str) -> tuple[Path, int]:
    """The events file and the process of the job answering in ``thread`` (chatcli.service.jobs keeps them)."""
    for _ in range(500):
        for path in (data / "chatcli" / "jobs").glob("*.json"):
            job = json.loads(path.read_text())
            if job.get("thread") == thread:
                return path.with_suffix(".jsonl"), int(job["pid"])
        time.sleep(0.01)
    raise SystemExit(f"no job answers in thread {thread}")


def said(events: Path) -> tuple[str, bool]:
    """The text of a job's events so far, and whether they ended."""
    try:
        lines = events.read_text().splitlines()
    except OSError:
        return "", False
    found = []
    for line in lines:
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    text = "".join(str(e.get("text") or "") for e in found if e.get("type") == "token")
    return text, any(e.get("type") in ("done", "error") for e in found)


def ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)


def finish(events: Path, pid: int, release: threading.Event) -> None:
    """Release a job's reply and wait for its end (its events ended and its process gone)."""
    release.set()
    wait_for(lambda: said(events)[1] and ended(pid), "a background job's end")


def round_of_return(
    chat: list[str], env: dict[str, str], held: Held, data: Path, order: list[str], walls: dict[str, list[float]]
) -> float:
    """One round of *return*; the time from the spawn of ``--bg`` to its job's request at the server."""
    to_request = 0.0
    for name in order:
        if name == "python -c pass":
            walls[name].append(timed([sys.executable, "-c", "pass"], env)[0])
        elif name == "chat --version":
            walls[name].append(timed([*chat, "--version"], env)[0])
        elif name == "chat QUESTION, warm":
            walls[name].append(timed([*chat, QUESTION], env)[0])
        else:
            release, arrived, _ = held.queue()
            start = time.perf_counter()
            wall, out = timed([*chat, "--bg", QUESTION], dict(env, OPENAI_BASE_URL=held.server.base_url))
            if release.is_set():
                raise SystemExit("the held reply was released before --bg returned")
            walls[name].append(wall)
            events, pid = job_files(data, out.strip())
            wait_for(lambda: bool(arrived), "the job's request")
            to_request = arrived[0] - start
            finish(events, pid, release)
    return to_request


# The floor of a reader of a job: chatcli.service.jobs alone (standard library only), no Typer command line, no
# settings: the job found and its events followed, the tokens written as chat attach writes them.
FOLLOW = """import os, sys
from chatcli.service import jobs
environ = dict(os.environ)
for event in jobs.follow(jobs.find(environ, sys.argv[1]), environ):
    if event.get("type") == "token":
        sys.stdout.write(str(event.get("text") or ""))
        sys.stdout.flush()
"""


class Follower:
    """A process that shows a job's text on its stdout (a pipe), read as it comes, each read's time kept."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.got: list[tuple[float, int]] = []  # (when, bytes so far) after each read
        self.text = b""
        self.command = command
        self.start = time.perf_counter()
        self.process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 65536):
            self.text += chunk
            self.got.append((time.perf_counter(), len(self.text)))

    def at(self, size: int, what: str) -> float:
        """When the first ``size`` bytes had been read (waited for)."""
        wait_for(lambda: bool(self.got) and self.got[-1][1] >= size, what, 30)
        return next(when for when, total in self.got if total >= size)

    def end(self) -> None:
        if self.process.wait(30) != 0:
            stderr = self.process.stderr.read().decode()[-500:] if self.process.stderr else ""
            raise SystemExit(f"{shlex.join(self.command)} failed: {stderr}")
        self.reader.join(5)


def attach_once(
    chat: list[str], env: dict[str, str], held: Held, data: Path, phase: float, floor_first: bool
) -> tuple[float, float, float, float]:
    """Start a job, let it say ``held.tokens``, attach, and start the floor's reader too (first or second, as
    ``floor_first`` says): (attach: spawn -> first byte, spawn -> all that had arrived shown, a live token: sent ->
    shown; the floor: spawn -> first byte)."""
    release, _, sent = held.queue()
    _, out = timed([*chat, "--bg", QUESTION], env)
    thread = out.strip()
    events, pid = job_files(data, thread)
    wait_for(lambda: said(events)[0] == held.text, "the job's first tokens")
    backlog = held.text.encode()
    starts = {
        "attach": lambda: Follower([*chat, "attach", thread], env),
        "floor": lambda: Follower([sys.executable, "-c", FOLLOW, thread], env),
    }
    followers: dict[str, Follower] = {}
    for name in ("floor", "attach") if floor_first else ("attach", "floor"):
        follower = followers[name] = starts[name]()
        follower.at(len(backlog), f"{name} to show what had arrived")
        if not follower.text.startswith(backlog):
            raise SystemExit(f"{name} did not show what the job had said")
    attach, floor = followers["attach"], followers["floor"]
    first = attach.got[0][0] - attach.start
    whole = attach.at(len(backlog), "") - attach.start
    floor_first_byte = floor.got[0][0] - floor.start
    # attach looks at the events every 50 ms (chatcli.service.jobs.POLL): the token is sent at a random moment of
    # that cycle, not always just as attach has begun to wait after showing the rest
    time.sleep(phase)
    finish(events, pid, release)
    live = attach.at(len(backlog) + len(LIVE.encode()), "attach to show the live token") - sent[0]
    attach.end()
    floor.end()
    return first, whole, live, floor_first_byte


def p90(values: list[float]) -> float:
    return sorted(values)[max(0, -(-len(values) * 9 // 10) - 1)]


def cleanup(chat: list[str], env: dict[str, str], held: Held) -> None:
    """Release every held reply, stop any job still running, stop the worker."""
    held.release_all()
    listed = subprocess.run([*chat, "jobs", "--json"], env=env, capture_output=True, timeout=60).stdout
    for job in json.loads(listed or b"[]"):
        if job.get("state") == "running":
            subprocess.run([*chat, "stop", job["id"]], env=env, capture_output=True, timeout=60)
    subprocess.run([*chat, "worker", "stop"], env=env, capture_output=True, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=200, help="tokens a job has said when attach joins it")
    parser.add_argument(
        "--chat", default=str(Path(sys.executable).with_name("chat")), help="the chat command (split as a shell does)"
    )
    parser.add_argument("--out", default=str(HERE / "results-jobs.md"))
    args = parser.parse_args()
    chat = shlex.split(args.chat)
    began = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="jb", dir="/tmp") as tmp,
        FakeOpenAIServer(default_reply="Paris.") as fast,
        FakeOpenAIServer() as slow,
    ):
        work = Path(tmp)
        (work / "home").mkdir()
        (work / "run").mkdir(mode=0o700)
        data = work / "home/.data"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCLI_", "XDG_"))}
        env = dict(
            base,
            HOME=str(work / "home"),
            XDG_CONFIG_HOME=str(work / "home/.config"),
            XDG_DATA_HOME=str(data),
            XDG_RUNTIME_DIR=str(work / "run"),
            OPENAI_BASE_URL=fast.base_url,
            OPENAI_API_KEY="sk-bench",
            CHATCLI_MODEL="gpt-fake",
            CHATCLI_DB=str(work / "chat.db"),
            CHATCLI_WORKER="1",
        )
        jobs_env = dict(env, OPENAI_BASE_URL=slow.base_url)
        here = os.getcwd()
        os.chdir(work)  # every chat (and each job, which answers where --bg ran) runs here: no AGENTS.md, no .env
        held = Held(slow, args.tokens)
        names = ["python -c pass", "chat --version", "chat QUESTION, warm", "chat --bg QUESTION"]
        walls: dict[str, list[float]] = {name: [] for name in names}
        to_request: list[float] = []
        attach: dict[str, list[float]] = {"first": [], "whole": [], "live": [], "version": [], "floor": []}
        try:
            # Warm-up: bytecode, page cache, the worker started; one of each, not counted.
            round_of_return(chat, env, held, data, names, {name: [] for name in names})
            attach_once(chat, jobs_env, held, data, 0.0, False)
            before = served(chat, env)
            for i in range(args.rounds):
                to_request.append(round_of_return(chat, env, held, data, names[i % 4 :] + names[: i % 4], walls))
            phases = random.Random(1)
            for i in range(args.rounds):
                if i % 2:
                    attach["version"].append(timed([*chat, "--version"], env)[0])
                first, whole, live, floor = attach_once(chat, jobs_env, held, data, phases.uniform(0, 0.1), bool(i % 2))
                if not i % 2:
                    attach["version"].append(timed([*chat, "--version"], env)[0])
                attach["first"].append(first)
                attach["whole"].append(whole)
                attach["live"].append(live)
                attach["floor"].append(floor)
            through = served(chat, env) - before
        finally:
            cleanup(chat, env, held)
            os.chdir(here)
    expected = 5 * args.rounds  # the warm one-shots, both --bg (handed to the worker too) and both jobs' one-shots
    if through != expected:
        raise SystemExit(f"the worker answered {through} of {expected} runs meant for it: is --chat this checkout's?")

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} ms"

    def ratio(a: list[float], b: list[float]) -> float:
        return statistics.median(x / y for x, y in zip(a, b))

    rows = [(f"22. {name}", ms(walls[name]), "—", "—") for name in names]
    bg_warm = ratio(walls["chat --bg QUESTION"], walls["chat QUESTION, warm"])
    rows.append(("22. --bg / warm one-shot, wall", f"{bg_warm:.2f}x", "<= 1.0x", met(bg_warm, 1.0)))
    rows.append(
        (
            "22. --bg / chat --version, wall",
            f"{ratio(walls['chat --bg QUESTION'], walls['chat --version']):.2f}x",
            "—",
            "—",
        )
    )
    rows.append(
        (
            "22. warm one-shot / chat --version, wall",
            f"{ratio(walls['chat QUESTION, warm'], walls['chat --version']):.2f}x",
            "—",
            "—",
        )
    )
    rows.append(("22. spawn of --bg -> its job's request at the model", ms(to_request), "—", "—"))
    first = statistics.median(attach["first"])
    rows.append(
        (
            f"22. chat attach, {args.tokens} tokens said: spawn -> first byte (p90)",
            f"{first * 1000:.0f} ms ({p90(attach['first']) * 1000:.0f} ms)",
            "<= 100 ms",
            met(first, GOAL_ATTACH),
        )
    )
    rows.append(
        (
            "22. chat attach: spawn -> all that had arrived shown (p90)",
            f"{ms(attach['whole'])} ({p90(attach['whole']) * 1000:.0f} ms)",
            "—",
            "—",
        )
    )
    rows.append(("22. chat --version, beside the attach", ms(attach["version"]), "—", "—"))
    rows.append(
        (
            "22. the floor: chatcli.service.jobs alone in `python -c`, spawn -> first byte (p90)",
            f"{ms(attach['floor'])} ({p90(attach['floor']) * 1000:.0f} ms)",
            "—",
            "—",
        )
    )
    rows.append(
        ("22. attach first byte / chat --version", f"{ratio(attach['first'], attach['version']):.2f}x", "—", "—")
    )
    rows.append(("22. attach first byte / the floor", f"{ratio(attach['first'], attach['floor']):.2f}x", "—", "—"))
    rows.append(
        (
            "22. attached: a live token, sent by the model -> shown (p90)",
            f"{ms(attach['live'])} ({p90(attach['live']) * 1000:.0f} ms)",
            "—",
            "—",
        )
    )
    report(rows, args.rounds, args.out)
    print(f"took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
