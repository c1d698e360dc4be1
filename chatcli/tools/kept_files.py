"""The binary parts of tool results kept for the user: each written once under ``$XDG_DATA_HOME/chatcli/files/THREAD``.

A file's name is made here, never taken from the server: the first 16 hex digits of its SHA-256 and an extension
for its media type (``.bin`` for one not listed), so a name a server gives (``../../.bashrc``) cannot choose where
it goes; the thread's folder is the thread id with anything but letters, digits, ``-`` and ``_`` replaced (and
``+`` and a hash of the id added when anything was). Folders are made readable by the user only (0700), files
0600; the same content is written once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from chatcli.paths import data_dir, private_dir

# Media types and the suffix a kept file of each is given (any other: .bin).
_PAIRS = "image/png=.png image/jpeg=.jpg image/gif=.gif image/webp=.webp image/svg+xml=.svg audio/wav=.wav "
_PAIRS += "audio/x-wav=.wav audio/mpeg=.mp3 audio/ogg=.ogg audio/webm=.webm audio/flac=.flac application/pdf=.pdf "
_PAIRS += "application/zip=.zip application/gzip=.gz application/json=.json text/plain=.txt text/csv=.csv"
EXTENSIONS = dict(pair.split("=") for pair in _PAIRS.split())


def folder(thread: str, root: Path | None = None) -> Path:
    """Where the files of ``thread``'s tool results are kept."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", thread)[:64] or "_"
    if safe != thread:  # joined by a character no thread id has: no other thread's folder is named so
        safe += "+" + hashlib.sha256(thread.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return (root if root is not None else data_dir()) / "files" / safe


def keep(part: dict[str, Any], thread: str, root: Path | None = None) -> Path | None:
    """Write ``part``'s data (a data block: ``base64``, ``mime_type``) under ``thread``'s folder; its path, or None
    when it could not be written (said by the caller as not kept)."""
    try:
        data = base64.b64decode(part["base64"])
        mime = str(part.get("mime_type") or "").split(";")[0].strip().lower()
        name = hashlib.sha256(data).hexdigest()[:16] + EXTENSIONS.get(mime, ".bin")
        path = private_dir(folder(thread, root)) / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            return path if path.is_file() and not path.is_symlink() else None  # the same content, kept before
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return path
    except (OSError, ValueError, KeyError):
        return None


def trim(most: int, root: Path | None = None) -> int:
    """Remove the oldest kept files (every thread's) beyond ``most``; how many went."""
    kept = sorted((p for p in folder("_", root).parent.glob("*/*") if p.suffix != ".jsonl"), key=_age)  # (hooks')
    for path in kept[: max(0, len(kept) - most)]:
        path.unlink(missing_ok=True)
    return max(0, len(kept) - most)


def _age(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # gone meanwhile (another process's trim)
        return 0
