"""Lines typed while no prompt was reading (chat starting, a reply streaming) are sent, not split.

Between prompts the terminal is in its normal (cooked) mode, where it turns the Enter key's
carriage return into a newline (ICRNL). prompt-toolkit would read that newline as Ctrl-J, which
inserts a line break: a question typed right after ``chat`` starts, or during a reply, would sit
at the prompt until Enter was pressed again. Before each prompt, the complete lines the terminal
holds are taken here and handed to the prompt as keys, each line ending in Enter.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import termios
from typing import Any, Iterator

from prompt_toolkit.input.typeahead import store_typeahead
from prompt_toolkit.input.vt100_parser import Vt100Parser
from prompt_toolkit.key_binding import KeyPress
from prompt_toolkit.keys import Keys


def _terminal_fd(prompt_input: Any) -> int | None:
    """The file descriptor of a terminal the prompt reads from, or None (a pipe, a test's input)."""
    try:
        fd = prompt_input.fileno()
    except (AttributeError, NotImplementedError, OSError, ValueError):
        return None
    return fd if isinstance(fd, int) and os.isatty(fd) else None


def _complete_lines(fd: int) -> bytes | None:
    """The whole lines waiting in a terminal in line mode (read, so no longer waiting); None if none."""
    try:
        if not termios.tcgetattr(fd)[3] & termios.ICANON:
            return None  # not line mode: keys arrive as typed, Enter as a carriage return
        pending = int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little", signed=True)
    except (OSError, termios.error):
        return None
    if pending <= 0:
        return None  # in line mode only finished lines count: nothing was sent yet
    try:
        return os.read(fd, pending)
    except (BlockingIOError, OSError):
        return None


def keys_of(typed: bytes) -> list[KeyPress]:
    """The key presses of lines typed in line mode: each line break was an Enter."""
    if not typed:
        return [KeyPress(Keys.ControlD, "\x04")]  # only an end of input (Ctrl-D at a line start) was waiting
    keys: list[KeyPress] = []
    parser = Vt100Parser(keys.append)
    parser.feed(typed.decode("utf-8", errors="replace").replace("\n", "\r"))
    parser.flush()
    return keys


def take_typed_lines(prompt_input: Any) -> int:
    """Hand the lines typed since the last prompt to the next one, as Enter-terminated keys; how many keys."""
    fd = _terminal_fd(prompt_input)
    if fd is None:
        return 0
    typed = _complete_lines(fd)
    if typed is None:
        return 0
    keys = keys_of(typed)
    with contextlib.suppress(Exception):  # an input without type-ahead support: nothing to lose but the keys
        store_typeahead(prompt_input, keys)
        return len(keys)
    return 0


@contextlib.contextmanager
def typing_unechoed(prompt_input: Any) -> Iterator[None]:
    """While a line runs, keys typed ahead are kept for the next prompt but not echoed into the reply.

    The terminal's own echo would write them into the middle of the streaming answer (and
    shift the rows the live area redraws); the next prompt shows them instead.
    """
    fd = _terminal_fd(prompt_input)
    saved = None
    if fd is not None:
        with contextlib.suppress(OSError, termios.error):
            saved = termios.tcgetattr(fd)
            quiet = list(saved)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        if saved is not None:
            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(fd, termios.TCSANOW, saved)
