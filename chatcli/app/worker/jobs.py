"""Signals and job control through the warm worker: Ctrl-C, Ctrl-Z, ``fg`` and ``bg`` as without it.

The shell and the terminal see only the caller (``chat`` as started, in the terminal's
foreground process group); the answer runs in a child of the worker, in a process group of its
own in a session without a terminal, where the kernel neither sends it the terminal's signals
nor stops it for using the terminal from the background. So the caller stands in for it:

- the signals it gets go to the answer (Ctrl-C to the answer's process group, as to a fresh
  chat's); those that come before the answer exists wait for it;
- Ctrl-Z (SIGTSTP) stops the answer's process group, then the caller, which the shell reports;
  continued (``fg``, ``bg``), the caller continues the answer;
- the child makes the kernel's checks for the caller's controlling terminal itself
  (``install``): reading it, changing its modes, or writing to it with ``stty tostop`` while the
  caller is not in the foreground asks the caller (over a channel of their own) to stop as the
  kernel would stop a process that did: the answer's group and the caller with SIGTTIN or
  SIGTTOU (the shell says "Stopped (tty input)"). Continued, the child checks again. Where the
  kernel would not stop the process (the caller ignores SIGTTIN or SIGTTOU, or its process group
  is orphaned) the read fails with EIO and the write goes through, as they would.

The caller's side runs before chat is imported, on the interpreter's C modules (``_signal``, ``_socket``, ``select``).
"""

from __future__ import annotations

import _signal as signal
import _socket
import errno
import io
import os
import select
import time

from chatcli.local.daemon import suppress

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is

if TYPE_CHECKING:
    from typing import Any, Callable


# Signals the caller receives and the answer should.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH)
READ, WRITE, MODE = b"I", b"O", b"M"  # the child's requests: to read the terminal, to write, to change its modes
GO, PASS, EIO = b"g", b"p", b"e"  # the caller's answers: check again, go ahead, fail with EIO
STOP_WAIT = 1.0  # seconds the caller waits for the answer to have stopped before it stops itself


def _stat(pid: int | str) -> list[bytes] | None:
    """The fields of process ``pid``'s /proc stat after its name (the state first, then ppid, pgrp, session, tty_nr,
    tpgid...); None when it is gone or the system does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields if len(fields) > 5 else None


def terminal_state(pid: int | str) -> tuple[int, bool] | None:
    """Process ``pid``'s controlling terminal (its device number, 0: none) and whether its group is in the
    foreground."""
    fields = _stat(pid)
    return None if fields is None else (int(fields[4]), fields[2] == fields[5])


class Forwarder:
    """The caller's stand-in work while its answer runs in the worker (see the module docstring)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.pending: list[int] = []
        self.offering = False  # the call is on its way: an answer may be running, its pid not yet known
        self.suspended = False  # Ctrl-Z then: kept until the pid is known (or the call refused)
        self.continued = 0
        blocked, stops = signal.pthread_sigmask(signal.SIG_BLOCK, []), (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
        self.ignored = {s for s in stops if s in blocked or signal.getsignal(s) == signal.SIG_IGN}
        handled = [*FORWARDED, signal.SIGCONT, *([] if signal.SIGTSTP in self.ignored else [signal.SIGTSTP])]
        self.saved = {signum: signal.signal(signum, self) for signum in handled}
        self.channel, self.child_end = _socket.socketpair()  # the child's end goes with the call

    def __call__(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGCONT:
            self.continued += 1
            self._to_answer(signal.SIGCONT)
        elif signum == signal.SIGTSTP:
            if self.pid is None and self.offering:
                self.suspended = True
            else:
                self._stop(signum)  # (before the call is sent: this process alone)
        elif self.pid is None:
            self.pending.append(signum)
        else:
            self._to_answer(signum, os.killpg if signum == signal.SIGINT else os.kill)

    def started(self, pid: int) -> None:
        self.pid = pid
        for signum in self.pending:
            self(signum, None)
        if self.suspended:
            self._stop(signal.SIGTSTP)

    def restore(self) -> None:
        """The caller's own signal handling again; a Ctrl-Z that came before any answer started stops it now."""
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
        self.channel.close()
        self.child_end.close()
        if self.suspended and self.pid is None:
            os.kill(os.getpid(), signal.SIGTSTP)

    def wait(self, sock: _socket.socket) -> None:
        """Until the worker has something to say on ``sock``; meanwhile, answer the child's asking for the terminal."""
        self.child_end.close()
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        poller.register(self.channel, select.POLLIN)
        while True:
            for fd, _event in poller.poll():
                if fd == sock.fileno():
                    return
                with suppress(OSError):
                    if request := self.channel.recv(1):
                        self.channel.sendall(self._terminal(request))
                        continue
                poller.unregister(self.channel)  # the answer has closed its end

    def _terminal(self, request: bytes) -> bytes:
        """What the kernel would do with a process of the caller's group using the terminal from the background."""
        signum = signal.SIGTTIN if request == READ else signal.SIGTTOU
        if signum in self.ignored:
            return EIO if signum == signal.SIGTTIN else PASS
        state = terminal_state("self")
        # Go in the foreground again meanwhile, or once continued; EIO not stopped (an orphaned process group).
        return GO if state is None or state[1] or self._stop(signum) else EIO

    def _to_answer(self, signum: int, kill: Callable[[int, int], None] = os.killpg) -> None:
        if self.pid is not None:
            with suppress(OSError):
                kill(self.pid, signum)

    def _stop(self, signum: int) -> bool:
        """Stop the answer's process group (if any), then this process, with ``signum``; True if the shell continued
        it."""
        self._to_answer(signum)
        deadline = time.monotonic() + STOP_WAIT
        while self.pid is not None and time.monotonic() < deadline:
            fields = _stat(self.pid)
            if fields is None or fields[0] in (b"T", b"t", b"Z", b"X"):
                break
            time.sleep(0.001)
        before = self.continued
        previous = signal.signal(signum, signal.SIG_DFL)
        try:
            os.kill(os.getpid(), signum)  # stopped here until continued (SIGCONT is handled before this returns)
        finally:
            signal.signal(signum, previous)
        self._to_answer(signal.SIGCONT)
        return self.continued != before


def open_controlling_terminal() -> int | None:
    """This process's controlling terminal, opened by its device's own path (``/dev/pts/3``, as a standard stream on
    it is) so that both are known for the same file and what is shown on one is not shown again on the other;
    ``/dev/tty`` when that path cannot be found. Never to become one's (O_NOCTTY). None when there is none."""
    device = (terminal_state("self") or (0, False))[0]  # (0: none, or the system does not say)
    path = "/dev/tty"
    for fd in (0, 1, 2):
        with suppress(OSError):
            if device and os.isatty(fd) and os.fstat(fd).st_rdev == device:
                path = os.ttyname(fd)
                break
    else:
        major = os.major(device) if device else 0
        if 136 <= major <= 143:  # a pseudo-terminal: /dev/pts/N
            path = f"/dev/pts/{(major - 136) * 256 + os.minor(device)}"
    for path in dict.fromkeys((path, "/dev/tty")):  # that path, else /dev/tty, which is its terminal's
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            continue
        if os.isatty(fd) and (path == "/dev/tty" or os.fstat(fd).st_rdev == device):
            return fd
        os.close(fd)
        break
    return None


# ----------------------------------------------------------------------------- the child's side


class Terminal:
    """In the worker's child: the kernel's job-control checks for the caller's controlling terminal."""

    def __init__(self, caller: int, channel: int, fds: set[int], devices: set[int]) -> None:
        self.caller, self.channel, self.fds, self.devices = caller, channel, fds, devices

    def check(self, fd: Any, kind: bytes) -> None:
        """Before ``kind`` on ``fd``: wait (stopped, with the caller) until the caller's group is in the foreground."""
        if not isinstance(fd, int):
            fd = fd.fileno()
        if fd not in self.fds or not self._still(fd) or (kind == WRITE and not _tostop(fd)):
            return
        while True:
            state = terminal_state(self.caller)
            if state is None or state[1]:
                return
            try:
                _write(self.channel, kind)
                answer = _read(self.channel, 1)
            except OSError:
                answer = b""
            if answer == PASS:
                return
            if answer != GO:
                import termios

                raise (termios.error if kind == MODE else OSError)(errno.EIO, os.strerror(errno.EIO))

    def _still(self, fd: int) -> bool:
        """Whether ``fd`` is still the terminal (a descriptor opened on it and closed since is another file now)."""
        with suppress(OSError):
            if os.fstat(fd).st_rdev in self.devices:
                return True
        self.fds.discard(fd)
        return False


def _tostop(fd: int) -> bool:
    import termios

    with suppress(termios.error):
        return bool(termios.tcgetattr(fd)[3] & termios.TOSTOP)
    return False


_read, _write = os.read, os.write
_installed: list[Terminal] = []
# In the warm worker's child: opens the caller's controlling terminal, handed over with the call (``install``), as a
# new descriptor, for chatcli.app.environment's ``open_terminal``: the child has none of its own (its /dev/tty is
# nobody's). None: a process of its own, which opens its controlling terminal.
handed_terminal: Callable[[], int] | None = None


def _checked(function: Any, kind: bytes) -> Any:
    """``function``, on a descriptor or a file, after the job-control check for ``kind`` (``install``'s)."""

    def checked(fd: Any, *args: Any) -> Any:
        _installed[0].check(fd, kind)
        return function(fd, *args)

    return checked


class GatedFile(io.FileIO):
    """A standard stream's file on the caller's controlling terminal: each read and write checked first
    (``install``)."""

    readinto, read, readall = (_checked(getattr(io.FileIO, name), READ) for name in ("readinto", "read", "readall"))
    write = _checked(io.FileIO.write, WRITE)


def install(caller: int, channel: int, tty: int | None = None) -> Terminal | None:
    """Make the checks for the caller's controlling terminal, on this child's 0, 1 and 2 that are that terminal, and
    on ``tty``, the caller's terminal handed over to ask on when its stdin is piped: kept (for
    chatcli.app.environment's ``open_terminal``) only when the kernel says it is that terminal, else closed."""
    import stat
    import termios

    device = (terminal_state(caller) or (0, False))[0]  # (0: none, or the system does not say)
    fds = set()
    # The caller's terminal by its own device, or as the caller opened it: /dev/tty, which is its terminal's.
    devices = {device, os.makedev(5, 0)}
    for fd in (0, 1, 2, *([tty] if tty is not None else [])) if device else ():
        with suppress(OSError):
            if stat.S_ISCHR((info := os.fstat(fd)).st_mode) and info.st_rdev in (devices if fd == tty else {device}):
                fds.add(fd)
    if tty is not None and tty not in fds:
        os.close(tty)
        tty = None
    if not fds:
        return None
    terminal = Terminal(caller, channel, fds, devices)
    _installed.append(terminal)
    if tty is not None:
        os.set_inheritable(tty, False)  # not for the tools' processes

        def opened() -> int:
            fd = os.dup(tty)
            os.set_inheritable(fd, False)
            terminal.fds.add(fd)
            return fd

        global handed_terminal
        handed_terminal = opened

    os.read, os.write = _checked(_read, READ), _checked(_write, WRITE)
    for name in ("tcsetattr", "tcflush", "tcflow", "tcdrain", "tcsendbreak"):
        setattr(termios, name, _checked(getattr(termios, name), MODE))
    return terminal
