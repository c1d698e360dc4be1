"""Opening an address in the user's browser: only a web address, and only where a browser of the desktop is
at hand (a graphical session, or ``$BROWSER``). On a bare terminal (an SSH login) Python's ``webbrowser``
would start a console browser (lynx, w3m) inside chat's own terminal, in the middle of its question:
the address is left to the user instead, as it is always shown first.
"""

from __future__ import annotations

import os
from contextlib import suppress
from urllib.parse import urlsplit


def open_in_browser(url: str) -> str | None:
    """Open ``url``; None once opened, else why it was not (a sentence for the user)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return "only an http or https address is opened; go there yourself"
    if os.environ.get("BROWSER") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        import webbrowser  # (a bare terminal, an SSH login, has no browser)

        with suppress(Exception):  # no browser to be had after all
            if webbrowser.open(url):
                return None
    return "no browser here: open the address above yourself"
