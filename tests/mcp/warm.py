"""The test MCP servers of this folder started warm: a server process forked from one that has its SDK imported.

A FastMCP server spends half a second of CPU importing the MCP SDK before it reads a line, and the suite starts
hundreds. ``python warm.py --serve SOCKET ERA`` imports the SDK of ``ERA`` once ("2025": mcp 1.x through
``legacy``, "2026": mcp 2.x) and listens on the Unix socket ``SOCKET``; ``python -S warm.py SOCKET SCRIPT ARGS...``
is the command chat starts in the server's place: it hands its stdin, stdout and stderr, its environment, working
directory and arguments to the warm process, which forks and runs ``SCRIPT`` as ``python SCRIPT ARGS...`` would, in
those. The command exits with the server's exit code, or ends of the signal that ended it (the warm process forks a
child that forks the server, waits for it and says how it ended); when the command is stopped (chat ends the server's
process group) the server it started ends with it, as it watches the command's end of the socket. What chat sees of its server is
the same pipes, environment and lines; only the process that holds them is another (tests about the server's own
process start it the normal way: tests/mcp_servers.py).

The era "chat" is the installed ``chat`` itself, for the tests' ``chat`` processes (one costs about a second of CPU,
most of it imports, and the suite starts hundreds): the warm process imports what chat's own warm worker does
(``chatcli.app.worker.server.warm_up``) and the serve, editor and prompt doors', and its child runs ``chat ARGS`` as
the worker's child does (``chatcli.app.worker.child``: a process group of its own, chat's atexit work, its exit
code). A test may also ask it directly (``start``), without a launcher: for ``chat`` in a pseudo-terminal, in a
session of its own that the terminal is the controlling terminal of (tests/helpers.Repl), and for a background reply
(``job_launcher``: chatcli.service.jobs's launcher in the tests, and in the warm process's own children).

The warm process reaps what it forks (each server's parent, which reaps the server): their CPU counts as the test
worker's children's, as a process of their own would.
"""

import array
import json
import os
import socket
import sys
from typing import Any, Callable, Mapping


def launch(path: str, script: str, args: list[str]) -> int:
    """Hand this process's stdio, environment and arguments to the warm server at ``path``; its exit code.

    A stop sent to this process (SIGTERM, SIGINT, SIGHUP) is sent on to the server, and this process ends when the
    server has, as the server's own process would: whoever stops it and waits finds the server gone.
    """
    import signal

    conn, pid = start(path, [script, *args], dict(os.environ), os.getcwd(), [0, 1, 2])
    for fd in (0, 1, 2):  # the server holds them now: its stdout ends when it does
        os.close(fd)
    sent: list[int] = []

    told: bytes | None = None

    def forward(signum: int, _frame: object) -> None:
        if told is not None:  # it has ended (and may be reaped): nothing to pass on
            return
        sent.append(signum)
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    if pid:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, forward)
    told = ended(conn)  # this process outlives it by nothing
    if told is not None:
        code = told
    else:  # its process was killed before it could tell (and the server with it, which watches the socket)
        code = -sent[-1] if sent else 1
    if code < 0:  # the server ended of a signal: so does this process
        if -code != signal.SIGKILL:
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code if code >= 0 else 1


def start(
    path: str,
    argv: list[str],
    env: Mapping[str, str],
    cwd: str,
    fds: list[int],
    session: str | None = None,
    detached: bool = False,
) -> tuple[socket.socket, int]:
    """Ask the warm server at ``path`` for ``argv`` in ``env`` and ``cwd`` on ``fds`` (its stdin, stdout, stderr).
    ``session``: "own", a session of its own; "terminal", one its pseudo-terminal (``fds``) is the controlling
    terminal of, as a terminal's shell starts a program. ``detached``: it goes on when the connection closes. The
    connection (where its exit code comes: ``ended``) and its pid."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    asked = json.dumps({"argv": argv, "env": dict(env), "cwd": cwd, "session": session, "detached": detached})
    asked = asked.encode()
    conn.sendmsg(
        [len(asked).to_bytes(4, "big") + asked], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
    )
    return conn, int.from_bytes(_exactly(conn, 4) or b"\0\0\0\0", "big")


def ended(conn: socket.socket) -> int | None:
    """The exit code of the process ``start`` gave ``conn`` for (a signal's as Popen says it: negative), once it has
    ended and been reaped; None if the warm server went away first."""
    told = _exactly(conn, 4)
    if told is None:
        return None
    _exactly(conn, 1)  # its end of the socket closes as it exits
    return int.from_bytes(told, "big", signed=True)


def _exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            piece = conn.recv(size - len(data))
        except InterruptedError:
            continue
        if not piece:
            return None
        data += piece
    return data


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds = b"", []
    try:
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
            piece, ancillary, _flags, _addr = conn.recvmsg(1 << 16, socket.CMSG_SPACE(3 * array.array("i").itemsize))
            for level, kind, raw in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    given = array.array("i")
                    given.frombytes(raw[: len(raw) - (len(raw) % given.itemsize)])
                    fds.extend(given)
            if not piece:
                raise EOFError
            data += piece
        return json.loads(data[4:]), fds
    except BaseException:
        for fd in fds:  # a server's pipe ends: held here, its stdout would never end
            os.close(fd)
        raise


def _run(conn: socket.socket, asked: dict, fds: list[int], chat: bool) -> None:
    """In the forked child: fork the process that becomes ``python SCRIPT ARGS...``, tell the launcher its pid (where
    its signals go), wait for it, and tell the launcher how it ended: its exit code, or the signal that ended it (as a
    negative number), however it ended."""
    code = 1
    try:
        server = os.fork()
        if server == 0:
            _serve_one(conn, asked, fds, chat)
        for fd in fds:  # the server's now: its output ends when it does
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # nor are the warm process's own pipes held for the server's life
            os.dup2(null, fd)
        os.close(null)
        conn.sendall(server.to_bytes(4, "big"))
        code = os.waitstatus_to_exitcode(os.waitpid(server, 0)[1])  # reaped here: gone once the launcher is told
    finally:
        try:
            conn.sendall(code.to_bytes(4, "big", signed=True))
        finally:
            os._exit(0)


def _serve_one(conn: socket.socket, asked: dict, fds: list[int], chat: bool) -> None:
    """In the server's process: become ``python SCRIPT ARGS...`` in the launcher's stdio, environment and folder."""
    code = 1
    try:
        code = _become(conn, asked, fds, chat)
    except BaseException:  # before the script ran (its folder gone, the launcher gone): said where its stderr goes
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _become(conn: socket.socket, asked: dict, fds: list[int], chat: bool) -> int:
    """``chat``: the installed chat is what runs (the era "chat"), not a script: its command line, or a background
    reply's process (``-m chatcli.app.background``)."""
    import runpy
    import threading

    if chat:
        import atexit
        import signal

        atexit._clear()  # the warm process's, as chat's own worker's child clears them (chat's own are made anew)
        # Ctrl-C raises KeyboardInterrupt, as in chat started from a shell's prompt and in the worker's child, even
        # where the suite itself was started with SIGINT ignored (in the background of a script: the warm process
        # inherits that, and a test's Ctrl-C would never arrive).
        signal.signal(signal.SIGINT, signal.default_int_handler)
    session = asked.get("session")
    if session:
        os.setsid()  # a session of its own ("own"), or one its terminal is the controlling terminal of ("terminal")
    elif chat:
        os.setpgid(0, 0)  # as chat started by its test is a process of its own, not one of the warm process's group
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
    for fd in set(fds):
        os.close(fd)
    if session == "terminal":
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    _streams()
    os.environ.clear()
    os.environ.update(asked["env"])
    os.chdir(asked["cwd"])
    sys.argv = list(asked["argv"])
    folder = os.path.dirname(os.path.abspath(sys.argv[0]))
    if folder not in sys.path:  # (this folder is there, after the SDK overlay ``legacy`` put first)
        sys.path.insert(0, folder)

    def watch() -> None:  # the launcher was stopped: so is its server
        try:
            conn.recv(1)
        except OSError:  # killed before it read the pid it was sent: its end is reset rather than closed
            pass
        os._exit(1)

    if not asked.get("detached"):
        threading.Thread(target=watch, daemon=True).start()
    if chat:
        import time

        from chatcli.app.worker.child import run_as_process

        time.tzset()
        if sys.argv[:2] == ["-m", "chatcli.app.background"]:
            from chatcli.app.background import main

            sys.argv = [sys.executable, *sys.argv[2:]]
            return _exit_code(main)
        return run_as_process(sys.argv[1:], lambda _status: None)
    return _exit_code(lambda: runpy.run_path(sys.argv[0], run_name="__main__"))


def _exit_code(run: Callable[[], object]) -> int:
    """Run ``run`` as Python runs a program, and return the exit code it ends with."""
    import signal

    try:
        code = run()
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)  # sys.exit("message"), as Python says it
        return 1
    except KeyboardInterrupt:  # ended by SIGINT, as python SCRIPT is: the launcher then ends of it too
        sys.stdout.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        import traceback

        traceback.print_exc()
        return 1
    return code if isinstance(code, int) else 0


def _streams() -> None:
    """Standard streams on the descriptors just given, as Python's start-up makes them: the encoding, and the
    buffering of a terminal or not (the warm process's were made for its own pipes)."""
    import io

    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        template = getattr(sys, name)
        raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
        stream = io.TextIOWrapper(
            io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw),
            encoding=template.encoding,
            errors=template.errors,
            line_buffering=fd == 2 or (fd == 1 and os.isatty(1)),
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def job_launcher(path: Callable[[], str]) -> Callable[..., int]:
    """chatcli.service.jobs.in_a_process, forked from the warm process of chat at ``path()``: a background reply's
    process in a session of its own, with its spec, output, variables and folder, which outlives what started it."""

    def launch(spec: Any, out: Any, err: Any, environ: Mapping[str, str], cwd: Any) -> int:
        files = [spec.fileno(), out.fileno(), err.fileno()]
        argv = ["-m", "chatcli.app.background"]
        conn, pid = start(path(), argv, environ, str(cwd), files, session="own", detached=True)
        conn.close()
        return pid

    return launch


def serve(path: str, era: str) -> None:
    """Import ``era``'s SDK, listen on ``path`` and fork a server for each launcher that connects."""
    import select
    import signal

    if era == "chat":
        del sys.path[0]  # this folder: chat's own path is the installed one's (its script's folder, then the venv's)
        _import_chat()
        from chatcli.service.jobs import LAUNCHER

        LAUNCHER.set(job_launcher(lambda: path))  # its children's background replies are forked from here too
    else:
        _import_sdk(era)

    def reap(_signum: int, _frame: object) -> None:
        """Reap the servers' parents as they end: what they and their server used counts as this process's
        children's, and so as the test worker's that waits for it (ignored, SIGCHLD would leave it uncounted)."""
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass

    signal.signal(signal.SIGCHLD, reap)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    while True:
        # Its stdin is a pipe from the test worker that started it, never written: readable (at its end) once that
        # worker is gone, however it went, and this process goes with it.
        readable, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in readable:
            return
        conn, _addr = listener.accept()
        try:
            asked, fds = _receive(conn)
        except (EOFError, OSError, ValueError):
            conn.close()
            continue
        try:
            child = os.fork()
        except OSError:
            child = -1  # no server: the launcher's socket closes, and it exits 1
        if child == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _run(conn, asked, fds, era == "chat")
        for fd in fds:
            os.close(fd)
        conn.close()


def _import_sdk(era: str) -> None:
    """The MCP SDK of ``era``, with what a FastMCP server imports of it."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if era == "2025":
        import legacy  # noqa: F401 - mcp 1.x first on sys.path
        import mcp.server.fastmcp  # noqa: F401
    else:
        import mcp.server.mcpserver  # noqa: F401
        import mcp_types  # noqa: F401
    import anyio  # noqa: F401
    import mcp.server.stdio  # noqa: F401
    import pydantic  # noqa: F401


def _import_chat() -> None:
    """What chat's warm worker imports, then what ``chat serve``, ``chat acp``, the prompt and a background reply add
    to it."""
    import importlib

    from chatcli.app.worker.server import warm_up

    warm_up()
    for name in ("chatcli.app.serve_commands", "chatcli.api.server", "uvicorn", "chatcli.app.acp_commands",
                 "chatcli.editor.agent", "acp", "chatcli.ui.prompt", "chatcli.ui.prompt_session",
                 "chatcli.app.background"):  # fmt: skip
        importlib.import_module(name)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        sys.exit(launch(sys.argv[1], sys.argv[2], sys.argv[3:]))
