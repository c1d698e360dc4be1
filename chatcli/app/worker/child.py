"""The warm worker's child: one run of ``chat`` in a process forked from the worker, as the caller's own.

It takes the caller's stdin, stdout and stderr as its 0, 1 and 2, the caller's working directory,
umask and environment (whole: nothing of the worker's or of an earlier call is left), resets the
signals the worker handles, and runs ``chatcli.app.cli.main`` as a fresh process would, its
atexit work included. Where those streams are the caller's controlling terminal, it uses them as
a process of the caller's process group would (chatcli.app.worker.jobs.install: stopped, with the
caller, for reading from the background). It never returns into the worker's loop. The worker tells
the caller how the answer ended; when the worker is gone by then (killed), the child tells it itself.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import io


def run_child(conn: socket.socket, header: dict[str, Any], fds: list[int], worker_fds: tuple[int, ...]) -> None:
    """In the forked child: become the caller's ``chat`` process, run it, and exit with its code."""
    worker = os.getppid()
    code = 1
    try:
        _become_caller(header, fds, worker_fds)
        code = run_as_process(list(header["argv"]), lambda status: _orphaned_tell(conn, worker, status))
    except BaseException:  # noqa: BLE001 - a child must never return into the worker's loop
        pass
    finally:
        _orphaned_tell(conn, worker, {"exit": code})
        os._exit(code)


def _orphaned_tell(conn: socket.socket, worker: int, status: dict[str, int]) -> None:
    """Tell the caller how the answer ends, if the worker (which would, once this process is gone) is gone."""
    if os.getppid() == worker:
        return
    from chatcli.local.daemon import send

    with contextlib.suppress(OSError):
        send(conn, status)


def _become_caller(header: dict[str, Any], fds: list[int], worker_fds: tuple[int, ...]) -> None:
    signal.set_wakeup_fd(-1)
    for fd in worker_fds:
        os.close(fd)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, signal.SIG_DFL)  # (the caller stops this group with the last three, or does not)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setpgid(0, 0)  # the caller's Ctrl-C goes to this process and its tools' processes
    atexit._clear()
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    os.fchdir(fds[3])
    for fd in fds[:4]:
        os.close(fd)
    os.set_inheritable(fds[4], False)  # the job-control channel: not for the tools' processes
    from chatcli.app.worker.jobs import install

    terminal = install(int(header["caller"]), fds[4], fds[5] if len(fds) > 5 else None)
    from chatcli.service import jobs as background

    background.caller = int(header["caller"])  # a background reply started here tells the caller's terminal's shell
    os.umask(int(header["umask"]))
    os.environ.clear()
    os.environ.update(header["environ"])
    time.tzset()
    _KEPT.extend((sys.stdin, sys.stdout, sys.stderr))  # the worker's: never closed by the collector here
    gated = terminal.fds if terminal is not None else set()
    sys.stdin = _text_stream(0, "r", gated, lines=False)
    sys.stdout = _text_stream(1, "w", gated, lines=os.isatty(1))
    sys.stderr = _text_stream(2, "w", gated, lines=True, errors="backslashreplace")
    for name in ("stdin", "stdout", "stderr"):  # the start-up streams too (typed final: set by name)
        setattr(sys, f"__{name}__", getattr(sys, name))
    sys.argv = ["chat", *header["argv"]]


_KEPT: list[Any] = []


def _text_stream(fd: int, mode: str, gated: set[int], lines: bool, errors: str | None = None) -> io.TextIOWrapper:
    """A standard stream on ``fd`` as Python's start-up makes it (its encoding, the buffering for a terminal or not).

    On the caller's controlling terminal (``gated``), its reads and writes make the job-control checks first.
    """
    import io

    from chatcli.app.worker.jobs import GatedFile

    template = _KEPT[fd]
    raw = GatedFile(fd, mode, closefd=False) if fd in gated else io.FileIO(fd, mode, closefd=False)
    binary = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    return io.TextIOWrapper(binary, encoding=template.encoding, errors=errors or template.errors, line_buffering=lines)


def run_as_process(argv: list[str], ending: Callable[[dict[str, int]], None]) -> int:
    """``chat ARGV`` as a fresh process runs it, its atexit work and its flushes included; ``ending`` hears of an
    end by SIGINT (as Python's, which is not a return) before it comes."""
    import traceback

    from chatcli.app.cli import main
    from chatcli.app.environment import flush_streams
    from chatcli.text import say

    try:
        code = main(argv)
    except KeyboardInterrupt:
        say(sys.stderr, traceback.format_exc())
        flush_streams()
        ending({"signal": int(signal.SIGINT)})
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught error
        say(sys.stderr, traceback.format_exc())
        code = 1
    atexit._run_exitfuncs()
    flush_streams()
    return code
