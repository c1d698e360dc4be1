"""/copy: an answer or one of its code blocks to the clipboard, through the terminal and the system's tool.

OSC 52 asks the terminal itself to set its clipboard: it works over SSH and inside tmux (with
``set -g set-clipboard on``). Where a clipboard tool is installed (wl-copy, xclip, xsel,
pbcopy, clip.exe) it is used too, so a terminal without OSC 52 still gets it.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from typing import IO

# Clipboard tools, and when each one can work.
TOOLS = (
    ("wl-copy", ("wl-copy",), "WAYLAND_DISPLAY"),
    ("xclip", ("xclip", "-selection", "clipboard"), "DISPLAY"),
    ("xsel", ("xsel", "--clipboard", "--input"), "DISPLAY"),
    ("pbcopy", ("pbcopy",), None),
    ("clip.exe", ("clip.exe",), None),
)


def copy(text: str, terminal: IO[str] | None) -> list[str]:
    """Put ``text`` on the clipboard every way there is; the ways that worked."""
    ways = []
    if terminal is not None and terminal.isatty():
        terminal.write("\x1b]52;c;" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "\x07")  # OSC 52
        terminal.flush()
        ways.append("OSC 52")
    for name, command, needs in TOOLS:
        if (needs and not os.environ.get(needs)) or shutil.which(command[0]) is None:
            continue
        try:
            subprocess.run(command, input=text.encode("utf-8"), timeout=3, check=True, capture_output=True)
        except (OSError, subprocess.SubprocessError):
            continue
        ways.append(name)
        break
    return ways
