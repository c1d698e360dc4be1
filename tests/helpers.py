"""What many test modules share: running ``chat`` (in-process or as a process), reading a thread back.

``chat(env, *args, stdin=...)`` runs the command in this process with an injected environment
(``chatcli.app.environment.Environment``): stdin piped, stdout and stderr captured, the given
variables. That is how most CLI behaviour is tested: the same code path as the installed
command, without the second of imports a new process costs. ``chat_process`` runs the
installed ``chat`` for what only a real process shows (signals, exit under a terminal, the
import hook, several processes at once); tests that use it are marked ``e2e``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import fcntl
import io
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, AsyncIterator, Awaitable, Callable, TypeVar

import pexpect
import pytest

from tests.mcp_servers import chat_argv

CHAT = Path(sys.executable).with_name("chat")
KEY = "sk-test-SECRET-0123456789"
THREAD_NOTE = re.compile(r"^thread: (\S+)$", re.M)
# "Never", for what a test makes wait so that chat must not (a server that stalls, a command that sleeps, an answer
# that goes on): far past pytest's timeout (120 s, pyproject.toml), so whatever waited for it fails there, at the
# line that hung, however fast or slow the machine. A test bounds no time by a number of seconds of its own: it
# makes the thing excluded last this long, compares with that thing's own time, or counts the work
# (docs/CONTRIBUTING.md).
HANG = 600.0


T = TypeVar("T")


def open_local(url: str, timeout: float) -> Any:
    """``urlopen`` for a test's own server on 127.0.0.1, never through a proxy: urlopen's shared opener keeps
    the proxies of the environment at its first call, which may be a test's fake proxy long gone."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=timeout)


def eventually(
    check: Callable[[], T],
    what: str,
    timeout: float = 15.0,
    interval: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """``check()``'s first truthy value, asked every ``interval`` seconds (an exception of ``ignoring`` counts as not
    yet); after ``timeout`` seconds, an AssertionError saying ``what`` was awaited and what was seen last."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except ignoring as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last seen: {last!r}")
        time.sleep(interval)


async def eventually_async(
    check: Callable[[], T | Awaitable[T]], what: str, timeout: float = 15.0, interval: float = 0.02
) -> T:
    """``eventually`` on an event loop: ``check`` may be a coroutine function; the loop runs between asks."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last seen: {last!r}")
        await asyncio.sleep(interval)


@dataclass
class Run:
    """One run of ``chat``: its arguments, exit code, stdout and stderr."""

    args: list[str]
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """stderr without the "thread: ID" note."""
        return [line for line in self.err.splitlines() if not THREAD_NOTE.match(line)]

    def __str__(self) -> str:  # shown by pytest when an assert fails
        return f"chat {self.args} -> {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Captured(io.StringIO):
    """A text stream that is (or is not) a terminal, keeping what was written."""

    def __init__(self, tty: bool = False):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def piped_stdin(data: bytes) -> io.TextIOWrapper:
    """A non-terminal stdin holding ``data`` (with a ``buffer``, as a real one has)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def chat(
    env: dict[str, str],
    *args: str,
    stdin: bytes | str | IO[str] = b"",
    cwd: Path | None = None,
    tty: bool = False,
    err: Captured | None = None,
    out: Captured | None = None,
) -> Run:
    """Run ``chat`` in this process with ``stdin`` piped in (or a stream: a terminal's, say); ``tty``: stdout is a
    terminal.

    ``err``, ``out``: the stderr and stdout to write to (a Captured that watches what is written, say).
    """
    from chatcli.app.cli import main
    from chatcli.app.environment import Environment

    given = (
        piped_stdin(stdin.encode() if isinstance(stdin, str) else stdin) if isinstance(stdin, (bytes, str)) else stdin
    )
    out, err = out if out is not None else Captured(tty), err if err is not None else Captured()
    environment = Environment(stdin=given, stdout=out, stderr=err, environ=dict(env), cwd=cwd or Path.cwd())
    with redirect_stdout(out), redirect_stderr(err):  # what click itself prints (usage errors, --help)
        code = main(list(args), environment)
    return Run(list(args), code, out.getvalue(), err.getvalue())


def chat_process(env: dict[str, str], *args: str, stdin: bytes | str = b"", cwd: Path | None = None) -> Run:
    """Run the installed ``chat`` as a process with ``stdin`` piped in (never a terminal, so never the REPL): started
    warm (tests/mcp_servers.chat_argv), unless what it runs on is decided as a process starts: the warm worker
    wanted (which only the launcher looks for), or a PYTHONPATH of its own."""
    from chatcli.local.worker_settings import worker_config

    data = stdin.encode() if isinstance(stdin, str) else stdin
    cold = worker_config(env)[0] or env.get("PYTHONPATH") != os.environ.get("PYTHONPATH")
    command = [str(CHAT), *args] if cold else chat_argv(CHAT, *args)
    proc = subprocess.run(command, env=env, input=data, capture_output=True, timeout=60, cwd=cwd)
    return Run(
        list(args), proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    )


def read_until(stream: IO[bytes], needle: bytes, timeout: float = 30) -> bytes:
    """Read a process's output pipe until ``needle`` is in what it wrote; return what was read.

    Fails if the process closes it first or the time is up (what was read is in the message)."""
    got, deadline = b"", time.monotonic() + timeout
    while needle not in got:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            pytest.fail(f"timed out waiting for {needle!r} in the output; it holds {got[-500:]!r}")
        piece = os.read(stream.fileno(), 4096)
        if not piece:
            pytest.fail(f"the output closed before {needle!r}; it holds {got[-500:]!r}")
        got += piece
    return got


def roles(body: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in body["messages"]]


def assert_one_error_line(run: Run, code: int) -> str:
    """The run failed with ``code`` and said so in exactly one line on stderr; that line."""
    assert run.code == code, run
    assert "Traceback" not in run.err, run
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith("chat: error: "), run
    return run.err_lines[0]


def stored(db: Path | str, thread: str) -> list[Any]:
    """The thread's messages as the database holds them, read in this process."""
    from chatcli.store import open_checkpointer

    async def read() -> list[Any]:
        async with open_checkpointer(str(db)) as saver:
            tup = await saver.aget_tuple({"configurable": {"thread_id": thread}})
            return list(tup.checkpoint["channel_values"].get("messages", [])) if tup else []

    return asyncio.run(read())


def summary(messages: list[Any]) -> list[tuple[str, str, str | None]]:
    """(type, text, interrupted mark) of each stored message."""
    return [(m.type, str(m.content), (m.response_metadata or {}).get("interrupted")) for m in messages]


# --------------------------------------------------------------------------- chat in a pseudo-terminal

ROWS, COLS = 40, 100
# CSI (colours, cursor moves, modes), OSC (titles), charset and keypad selections.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
_CPR_REQUEST = "\x1b[6n"
# prompt-toolkit turns bracketed paste on each time a prompt starts waiting for input, and off
# when it hands the line over (the terminal is back in cooked mode: Ctrl-C is a signal again).
_PROMPT_READY = "\x1b[?2004h"
_PROMPT_DONE = "\x1b[?2004l"

UP = "\x1b[A"
ALT_ENTER = "\x1b\r"  # what a terminal sends for Alt-Enter (or Esc then Enter)


def visible(raw: str) -> str:
    """The text of a terminal byte stream without escape sequences, backspaces or CRs."""
    return _ESCAPES.sub("", raw).replace("\x08", "").replace("\r", "")


class WarmTerminal:
    """The installed ``chat ARGS`` in a pseudo-terminal of ROWS x COLS, started warm (forked from a process that
    imported chat: tests/mcp/warm.py) in a session of its own that the terminal is the controlling terminal of, as a
    terminal's shell starts it; shown as ``pexpect.spawn`` shows a program (the parts the tests use)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Any):
        from tests.mcp.warm import start
        from tests.mcp_servers import warm_socket

        master, terminal = os.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        try:
            where = os.fspath(cwd) if cwd is not None else os.getcwd()
            self._conn, self.pid = start(
                warm_socket("chat"), [str(CHAT), *args], env, where, [terminal] * 3, "terminal"
            )
        finally:
            os.close(terminal)
        self.child_fd = master
        self.exitstatus: int | None = None
        self.signalstatus: int | None = None
        self._code: int | None = None
        self._text = codecs.getincrementaldecoder("utf-8")("replace")

    def read_nonblocking(self, size: int, timeout: float) -> str:
        if not select.select([self.child_fd], [], [], timeout)[0]:
            raise pexpect.TIMEOUT("nothing to read")
        try:
            data = os.read(self.child_fd, size)
        except OSError:  # EIO: the terminal has no process left
            data = b""
        if not data:
            raise pexpect.EOF("the terminal closed")
        return self._text.decode(data)

    def send(self, text: str) -> int:
        return os.write(self.child_fd, text.encode())

    def sendcontrol(self, char: str) -> int:
        return self.send(chr(ord(char.upper()) & 0x1F))

    def sendintr(self) -> int:
        return os.write(self.child_fd, termios.tcgetattr(self.child_fd)[6][termios.VINTR])

    def sendeof(self) -> int:
        return os.write(self.child_fd, termios.tcgetattr(self.child_fd)[6][termios.VEOF])

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code (a signal's negative), once it has ended."""
        from tests.mcp.warm import ended

        if self._code is None:
            self._conn.settimeout(timeout)
            code = ended(self._conn)
            self._code = code if code is not None else -signal.SIGKILL
            self.exitstatus, self.signalstatus = (self._code, None) if self._code >= 0 else (None, -self._code)
        return self._code

    def isalive(self) -> bool:
        return self._code is None and not select.select([self._conn], [], [], 0)[0]

    def kill(self, sig: int) -> None:
        if self.isalive():
            os.kill(self.pid, sig)

    def terminate(self, force: bool = False) -> None:
        self.kill(signal.SIGKILL if force else signal.SIGHUP)
        with contextlib.suppress(TimeoutError):
            self.wait(10)

    def hang_up(self) -> None:
        """Close the terminal's one master end: the kernel hangs the session up."""
        os.close(self.child_fd)


class Repl:
    """A ``chat`` process in a pseudo-terminal, with everything it wrote kept in ``raw``."""

    def __init__(self, args: list[str], env: dict[str, str], program: str = str(CHAT), cwd: Any = None):
        env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
        env["TERM"] = "xterm-256color"
        self.child: Any = (
            WarmTerminal(args, env, cwd)
            if program == str(CHAT)
            else pexpect.spawn(program, args, env=env, encoding="utf-8", timeout=20, dimensions=(ROWS, COLS), cwd=cwd)
        )
        self.raw = ""
        self.cpr_requests = 0
        self.prompts_seen = 0  # prompts already waited for
        self._sent_at = 0  # position in raw when Enter was last pressed

    # ---- reading ------------------------------------------------------------------------

    def _pump(self, wait: float) -> bool:
        """Read what is there (waiting up to ``wait``); False once the process closed the terminal."""
        try:
            data = self.child.read_nonblocking(65536, timeout=wait)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += data
        # Answer every cursor-position request, as a terminal would (cursor on the last row).
        new_requests = self.raw.count(_CPR_REQUEST) - self.cpr_requests
        for _ in range(new_requests):
            self.child.send(f"\x1b[{ROWS};1R")
        self.cpr_requests += new_requests
        return True

    @property
    def text(self) -> str:
        return visible(self.raw)

    def mark(self) -> int:
        """A position in ``text``: later waits can look only at what came after it."""
        self._pump(0.05)
        return len(self.text)

    def wait_until(self, done: Callable[[], bool], what: str, timeout: float = 15) -> float:
        """Read until ``done()`` holds; return the seconds it took, or fail showing the screen tail."""
        start = time.monotonic()
        alive = True
        while not done():
            if time.monotonic() - start > timeout or not alive:
                state = "timed out" if alive else "process ended"
                pytest.fail(f"{state} waiting for {what}; output ends with:\n{self.text[-1500:]}")
            alive = self._pump(0.05)
        return time.monotonic() - start

    def wait_for(self, needle: str, after: int = 0, timeout: float = 15) -> float:
        """Wait until ``needle`` is visible in the output after position ``after``."""
        return self.wait_until(lambda: needle in self.text[after:], repr(needle), timeout)

    def wait_prompt(self, timeout: float = 15) -> None:
        """Wait for the next prompt to be ready for input (one not waited for before)."""
        target = self.prompts_seen + 1
        self.wait_until(lambda: self.raw.count(_PROMPT_READY) >= target, "the prompt", timeout)
        self.prompts_seen = target
        start = -1
        for _ in range(target):
            start = self.raw.index(_PROMPT_READY, start + 1)
        self.wait_until(lambda: ">" in visible(self.raw[start:]), "the '>' prompt to be drawn")

    # ---- typing -------------------------------------------------------------------------

    def type(self, text: str) -> None:
        """Type text without sending it, and wait until the prompt echoes it."""
        at = self.mark()
        self.child.send(text)
        self.wait_for(text.splitlines()[-1], after=at)

    def say(self, text: str) -> int:
        """Type a line and press Enter; return the output position before the reply."""
        self.type(text)
        at = self.mark()
        self._sent_at = len(self.raw)
        self.child.send("\r")
        return at

    def wait_line_taken(self) -> None:
        """Wait until the prompt has handed over the line sent last (the turn has begun)."""
        self.wait_until(lambda: _PROMPT_DONE in self.raw[self._sent_at :], "the prompt to close")

    def wait_signals_on(self, timeout: float = 15) -> None:
        """Wait until the terminal makes Ctrl-C a signal again: the prompt that read the last line has
        given the terminal back (while a prompt reads, Ctrl-C is a key it reads)."""
        self.wait_until(lambda: bool(termios.tcgetattr(self.child.child_fd)[3] & termios.ISIG), "ISIG", timeout)

    def exit_code(self, timeout: float = 15) -> int:
        """Read to the end of the output, wait for the process to end and return its exit status."""
        deadline = time.monotonic() + timeout
        while self._pump(0.05):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for the process to exit; output ends with:\n{self.text[-1500:]}")
        self.child.wait()
        return self.child.exitstatus if self.child.exitstatus is not None else -(self.child.signalstatus or 0)

    def hang_up(self, timeout: float = 30) -> int:
        """Close the terminal (the kernel hangs chat up, as closing a terminal window does); chat's exit code."""
        self.child.hang_up()
        return int(self.child.wait(timeout))

    def kill(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


_CONTROL = re.compile(
    r"\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]|[\r\n\x08]|[^\x1b\r\n\x08]+"
)


def screen(raw: str, cols: int | None = None) -> list[str]:
    """The lines a terminal shows for ``raw`` (what was redrawn in place counts once): enough of
    a terminal for line-based output, which moves the cursor back on its line, clears to the end
    of a line or of the screen, and goes up a few lines.

    With ``cols``, a line longer than the screen wraps onto the next row, as in a real terminal,
    counted in cells: CJK characters and most emoji take two.
    """
    from rich.cells import cell_len

    lines: list[list[str]] = [[]]
    row = col = 0
    for match in _CONTROL.finditer(raw):
        token = match.group(0)
        if token == "\r":
            col = 0
        elif token == "\n":
            row += 1
        elif token == "\x08":
            col = max(0, col - 1)
        elif match.group(2):
            params, final = match.group(1), match.group(2)
            n = int(params) if params.isdigit() else None
            if final == "A":
                row = max(0, row - (n or 1))
            elif final == "B":
                row += n or 1
            elif final == "C":
                col += n or 1
            elif final == "D":
                col = max(0, col - (n or 1))
            elif final == "G":
                col = max(0, (n or 1) - 1)
            elif final == "K":
                line = lines[row]
                if not n:
                    del line[col:]
                elif n == 1:
                    line[: col + 1] = [" "] * min(len(line), col + 1)
                else:
                    line.clear()
            elif final == "J" and not n:
                del lines[row][col:]
                del lines[row + 1 :]
        elif not token.startswith("\x1b"):
            for char in token:
                size = cell_len(char) if cols else 1
                if cols and col + size > cols:  # the character goes to the start of the next row
                    row, col = row + 1, 0
                    while len(lines) <= row:
                        lines.append([])
                line = lines[row]
                line.extend(" " * (col - len(line)))
                line[col : col + size] = [char] + [""] * (size - 1)  # a wide character fills two cells
                col += size
        while len(lines) <= row:
            lines.append([])
    return ["".join(line).rstrip() for line in lines]


class Tokens:
    """A turn listener (chatcli.core.events) that hands each piece of the answer to ``on_token``
    and keeps every event; tool calls that need approval go to ``approve`` (refused without one), with
    the review of each kept in ``reviews``; an interrupt that is no approval goes to ``answer`` (which
    returns the value to resume with; without one, nobody answers and the thread waits)."""

    def __init__(self, on_token: Any = None, approve: Any = None, answer: Any = None):
        self.on_token = on_token
        self._approve = approve
        self._answer = answer
        self.events: list[Any] = []
        self.reviews: list[Any] = []
        self.questions: list[Any] = []

    def hear(self, event: Any) -> None:
        from chatcli.core.events import Token

        self.events.append(event)
        if isinstance(event, Token) and self.on_token is not None:
            self.on_token(event.text)

    async def approve(self, call: Any, review: Any = None) -> Any:
        from chatcli.core.events import refuse

        self.reviews.append(review)
        return await self._approve(call) if self._approve is not None else refuse(call)

    async def answer(self, question: Any) -> Any:
        from chatcli.core.events import Reply

        self.questions.append(question)
        return Reply(await self._answer(question)) if self._answer is not None else None


def serve_each(sock: Any, answer: Callable[[Any], None]) -> None:
    """Accept connections on ``sock`` until it closes, each answered by ``answer(conn)`` in a thread of its own
    (the tests' raw HTTP servers, which send what no real server would)."""
    import threading

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def read_request(conn: Any) -> tuple[bytes, bytes]:
    """One HTTP request's head and body (as long as its Content-Length says), read from ``conn``."""
    request = b""
    while b"\r\n\r\n" not in request:
        request += conn.recv(65536) or b"\r\n\r\n"
    head, _, body = request.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        body += conn.recv(65536) or b"x" * length
    return head, body


@contextlib.asynccontextmanager
async def a_thread(
    settings: Any, thread_id: str, listener: Any = None, *, graph: Any = None, tools: Any = True
) -> AsyncIterator[Any]:
    """Thread ``thread_id`` as every door gets it: ``Chat(settings, answerer, listener).thread(thread_id)``, where
    what answers is chat's own graph or ``graph`` (a GraphFile: --graph's); ``tools``: ``Chat.open``'s (False for
    none). Open until the block ends."""
    from chatcli.service.answerer import Answerer
    from chatcli.service.chat import Chat

    async with Chat(settings, Answerer(graph=graph), listener) as chat:
        if tools is not True:
            await chat.open(tools=tools)
        yield await chat.thread(thread_id)


async def run_command(ctx: Any, line: str) -> bool:
    """Run one line of the prompt's commands on ``ctx`` (a chatcli.ui.registry.Context); False when it asks to
    leave."""
    from chatcli.ui.commands import execute

    found, arg = ctx.commands.find(line, ctx.conversation.toolbox if ctx.conversation else None)
    return await execute(found, ctx, arg)
