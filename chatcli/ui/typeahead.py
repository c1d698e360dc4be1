"""Keys typed while no prompt is reading (chat starting, a reply streaming) are kept as typed: Enter sends.

In its normal (line) mode the terminal driver works on each key as it arrives: it echoes it (into
the middle of a streaming answer) and turns the Enter key's carriage return into a newline
(ICRNL), which prompt-toolkit reads as Ctrl-J, "insert a line break": a question typed during a
reply, or in the instant between its end and the next prompt, would sit at the prompt as a line
break until another key. Reading what the terminal holds before each prompt leaves a window (a
key that arrives after that read and before the prompt's raw mode is already translated), so
chat never gives the terminal back to line mode while it owns it: from the first prompt to the
last, keys are neither echoed nor translated (``keys_as_typed``), and the prompt reads each key
as it was typed. Signals stay on: Ctrl-C still stops a reply, Ctrl-Z still suspends.

What arrived in line mode (before the first prompt, or after a program that put the terminal
back in it) is taken before the prompt and handed to it as keys, each newline an Enter.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import termios
from typing import Any, Callable, Iterator

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


def _key_mode(attrs: list[Any]) -> list[Any]:
    """``attrs`` with keys passed on as typed: no echo, no line editing, no carriage-return translation; signals
    kept."""
    keyed = list(attrs)
    keyed[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR)
    keyed[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN)
    chars = list(keyed[6])
    chars[termios.VMIN], chars[termios.VTIME] = 1, 0
    keyed[6] = chars
    return keyed


def _take_line_mode_keys(fd: int) -> bytes | None:
    """If the terminal is in line mode: put it in key mode and return what it held (None: it was in key mode)."""
    try:
        attrs = termios.tcgetattr(fd)
        if not (attrs[0] & termios.ICRNL or attrs[3] & (termios.ECHO | termios.ICANON)):  # in key mode already
            return None  # the prompt reads what is waiting as it was typed
        termios.tcsetattr(fd, termios.TCSANOW, _key_mode(attrs))
        return held(fd) or None  # out of line mode, everything waiting can be read: whole lines and the start of one
    except (OSError, termios.error):
        return None


def held(fd: int) -> bytes:
    """What the terminal ``fd`` holds, typed but not yet read (b"": nothing), read without waiting."""
    pending = int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little", signed=True)
    return os.read(fd, pending) if pending > 0 else b""


def keys_of(typed: bytes) -> list[KeyPress]:
    """The key presses of lines typed in line mode: each line break was an Enter."""
    if not typed:
        return [KeyPress(Keys.ControlD, "\x04")]  # only an end of input (Ctrl-D at a line start) was waiting
    keys: list[KeyPress] = []
    parser = Vt100Parser(keys.append)
    parser.feed(typed.decode("utf-8", errors="replace").replace("\n", "\r"))
    parser.flush()
    return keys


def take_typed_lines(prompt_input: Any) -> None:
    """Hand what was typed in line mode to the next prompt, as keys each newline an Enter.

    Also puts the terminal (back) in key mode, so that nothing typed from now on is translated.
    """
    fd = _terminal_fd(prompt_input)
    typed = _take_line_mode_keys(fd) if fd is not None else None
    if typed:
        with contextlib.suppress(Exception):  # an input without type-ahead support: nothing to lose but the keys
            store_typeahead(prompt_input, keys_of(typed))


@contextlib.contextmanager
def keys_as_typed(prompt_input: Any) -> Iterator[None]:
    """While chat owns the terminal, keys typed are kept as typed and not echoed; its mode comes back after.

    The terminal's own echo would write them into the middle of the streaming answer (and shift
    the rows the live area redraws); the next prompt shows them instead.
    """
    fd = _terminal_fd(prompt_input)
    saved = None
    if fd is not None:
        with contextlib.suppress(OSError, termios.error):
            saved = termios.tcgetattr(fd)
    try:
        take_typed_lines(prompt_input)
        yield
    finally:
        if fd is not None and saved is not None:
            with contextlib.suppress(OSError, termios.error):
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def watching(prompt_input: Any, key: Keys, pressed: Callable[[], None]) -> Iterator[None]:
    """While a reply streams, keys are read as they are typed: ``key`` calls ``pressed`` (and is not kept), every
    other key goes to the next prompt as typed (a question the terminal asks meanwhile, an approval, reads on top of
    this and hands it back). Nothing is read from a pipe."""
    fd = _terminal_fd(prompt_input)
    attach = getattr(prompt_input, "attach", None)
    if fd is None or attach is None:
        yield
        return

    def ready() -> None:
        kept = []
        for typed in prompt_input.read_keys():
            if typed.key == key:
                pressed()
            else:
                kept.append(typed)
        if kept:
            store_typeahead(prompt_input, kept)

    try:
        with attach(ready):
            yield
    finally:
        with contextlib.suppress(Exception):  # the start of an escape sequence: the prompt gets it as typed
            if left := prompt_input.flush_keys():
                store_typeahead(prompt_input, left)
