"""What chat's two daemons, the warm worker (chatcli.app.worker) and the MCP host (chatcli.tools.mcp.host), stand on.

Each is one process of the user's (and of one build of chat: ``build_id``), listening on a unix socket in
the user's private runtime directory (``runtime_dir``), started by the first caller that finds none:

- the framing: a message is one JSON object on one line (``frame``: what ``json.dumps`` writes, byte for byte), at
  most ``LIMIT`` bytes; ``send`` and ``receive`` on a blocking socket (descriptors may ride with a message's first
  bytes), ``StreamReader.readline`` with ``limit=LIMIT`` on an asyncio one;
- the peer's credentials, by the kernel's word: ``peer_credentials`` (the one SO_PEERCRED reader of chat; the
  confinement's pidfd is chatcli.tools.confinement.peer's) and ``same_user``;
- the start lock: ``start_lock`` (one caller starts a daemon at a time; another that finds it held waits for that
  start, or goes on without it) and ``spawn`` (``python -c 'from MODULE import boot; boot()'``, detached, in ``/``,
  its output to its log), which returns once the daemon says it listens;
- the socket file: ``Listening`` binds it where no caller sees it half made, 0600, and takes it away when the daemon
  retires only while it is still that daemon's (not a newer build's, bound since); it keeps the build it serves.

A one-shot's side runs before chat is imported, on the interpreter's C modules alone (``_json``, ``_socket``): the
standard library's ``json`` and ``socket`` (and ``array``, which imports ``collections``) would cost it more than the
rest of its work.
"""

from __future__ import annotations

import _json
import _socket
import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is

if TYPE_CHECKING:
    import subprocess
    from typing import Any, Mapping, Sequence


class suppress:
    """``contextlib.suppress`` without what contextlib imports (collections, functools): for a one-shot's side."""

    def __init__(self, *kinds: type[BaseException]) -> None:
        self.kinds = kinds

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, self.kinds)


def build_id() -> str:
    """What must match between a ``chat`` and a process of chat's that serves it (the warm worker, the MCP host):
    chat's version and code, this Python, and its packages (each site-packages directory's time: an install, an
    upgrade or a removal there changes it). A process whose build is no longer current retires."""
    from chatcli import __version__

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # chatcli/
    newest, todo = 0, [package]
    while todo:  # ~1 ms: the code changes (a checkout edited, a reinstall)
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                    todo.append(entry.path)
                elif entry.name.endswith((".py", ".json")):  # (provider_table.json: code as data)
                    newest = max(newest, entry.stat().st_mtime_ns)
    sites = []
    for place in sys.path:
        if place.endswith(("site-packages", "dist-packages")):
            with suppress(OSError):
                sites.append(f"{place}@{os.stat(place).st_mtime_ns}")
    return " ".join([__version__, package, str(newest), sys.executable, sys.version.split()[0], *sites])


def runtime_dir(environ: Mapping[str, str] = os.environ) -> str | None:
    """The user's private directory for chat's sockets, created if absent (0700, the user's own, not a
    link): ``$XDG_RUNTIME_DIR/chatcli`` when that directory is private, else ``$TMPDIR/chatcli-UID``;
    None when it is not safe to use. (The warm worker's rule: its socket lives there too.)"""
    uid = os.getuid()
    base = environ.get("XDG_RUNTIME_DIR") or ""
    private = os.path.isabs(base) and _private_dir(base)
    path = os.path.join(base, "chatcli") if private else os.path.join(environ.get("TMPDIR") or "/tmp", f"chatcli-{uid}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    return path if _private_dir(path) else None


def _private_dir(path: str) -> bool:
    """Whether ``path`` itself (not a link) is a directory of the user's that no one else may enter."""
    import stat

    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


LIMIT = 64 << 20  # bytes of one message (an MCP result may be up to 10 MB, as JSON; a call's whole environment)
START_TIMEOUT = 30.0  # a daemon imports what it serves with before it listens
_PEEK = 1 << 20
_RIGHTS = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS)


def _unencodable(value: object) -> None:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps' own encoder, as json.dumps sets it up (less the check for circles: a message is chat's own).
_encode = _json.make_encoder(None, _unencodable, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)


class _Reading:  # how json.loads reads (_json.make_scanner's settings; array_hook is Python 3.15's)
    strict, parse_float, parse_int, parse_constant = True, float, int, float
    object_hook = object_pairs_hook = array_hook = None


_scan = _json.make_scanner(_Reading)  # type: ignore[arg-type]


def frame(message: dict[str, Any]) -> bytes:
    """One message as it goes on the socket: JSON (ASCII, so every newline in it is escaped) and a newline."""
    return "".join(_encode(message, 0)).encode() + b"\n"


def send(sock: _socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    """One message; ``fds`` ride with its first bytes."""
    data = frame(message)
    sent = (
        sock.sendmsg([data], [(*_RIGHTS, b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds))])
        if fds
        else sock.send(data)
    )
    if sent < len(data):  # (an empty sendall could meet a peer that has answered and closed: EPIPE)
        sock.sendall(data[sent:])


def receive(sock: _socket.socket, max_fds: int = 0, limit: int = LIMIT) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message and the descriptors that came with it; (None, fds) at the end of the connection or past
    ``limit``; ValueError if it is not one JSON object (its descriptors closed). Nothing after the message's newline
    is read: what comes next is still the socket's (a poll sees it)."""
    chunks: list[bytes] = []
    fds: list[int] = []
    size = 0
    while True:
        ahead = sock.recv(_PEEK, _socket.MSG_PEEK)
        if not ahead:
            return None, fds
        end = ahead.find(b"\n")
        take = len(ahead) if end < 0 else end + 1
        if size + take > limit + 1:
            return None, fds
        if max_fds and not chunks:
            chunk, ancillary, _flags, _addr = sock.recvmsg(take, _socket.CMSG_LEN(max_fds * 4))
            fds = [fd for *kind, data in ancillary if tuple(kind) == _RIGHTS for fd in memoryview(data).cast("i")]
        else:
            chunk = sock.recv(take)
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            text, message, end = "", None, -1
            with suppress(StopIteration, ValueError, RecursionError):  # (StopIteration: no value where one starts)
                text = b"".join(chunks).decode()
                message, end = _scan(text, 0)
            if end != len(text) - 1 or not isinstance(message, dict):
                for fd in fds:
                    os.close(fd)
                raise ValueError("a message that is not one JSON object")
            return message, fds


def peer_credentials(sock: _socket.socket) -> tuple[int, int, int]:
    """The pid, user id and group id of the process at the other end of ``sock``, by the kernel's word (not the
    peer's): the process that connected, or the one that listened (pid 0: not visible from this pid namespace)."""
    pid, uid, gid = memoryview(sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)).cast("i")  # ucred
    return pid, uid, gid


def same_user(sock: _socket.socket) -> bool:
    """True when the process at the other end is this user's."""
    return peer_credentials(sock)[1] == os.getuid()


class start_lock:
    """The daemon's start lock at ``path``, held for the block (its descriptor); None when it cannot be opened (a
    directory this process may not write to) or, without ``wait``, another process holds it (starting the daemon)."""

    def __init__(self, path: str, wait: bool = True) -> None:
        self.path, self.wait, self.lock = path, wait, -1

    def __enter__(self) -> int | None:
        import fcntl

        with suppress(OSError):  # (flock's: another process is starting the daemon)
            self.lock = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            fcntl.flock(self.lock, fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self.lock
        return None

    def __exit__(self, *_exc: object) -> None:
        if self.lock >= 0:
            os.close(self.lock)


def spawn(
    module: str,
    args: Sequence[str],
    environ: dict[str, str],
    log: str,
    *,
    append: bool = False,
    pass_fds: Sequence[int] = (),
    wait: bool = True,
) -> bool:
    """Start ``module``'s ``boot()`` in a new session (``python -c``, ARGS its ``sys.argv[1:]``) with ``environ``
    alone, in ``/``, its output to ``log`` (this user's: 0600, not a link; kept and added to with ``append``).
    With ``wait``, whether it said it listens (its starting process exits 0 once its daemon listens) within
    ``START_TIMEOUT`` (else it is killed); without, True at once."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # The collector holds its rounds back while the daemon imports (chatcli.local.runtime); its boot says when done.
    begin = "from chatcli.local import runtime; runtime.begin()"
    code = f"import sys; sys.path.insert(0, {root!r}); {begin}; from {module} import boot; boot()"
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
    output = os.open(log, flags, 0o600)
    try:
        started = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            pass_fds=pass_fds,
            env=environ,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    finally:
        os.close(output)
    return _listens(started) if wait else True


def _listens(started: subprocess.Popen[bytes]) -> bool:
    import subprocess

    try:
        return started.wait(START_TIMEOUT) == 0
    except subprocess.TimeoutExpired:
        started.kill()
        started.wait()
        return False


class Listening:
    """A daemon's listening socket at ``path``, and the build of chat it serves (``build``: ``build_id``,
    as the daemon read it when it started)."""

    def __init__(self, path: str, build: str, backlog: int = 64) -> None:
        self.path = path
        import socket

        self.build = build  # what it runs from: a caller of another build, or a change of these files, retires it
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        fresh = f"{path}.{os.getpid()}"
        self.socket.bind(fresh)
        os.chmod(fresh, 0o600)
        self.socket.listen(backlog)
        os.replace(fresh, path)  # at once: a caller sees the old socket or this one, never none
        self.inode = os.lstat(path).st_ino

    def outdated(self) -> bool:
        """True once the files it runs from are not those it started from (chat's code changed, a library upgraded)."""
        return build_id() != self.build

    def unlink(self) -> None:
        """Take its socket file away, if it is still this daemon's (not a newer one's, bound since)."""
        with suppress(OSError):
            if os.lstat(self.path).st_ino == self.inode:
                os.unlink(self.path)
