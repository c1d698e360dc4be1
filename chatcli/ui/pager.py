"""Long output through the user's pager (``$PAGER``, else ``less -FRX``), as git does: only on a terminal."""

from __future__ import annotations

import io
import os
import subprocess
from typing import IO, Mapping

from chatcli.text import own_sequences_only, show

DEFAULT_PAGER = "less -FRX"  # -F: quit if it fits, -R: keep colours, -X: leave the text on screen


class ScreenBuffer(io.StringIO):
    """Collects what would go to the terminal, rendered as for a terminal (so it can be paged)."""

    def isatty(self) -> bool:
        return True


def screen_rows(out: IO[str], environ: Mapping[str, str]) -> int:
    """The terminal's height: $LINES, else the terminal's own, else 24."""
    lines = environ.get("LINES", "")
    if lines.isdigit() and int(lines) > 0:
        return int(lines)
    try:
        return os.get_terminal_size(out.fileno()).lines
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return 24


def page(text: str, out: IO[str], environ: Mapping[str, str] | None = None) -> None:
    """Write ``text`` (rendered for a terminal) to ``out``; through the pager when ``out`` is a terminal and
    ``text`` is taller than it. Either way only chat's own sequences stay live (chatcli.text.show)."""
    environ = os.environ if environ is None else environ
    pager = (environ.get("PAGER") or DEFAULT_PAGER).strip()
    if not out.isatty() or pager in ("", "cat") or text.count("\n") < screen_rows(out, environ):
        show(out, text)
        return
    text = own_sequences_only(text)  # the pager shows it on the terminal: a `more` would obey it all
    out.flush()
    try:
        # Through the shell, as git and man run $PAGER: it may carry options ("less -R").
        done = subprocess.run(
            pager, shell=True, check=False, input=text.encode("utf-8", "replace"), env={"LESS": "FRX", **environ}
        )
    except OSError:
        done = None
    if done is None or done.returncode in (126, 127):  # no such pager: the text is not lost
        show(out, text)
