"""Who may call ``chat serve``: the user's own token, and on loopback the kernel's word on the caller's uid.

Loopback is not private on a shared machine: every local user reaches 127.0.0.1. So a server on TCP
needs a token by default (as Jupyter's does): one is made at the first start into a 0600 file in
chat's private runtime directory (``serve-token``), where chat's own clients and the user's scripts
read it (``chat serve --show-token``). And whatever the token, a connection on loopback whose other
end belongs to another user is refused: Linux says who owns each TCP socket (chatcli.local.sockets).

A browser signs in to the page with a code instead (``/signin?code=...``, the link ``chat serve`` prints): signed with
the token for the server's port, good once and for ``CODE_SECONDS`` at that server only (the codes taken are kept
beside the token until they expire, so a restart does not take one again), exchanged for a session cookie signed with
the token too (so a new token ends every session). Neither is the token, nor gives it.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Callable, Mapping

from chatcli.errors import UsageError
from chatcli.paths import private_dir, write_private

TOKEN_NAME = "serve-token"
TAKEN_NAME = "serve-signins-taken.json"  # the sign-in codes taken, beside the token, until they expire
CODE_SECONDS = 300  # a sign-in link is good for five minutes, once
SESSION_SECONDS = 30 * 24 * 3600  # a browser stays signed in for thirty days
COOKIE = "chat_session"


def cookie_name(host: str) -> str:
    """The session cookie's name for a page reached as ``host`` (a request's Host): one per port, since a browser
    sends a host's cookies to every port of it, so that two servers on one machine do not sign each other out."""
    port = host.rpartition(":")[2] if not host.endswith("]") else ""
    return f"{COOKIE}_{port}" if port.isdigit() else COOKIE


def token_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where this user's token for ``chat serve`` lives: chat's private runtime directory (a shell command's
    sandbox does not see it), else chat's config directory."""
    from chatcli.local.daemon import runtime_dir
    from chatcli.paths import config_dir

    private = runtime_dir(environ)
    return (Path(private) if private is not None else config_dir(environ)) / TOKEN_NAME


def own_token(environ: Mapping[str, str] = os.environ) -> tuple[str, Path]:
    """This user's token and its file, made (0600, never through a link) if there is none yet.

    A file another user owns, or that others may read or write, is refused: its token is not secret.
    """
    path = token_path(environ)
    for _ in range(2):  # a second server may make it at the same moment: then it is read
        with contextlib.suppress(FileNotFoundError):
            return _read(path), path
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
    again = f"remove it (rm {path}); the next start makes a new one"
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UsageError(f"{path} is not a private file of yours: its token may be known to others", hint=again)
    if not token or any(c.isspace() for c in token):
        raise UsageError(f"{path} holds no token", hint=again)
    return token


def _signature(token: str, purpose: str, body: str) -> str:
    return hmac.new(token.encode(), f"{purpose}:{body}".encode(), "sha256").hexdigest()[:32]


def signed(token: str, purpose: str, seconds: int, now: float | None = None) -> str:
    """A value good until ``seconds`` from ``now`` for ``purpose`` ("code", a sign-in link's; "session", a cookie's)."""
    body = f"{secrets.token_urlsafe(12)}.{int((time.time() if now is None else now) + seconds)}"
    return f"{body}.{_signature(token, purpose, body)}"


def expiry(token: str, purpose: str, value: str, now: float) -> int | None:
    """When ``value`` (made by ``signed``) stops being good; None when it is not, or no longer."""
    body, _, signature = value.rpartition(".")
    ends = body.rpartition(".")[2]
    if not ends.isdigit() or not hmac.compare_digest(signature.encode(), _signature(token, purpose, body).encode()):
        return None
    return int(ends) if now < int(ends) else None


def sign_in_code(token: str, port: int | None, now: float | None = None) -> str:
    """A sign-in link's code for the server on ``port``: good there only, once, for CODE_SECONDS."""
    return signed(token, f"code:{port}", CODE_SECONDS, now)


class SignIns:
    """The sign-in codes the servers of this token have taken, each good once (``kept``: the file they are kept in
    across restarts, none for this process only; ``clock``: the time, for the tests)."""

    def __init__(self, token: str, kept: Path | None = None, clock: Callable[[], float] = time.time):
        self.token, self.kept, self.clock = token, kept, clock
        self.taken: dict[str, int] = {}  # the codes taken, until they would have expired anyway

    def take(self, code: str, port: int | None) -> bool:
        """True once for a good code of the server on ``port``: the browser may then have a session."""
        now, kept = self.clock(), {}
        self.taken = {known: end for known, end in self.taken.items() if end > now}
        ends = expiry(self.token, f"code:{port}", code, now)
        if ends is None or ends > now + CODE_SECONDS:
            return False
        with contextlib.suppress(OSError, ValueError, AttributeError):  # no file, or one that cannot be read: none
            if self.kept is not None:
                kept = {str(k): int(v) for k, v in json.loads(self.kept.read_text(encoding="utf-8")).items()}
        self.taken = {known: end for known, end in {**self.taken, **kept}.items() if end > now}
        if code in self.taken:
            return False
        self.taken[code] = ends
        if self.kept is not None:  # (a file that cannot be written: this process still refuses it again)
            with contextlib.suppress(OSError):
                write_private(self.kept, json.dumps(self.taken))
        return True
