"""Telling the user that something went on without them: a line in the terminal a background reply was started
from (only while its shell waits at its prompt, so that nothing is written into a program drawing the screen), and
a desktop notification (``notify-send`` where it is installed, else the terminal's own: OSC 9)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess

from chatcli.text import neutralise, say


def _open_own_terminal(tty: str) -> int | None:
    """``tty`` opened for writing if it is still a terminal of this user's (a closed terminal's device may be another
    user's by now); None if not."""
    try:
        fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    found = os.fstat(fd)
    if stat.S_ISCHR(found.st_mode) and found.st_uid == os.getuid() and os.isatty(fd):
        return fd
    os.close(fd)
    return None


def _at_prompt(session: int, fd: int) -> bool:
    """True when the shell that leads ``session`` waits at its prompt in terminal ``fd``: that terminal is the
    session's, and its foreground process group is the shell's own (no program of the user's runs there now). Read
    from /proc: a process may not ask another session's terminal itself."""
    try:
        with open(f"/proc/{session}/stat", encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        group, sid, terminal, foreground = (int(fields[i]) for i in (2, 3, 4, 5))
    except (OSError, IndexError, ValueError):
        return False
    return sid == session and terminal == os.fstat(fd).st_rdev and foreground == group


def tell(tty: str | None, session: int | None, line: str, desktop: bool = False) -> bool:
    """Say ``line`` in terminal ``tty`` if the shell of ``session`` is at its prompt there (its process group is the
    terminal's foreground one), and as a desktop notification with ``desktop``; True if the terminal was told."""
    line = neutralise(" ".join(line.split()))
    told = False
    fd = _open_own_terminal(tty) if tty else None
    if fd is not None:
        with contextlib.suppress(OSError), os.fdopen(fd, "w", encoding="utf-8", errors="replace") as terminal:
            if session is not None and _at_prompt(session, fd):
                say(terminal, f"\n{line}\n")
                told = True
                if desktop and not shutil.which("notify-send"):
                    terminal.write(f"\x1b]9;{line}\x07")  # the terminal's own notification (OSC 9)
    if desktop and shutil.which("notify-send"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            quiet = subprocess.DEVNULL
            subprocess.run(
                ["notify-send", "--app-name=chat", "chat", line], stdin=quiet, stdout=quiet, stderr=quiet, timeout=5
            )
    return told
