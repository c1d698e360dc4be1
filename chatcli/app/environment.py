"""Where ``chat`` reads and writes, and what it knows of its surroundings: one object, swapped by tests.

The entry point builds the real one (the process's streams, variables and directory); the
test suite builds its own (text in, captured text out, a terminal or not, chosen variables),
and runs ``main(args, env)`` in-process, as httpie's tests do.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Mapping

from chatcli.text import is_terminal


@dataclass
class Environment:
    """The streams, variables and working directory of one run of ``chat``."""

    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    cwd: Path = field(default_factory=Path.cwd)
    # The controlling terminal's device, to ask on when stdin is piped (`git diff | chat --tools shell ...`), as
    # Claude Code and aichat do; None: none is looked for (the tests' environments, unless one gives its own).
    terminal: str | None = None

    def open_terminal(self) -> IO[str] | None:
        """The controlling terminal, opened to ask on (keys typed there, never read from the pipe); None when
        there is none (a cron job, a CI runner, ``setsid``)."""
        if self.terminal is None:
            return None
        try:  # read and written through its descriptor (prompt-toolkit reads keys from it), written as text
            from chatcli.app.worker import jobs

            if jobs.handed_terminal is not None:  # the warm worker's child: the caller's, handed over
                fd: int | None = jobs.handed_terminal()
            elif self.terminal == "/dev/tty":
                fd = jobs.open_controlling_terminal()
            else:
                fd = os.open(self.terminal, os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return None
        if fd is None:
            return None
        tty = open(fd, "w", encoding="utf-8", errors="replace", buffering=1)  # noqa: SIM115 - closed by the run
        if not is_terminal(tty):
            tty.close()
            return None
        return tty

    @property
    def stdin_isatty(self) -> bool:
        """True when a person types at stdin (so no question is piped in)."""
        return is_terminal(self.stdin)

    @property
    def dumb_terminal(self) -> bool:
        """True when TERM says the terminal understands no escape sequences."""
        return self.environ.get("TERM") == "dumb"


def flush_streams() -> None:
    """Flush stdout and stderr, as an exiting interpreter does (one that cannot be written to: nothing to do)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises no second broken pipe (the reader left)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
