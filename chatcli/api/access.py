"""Who may call ``chat serve``: the user's own token, and on loopback the kernel's word on the caller's uid.

Loopback is not private on a shared machine: every local user reaches 127.0.0.1. So a server on TCP
needs a token by default (as Jupyter's does): one is made at the first start into a 0600 file in
chat's private runtime directory (``serve-token``), where chat's own clients and the user's scripts
read it (``chat serve --show-token``). And whatever the token, a connection on loopback whose other
end belongs to another user is refused: Linux says who owns each TCP socket in /proc/net/tcp.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import stat
import struct
from pathlib import Path
from typing import Mapping

from chatcli.errors import UsageError

TOKEN_NAME = "serve-token"
# The kernel's tables of TCP sockets; each line names a socket's two ends, its state and its owner's uid.
PROC_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
TIME_WAIT = "06"  # a socket closed on this side: the kernel no longer knows its owner (it shows uid 0)


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
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def peer_uid(client: tuple[str, int], server_port: int, tables: tuple[str, ...] = PROC_TABLES) -> int | None:
    """The uid owning the other end of a loopback TCP connection from ``client`` to ``server_port``.

    None when the system does not say (no /proc/net/tcp: not Linux); -1 when it could have and did
    not (no such socket: the caller is gone, or hides in a way the kernel does not list).
    """
    host, port = client
    read = False
    for table in tables:
        try:
            with open(table, encoding="ascii", errors="replace") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        read = True
        for line in lines:
            fields = line.split()
            if len(fields) < 8 or fields[3] == TIME_WAIT:
                continue
            local, remote = _end(fields[1]), _end(fields[2])
            if local is None or remote is None or local[1] != port or remote[1] != server_port:
                continue
            if _same_address(local[0], host) and fields[7].isdigit():
                return int(fields[7])
    return -1 if read else None


def _end(field: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int] | None:
    """One end as /proc/net/tcp writes it: the address as native-order 32-bit words in hex, then the port."""
    address, _, port = field.partition(":")
    try:
        words = [int(address[i : i + 8], 16) for i in range(0, len(address), 8)]
        packed = b"".join(struct.pack("=I", word) for word in words)
        return ipaddress.ip_address(packed), int(port, 16)
    except (ValueError, struct.error):
        return None


def _same_address(listed: ipaddress.IPv4Address | ipaddress.IPv6Address, host: str) -> bool:
    try:
        given = ipaddress.ip_address(host)
    except ValueError:
        return False
    return _plain(listed) == _plain(given)


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """IPv4 written as IPv6 (::ffff:127.0.0.1, as a dual-stack socket sees it) as plain IPv4."""
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address
