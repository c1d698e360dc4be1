"""Who may call ``chat serve``: the user's own token, and on loopback the kernel's word on the caller's uid.

Loopback is not private on a shared machine: every local user reaches 127.0.0.1. So a server on TCP
needs a token by default (as Jupyter's does): one is made at the first start into a 0600 file in
chat's private runtime directory (``serve-token``), where chat's own clients and the user's scripts
read it (``chat serve --show-token``). And whatever the token, a connection on loopback whose other
end belongs to another user is refused: Linux says who owns each TCP socket (chatcli.local.sockets).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Mapping

from chatcli.errors import UsageError
from chatcli.paths import private_dir

TOKEN_NAME = "serve-token"


def token_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where this user's token for ``chat serve`` lives: chat's private runtime directory (a shell command's
    sandbox does not see it), else chat's config directory."""
    from chatcli.paths import config_dir, runtime_dir

    private = runtime_dir(environ)
    return (private if private is not None else config_dir(environ)) / TOKEN_NAME


def own_token(environ: Mapping[str, str] = os.environ) -> tuple[str, Path]:
    """This user's token and its file, made (0600, never through a link) if there is none yet.

    A file another user owns, or that others may read or write, is refused: its token is not secret.
    """
    path = token_path(environ)
    for _ in range(2):  # a second server may make it at the same moment: then it is read
        try:
            return _read(path), path
        except FileNotFoundError:
            pass
        private_dir(path.parent)
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(
                f"cannot keep the token in {path}: {exc.strerror}", hint="give --token-file PATH"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        return token, path
    return _read(path), path


def _read(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot read the token in {path}: {exc.strerror}", hint=f"remove {path}") from None
    with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
        info = os.fstat(handle.fileno())
        token = handle.read(4096).strip()
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UsageError(
            f"{path} is not a private file of yours: its token may be known to others",
            hint=f"remove it (rm {path}); the next start makes a new one",
        )
    if not token or any(c.isspace() for c in token):
        raise UsageError(f"{path} holds no token", hint=f"remove it (rm {path}); the next start makes a new one")
    return token
