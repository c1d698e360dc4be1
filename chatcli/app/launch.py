"""The ``chat`` command's entry point: a one-shot (and a script's ``chat tree``, ``threads``, ``show``) goes to the
warm worker when one is wanted, all else runs here.

Standard library only until the worker has taken the run: deciding costs a look at the command
line, two variables and (only when ``CHATCLI_WORKER`` is unset) config.toml. Anything this
module is unsure of runs the normal way (``chatcli.app.cli.main``), which is also what happens
when the worker cannot be reached. The worker's settings are read from the environment and
config.toml only, never from a .env: a directory's .env must not choose where chat sends its
streams and variables (see chatcli.trust).
"""

from __future__ import annotations

import os
import sys

from chatcli import flag
from chatcli.app.flags import COMMANDS, NOT_FOR_THE_WORKER, VALUED  # standard library only, as this module
from chatcli.local import runtime  # standard library only
from chatcli.local.worker_settings import worker_mode

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is
if TYPE_CHECKING:
    from typing import Mapping


# Thread commands that only read and print: the worker runs them when their output is not a terminal (a script's
# `chat tree ID --json`, `chat threads | grep`), with its store's driver loaded; on a terminal they may page, and a
# pager needs the terminal, which a worker's process does not have.
READING = ("tree", "threads", "show")


def is_one_shot(argv: list[str], stdin_is_terminal: bool, stdout_is_terminal: bool = True) -> bool:
    """True when ``chat ARGV`` asks one question (no subcommand, no prompt), or is a command of ``READING`` printing to
    a pipe or a file, and has nothing the worker leaves alone."""
    i, question, reading = 0, False, False
    while i < len(argv):
        arg = argv[i]
        if arg.partition("=")[0] in NOT_FOR_THE_WORKER:
            return False
        if arg == "--":
            question = question or i + 1 < len(argv)
            break
        if not arg.startswith("-") or arg == "-":
            if not question and not reading and arg in READING and not stdout_is_terminal:
                reading = True  # its own arguments follow: only a flag left to the normal path matters now
            elif not question and not reading and arg in COMMANDS:
                return False  # a subcommand (or `chat ask`: left to the normal path too)
            question = question or not reading
        elif arg in VALUED:
            i += 1
        i += 1
    return reading or question or not stdin_is_terminal


def wants_worker(argv: list[str], environ: Mapping[str, str]) -> tuple[str, float] | None:
    """The warm worker's mode and idle time (chatcli.local.worker_settings.worker_mode) when this run should go to it
    (it may still fall back); None when it should not."""
    if not sys.platform.startswith("linux") or environ.get("_CHAT_COMPLETE"):
        return None
    if flag(environ.get("CHATCLI_LOCAL")) or environ.get("CHATCLI_LOCAL_MODEL") or flag(environ.get("CHATCLI_TRACING")):
        return None
    settings = worker_mode(environ) if is_one_shot(argv, os.isatty(0), os.isatty(1)) else None
    return settings if settings and settings[0] != "off" else None


def main() -> None:
    """Run ``chat``: through the warm worker when it is wanted and can answer, the normal way otherwise."""
    runtime.begin()
    argv = sys.argv[1:]
    if argv[:1] == ["attach"]:  # what a background reply said, shown at once: no command line to start first
        from chatcli.app.following import attach

        if (code := attach(argv, os.environ)) is not None:
            sys.exit(code)
    if worker := wants_worker(argv, os.environ):
        from chatcli.app.worker import client as worker_client

        if (code := worker_client.hand_over(argv, os.environ, worker[1], wait=worker[0] == "on")) is not None:
            os._exit(code)  # nothing left unwritten (chatcli.text.say flushes); the interpreter's shutdown costs more
    from chatcli.app.cli import main as run

    sys.exit(run())
