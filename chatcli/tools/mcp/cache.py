"""What each MCP server offers, kept between runs so that a server starts only when it is used.

One file per server in ``$XDG_CACHE_HOME/chatcli/mcp/`` (0600 files in a 0700 directory),
named by a ``fingerprint`` of the server's whole configuration: its command and arguments, the
names of its environment variables and a digest of their values (a changed token lists it
again; no value is kept), its working directory, its URL and header names (and a digest of
their values), and the identity of its program and of the files its arguments name (path,
size, modification time, inode): a reinstalled server, an edited script, is listed again. A
file that is unreadable, not the user's own, too large or not of the expected shape is as
good as none (the server is started and listed, and the file written again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import time
from itertools import islice
from pathlib import Path
from typing import Any, Mapping

from chatcli.paths import cache_dir, private_dir, write_private
from chatcli.tools.listing import Listing, Malformed
from chatcli.tools.mcp.config import ServerSpec

VERSION = 2  # (2: with the skills a server serves)
MAX_FILE = 16 * 1024 * 1024  # bytes of one cache file
KEEP_DAYS = 30  # a file not used for this long is removed (when another is written)
_FILES_LOOKED_AT = 8  # arguments checked for a file's identity


def _identity(path: str) -> list[Any] | None:
    """A file as the kernel knows it: resolved path, size, modification time and inode; None if absent."""
    try:
        real = os.path.realpath(path)
        info = os.stat(real)
    except (OSError, ValueError):
        return None
    return [real, info.st_size, info.st_mtime_ns, info.st_ino] if stat.S_ISREG(info.st_mode) else None


def _digest(pairs: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(pairs.items())).encode()).hexdigest()


def fingerprint(spec: ServerSpec, environ: Mapping[str, str] = os.environ, cwd: str | None = None) -> str:
    """The key of ``spec``'s cache file: the whole configuration and the identity of what it runs."""
    here = spec.cwd or cwd or os.getcwd()
    program = None
    if spec.command:
        command = os.path.expanduser(spec.command)
        found = command if os.sep in command else shutil.which(command, path=spec.env.get("PATH", environ.get("PATH")))
        program = _identity(os.path.join(here, found)) if found else None
    candidates = (a for a in spec.args[: _FILES_LOOKED_AT * 4] if a and not a.startswith("-") and len(a) <= 4096)
    named = (_identity(os.path.join(here, os.path.expanduser(arg))) for arg in candidates)
    files = list(islice(filter(None, named), _FILES_LOOKED_AT))
    whole = {"version": VERSION, "name": spec.name, "command": spec.command, "args": list(spec.args), "cwd": spec.cwd}
    whole |= {"env": sorted(spec.env), "env_values": _digest(spec.env), "url": spec.url, "sse": spec.sse}
    whole |= {"headers": sorted(spec.headers), "header_values": _digest(spec.headers), "program": program}
    whole |= {"files": files, "oauth": _digest(spec.oauth)}  # another client registered by hand: maybe other tools
    return hashlib.sha256(json.dumps(whole, sort_keys=True).encode()).hexdigest()


def _private(directory: Path) -> bool:
    """True if ``directory`` is the user's own, not a link, and no one else's to read (made so if needed)."""
    with contextlib.suppress(OSError):
        private_dir(directory)
        info = os.lstat(directory)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            if info.st_mode & 0o077:
                os.chmod(directory, 0o700)
            return True
    return False


class ListCache:
    """The cache files of one user, in ``$XDG_CACHE_HOME/chatcli/mcp``."""

    def __init__(self) -> None:
        self.root = cache_dir() / "mcp"

    def prepare(self) -> bool:
        """Make the directory now (0700), before any command runs: the shell tool's sandbox keeps an
        existing one read-only, but could create a missing one and fill it. Whether it is private."""
        return _private(self.root.parent) and _private(self.root)

    def _path(self, key: str) -> Path:
        return self.root / f"{key[:40]}.json"

    def read(self, spec: ServerSpec) -> tuple[Listing, float] | None:
        """What ``spec``'s server offered when it was last listed, and when (epoch seconds); None if not known."""
        key = fingerprint(spec)
        path = self._path(key)
        try:
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_size > MAX_FILE:
                    return None
                data = json.loads(handle.read(MAX_FILE + 1))
            if not isinstance(data, dict) or data.get("version") != VERSION or data.get("key") != key:
                return None
            listed = data.get("listed_at")
            listing = Listing.from_json(spec.name, data.get("listing"))
        except (OSError, ValueError, RecursionError, Malformed):
            return None
        if time.time() - info.st_mtime > 86400:
            with contextlib.suppress(OSError):
                os.utime(path)  # in use: kept from pruning
        return listing, float(listed) if isinstance(listed, (int, float)) else info.st_mtime

    def keep(self, spec: ServerSpec, listing: Listing) -> None:
        """Keep ``listing`` as what ``spec``'s server offers (nothing if the directory is not private)."""
        key = fingerprint(spec)
        if not self.prepare():
            return
        data = {"version": VERSION, "key": key, "server": spec.name, "listed_at": time.time(), "listing": listing.data}
        with contextlib.suppress(OSError, ValueError):
            write_private(self._path(key), json.dumps(data, ensure_ascii=False))
            self._prune()

    def forget(self, spec: ServerSpec) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._path(fingerprint(spec)))

    def _prune(self) -> None:
        """Remove the files not used for KEEP_DAYS days (servers no longer configured, or configured otherwise)."""
        limit = time.time() - KEEP_DAYS * 86400
        with contextlib.suppress(OSError), os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.endswith((".json", ".tmp")) and entry.stat(follow_symlinks=False).st_mtime < limit:
                    os.unlink(entry.path)
