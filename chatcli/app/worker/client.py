"""The caller's side of the warm worker: find (or start) the user's worker, hand it this run, end as it ends.

Where the worker answers, this side runs on the interpreter's C modules (``_socket``, ``_signal``, ``_json``:
chatcli.local.daemon): the standard library's Python modules would cost more than all its work. The run's own
stdin, stdout and stderr (and working directory) are passed to the worker as file descriptors, so what the answer
does with them is what a fresh ``chat`` would do. ``hand_over`` returns None whenever the worker cannot take the run
before it has started it: the caller then runs the normal way. That is also the way, without a word, when the
worker is not confined exactly as this process is (chatcli.tools.confinement: then nothing of this run is sent to
it), or when it finds this process confined otherwise than itself. While the answer runs, this process stands in
for it before the shell and the terminal (signals, Ctrl-Z, fg and bg: chatcli.app.worker.jobs).
"""

from __future__ import annotations

import _signal as signal
import _socket
import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is
if TYPE_CHECKING:
    from typing import Any, Mapping

from chatcli.app.worker.jobs import FORWARDED, Forwarder, open_controlling_terminal
from chatcli.local.daemon import build_id as build_id  # the worker's server reads it here
from chatcli.local.daemon import receive, same_user, send, spawn, start_lock, suppress
from chatcli.local.daemon import runtime_dir as private_dir
from chatcli.tools.confinement import alike, describe, peer

SOCKET = "worker.sock"
START_LOCK = "start.lock"
LOG = "worker.log"
FDS = 5  # a call's descriptors: stdin, stdout, stderr, the working directory, the job-control channel
# and, when the caller has one, its controlling terminal (to ask on when stdin is piped, as a fresh chat does)
# Variables the worker keeps from the environment it starts in: nothing secret, only what decides
# how Python and the libraries load (a call whose values differ is answered the normal way), and the trust
# stores its warm-up's TLS set-up loads (chatcli.providers.tls: a call naming others makes its own).
WORKER_ENVIRON = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "XDG_RUNTIME_DIR", "CHATCLI_LAZY_IMPORTS")
WORKER_PREFIXES = ("LC_", "PYTHON", "SSL_CERT_")


def _warn(text: str) -> None:
    from chatcli.text import say

    with suppress(OSError, ValueError):
        say(sys.stderr, f"chat: warning: {text}\n")


def runtime_dir(environ: Mapping[str, str]) -> str | None:
    """The worker's private directory (chatcli.local.daemon.runtime_dir: 0700, the user's own, not a link); None if
    unsafe."""
    path = private_dir(environ)
    if path is None:
        _warn("not using the worker: its directory is not a private directory of yours (mode 0700)")
    return path


def connect(path: str) -> _socket.socket | None:
    """A connection to the worker listening at ``path``, run by this user; None if there is none."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    with suppress(OSError):
        sock.connect(path)
        if same_user(sock):
            return sock
        _warn(f"not using the worker: {path} belongs to another user")
    sock.close()
    return None


def start(directory: str, idle: float, wait: bool = True) -> _socket.socket | None:
    """Start the worker (one caller at a time) and connect to it once it listens; None if it did not come up.
    Without ``wait``, start it and return None at once (one starting already: nothing more)."""
    path = os.path.join(directory, SOCKET)
    with start_lock(os.path.join(directory, START_LOCK), wait) as lock:
        if lock is None:
            return None  # a directory it cannot write to (a read-only sandbox): the normal way; or one starting already
        if (sock := connect(path)) is not None:  # another caller may have started it meanwhile
            return sock
        environ = {k: v for k, v in os.environ.items() if k in WORKER_ENVIRON or k.startswith(WORKER_PREFIXES)}
        held = [] if wait else [str(lock)]  # it holds the start lock until it listens: no second start meanwhile
        args, log = [path, str(idle), *held], os.path.join(directory, LOG)
        up = spawn("chatcli.app.worker.server", args, environ, log, pass_fds=() if wait else (lock,), wait=wait)
        return connect(path) if up and wait else None  # (without wait, it comes up by itself)


def confined_alike(sock: _socket.socket, me: dict[str, str] | None) -> bool:
    """True if the worker at the other end of ``sock`` is confined as this process is (``me``)."""
    pid, pidfd = peer(sock)
    try:
        return pid > 0 and alike(me, describe(pid))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def offer(sock: _socket.socket, header: dict[str, Any], channel: int) -> dict[str, Any] | None:
    """Ask the worker to run the call ``header`` describes here; its first answer (``pid``, or ``refused`` and why),
    None if it left. ``channel`` is the child's end of the job-control channel."""
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    tty = open_controlling_terminal()
    try:
        send(sock, header, [0, 1, 2, cwd, channel] + ([tty] if tty is not None else []))
        return receive(sock)[0]
    except (OSError, ValueError):
        return None
    finally:
        os.close(cwd)
        if tty is not None:
            os.close(tty)


def hand_over(argv: list[str], environ: Mapping[str, str], idle: float, wait: bool = True) -> int | None:
    """Run ``chat ARGV`` in the worker and return its exit code; None if this run should go the normal way.
    With no worker running: ``wait``, start one and run there; else start one for the next runs (in the
    background, as Gradle's daemon and Emacs' server start) and go the normal way now."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
        directory = runtime_dir(environ)
    except OSError:
        return None
    if directory is None:
        return None
    path = os.path.join(directory, SOCKET)
    if len(path.encode()) >= 108:  # what a unix socket's address can hold
        _warn(f"not using the worker: its socket path is too long ({path})")
        return None
    me = describe()  # what this process sees of its confinement (the worker compares it with the kernel's word)
    header = {"build": build_id(), "argv": argv, "environ": dict(environ), "confinement": me, "idle": idle}
    forwarder = Forwarder()
    try:
        for attempt in range(2):  # a stale or retiring worker is replaced once
            sock = connect(path)
            if sock is None and not wait:
                start(directory, idle, wait=False)
                break
            sock = sock or start(directory, idle)
            if sock is None:
                break
            if not confined_alike(sock, me):
                sock.close()  # a worker confined otherwise (or started from such a place): the normal way
                break
            forwarder.offering = True
            answer = offer(sock, header, forwarder.child_end.fileno())
            if answer is not None and "pid" in answer:
                forwarder.started(int(answer["pid"]))
                return finish(sock, forwarder)
            forwarder.offering = False
            sock.close()
            if answer is not None and answer.get("refused") != "stale":
                break  # the worker cannot do this one: the normal way, the worker kept
    finally:
        forwarder.restore()
    # stopped before anything started
    return 128 + forwarder.pending[0] if forwarder.pending else None


def finish(sock: _socket.socket, forwarder: Forwarder) -> int:
    """Wait for the answer's end and return its exit status; a death by signal is repeated on this process."""
    status = None
    with suppress(OSError, ValueError):
        forwarder.wait(sock)
        status = receive(sock)[0]
    sock.close()
    if status is None:
        _warn("the worker stopped before telling how the answer ended")
        return 1
    if int(status.get("exit", 0)) - 128 in FORWARDED:  # stopped by one: a later one changes nothing here either
        forwarder.saved.update((signum, signal.SIG_IGN) for signum in FORWARDED if signum != signal.SIGWINCH)
    if "signal" in status:
        signum = int(status["signal"])
        with suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_DFL)  # (SIGKILL and SIGSTOP take no handler: they need none)
        os.kill(os.getpid(), signum)
        return 128 + signum
    return int(status.get("exit", 1))
