"""mcp.json's entry for one of the test MCP servers of tests/mcp/, started warm.

A server written with FastMCP spends half a second of CPU importing its SDK before it answers, and the suite starts
hundreds: ``stdio(script, ...)`` gives the entry that starts it forked from a process of this test worker that has
imported the SDK once (tests/mcp/warm.py: the same script, pipes, environment, folder, signals and exit code; the
server ends when chat stops its command); ``argv(script, ...)`` is its command line, for a test that starts a server
itself. ``warm=False`` gives ``python SCRIPT`` itself, for a test about the server's
process. A script that imports no SDK (the servers written on tests/mcp/lines.py) starts as itself: it is quick.
``chat_argv(CHAT, ...)`` is the same for the installed ``chat`` (the tests' ``chat serve`` and ``chat acp`` processes).
A test not about the server's process or transport takes the fixture ``in_memory``: no process at all.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest

MCP = Path(__file__).resolve().parent / "mcp"
WARM = MCP / "warm.py"
_started: dict[str, str] = {}  # era -> the socket of this process's warm server of that era


def era_of(script: Path, env: dict[str, str]) -> str | None:
    """The SDK a script runs on in ``env``: "2025" (mcp 1.x, ``import legacy``; a script of both eras, such as
    bars.py, is of 2026 with ``MCP_ERA=2026``), "2026" (mcp 2.x), None (neither)."""
    text = script.read_text()
    if "import legacy" in text:
        return "2026" if "MCP_ERA" in text and env.get("MCP_ERA") == "2026" else "2025"
    return "2026" if "from mcp" in text or "import mcp" in text else None


def warm_socket(era: str) -> str:
    """The socket of this test process's warm process of ``era`` (an SDK's, or "chat"), started at the first ask."""
    if era in _started:
        return _started[era]
    folder = tempfile.mkdtemp(prefix="chatcli-warm-")
    path = os.path.join(folder, f"{era}.sock")
    # It reads no test's environment (each child is given its launcher's whole), but starts Python as this worker's
    # processes do: the same locale (UTF-8 mode or not), buffering, warnings, hash seed.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": folder, "TMPDIR": os.environ.get("TMPDIR", "/tmp")}
    env.update({k: v for k, v in os.environ.items() if k.startswith(("LANG", "LC_", "PYTHON"))})
    process = subprocess.Popen(
        [sys.executable, str(WARM), "--serve", path, era],
        stdin=subprocess.PIPE,  # never written: it ends when this process does, and the warm server with it
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the warm MCP server of {era} did not start")

    def stop() -> None:
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    _started[era] = path
    return path


def argv(script: Path | str, *args: str, env: dict[str, str] | None = None, warm: bool = True) -> list[str]:
    """The command line of ``python SCRIPT ARGS...`` in ``env`` (what decides the era of a script of both)."""
    script = Path(script)
    era = era_of(script, env or {}) if warm else None
    if era is None:
        return [sys.executable, str(script), *args]
    return [sys.executable, "-S", str(WARM), warm_socket(era), str(script), *args]


def chat_argv(chat: Path | str, *args: str) -> list[str]:
    """The command line of the installed ``chat ARGS`` (``chat``, its path) started warm: forked from a process of this
    test worker that imported chat once, run as chat's warm worker runs a call (tests/mcp/warm.py). For the tests'
    ``chat serve`` and ``chat acp`` processes, whose pipes, sockets, signals and exit are what they test, not chat's
    start; a test about the start, or about the process's own identity, runs ``chat`` itself."""
    return [sys.executable, "-S", str(WARM), warm_socket("chat"), str(chat), *args]


def stdio(script: Path | str, *args: str, warm: bool = True, **extra: Any) -> dict[str, Any]:
    """mcp.json's entry for ``python SCRIPT ARGS...`` (with ``env``, ``cwd``, ... as given)."""
    command, *rest = argv(script, *args, env=extra.get("env"), warm=warm)
    return {"command": command, "args": rest, **extra}


def script_of(command: str | None, args: tuple[str, ...] | list[str]) -> tuple[Path, list[str]] | None:
    """The test server script an mcp.json command runs (``stdio``'s, warm or not) and its arguments; None for others."""
    line = [command or "", *args]
    found = [
        i for i, word in enumerate(line) if word.endswith(".py") and Path(word).parent == MCP and word != str(WARM)
    ]
    return (Path(line[found[0]]), line[found[0] + 1 :]) if found else None


def made(script: Path, args: list[str], env: dict[str, str]) -> Any:
    """A fresh server of ``script`` (of mcp 2.x) made in this process, as a process of it would start: its module run
    anew in ``env`` (which the caller has put in os.environ), with what a start of it writes (``BARS_STARTS``)."""
    import runpy

    argv, sys.argv = sys.argv, [str(script), *args]
    try:
        found = runpy.run_path(str(script), run_name="in_memory")["server"]
    finally:
        sys.argv = argv
    if env.get("BARS_STARTS"):
        with open(env["BARS_STARTS"], "a") as marks:
            marks.write(f"{os.getpid()}\n")
    return found


def by_lines(script: Path) -> bool:
    """Whether ``script`` is a hand-written server of tests/mcp/lines.py (no SDK)."""
    return "from lines import" in script.read_text()


@contextlib.asynccontextmanager
async def on_a_thread(script: Path, args: list[str]) -> AsyncIterator[tuple[Any, Any]]:
    """The (read, write) streams of a fresh server of ``script`` (tests/mcp/lines.py's) run on a thread of this
    process, as a process of it would run: its module run anew, reading its requests as lines of its stdin and writing
    its messages as lines of its stdout, both that thread's own (lines.HERE); it ends when its stdin does."""
    import queue
    import runpy

    import anyio
    import anyio.from_thread
    import anyio.to_thread
    import lines
    from mcp.shared.message import SessionMessage
    from mcp.types import jsonrpc_message_adapter

    read_send, read_stream = anyio.create_memory_object_stream[Any](float("inf"))  # a write never waits for chat
    write_stream, write_receive = anyio.create_memory_object_stream[Any](0)
    stdin: queue.Queue[str | None] = queue.Queue()

    class Stdout:
        def write(self, line: str) -> None:
            message = SessionMessage(jsonrpc_message_adapter.validate_json(line, by_name=False))
            try:
                anyio.from_thread.run_sync(read_send.send_nowait, message)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, RuntimeError):
                pass  # chat has gone (it gave up, as on a listing refused): what comes is nobody's

        def flush(self) -> None:
            pass

    def run() -> None:
        lines.HERE.stdin, lines.HERE.stdout, lines.HERE.argv = iter(stdin.get, None), Stdout(), args
        try:
            runpy.run_path(str(script), run_name=f"here_{script.stem}")
        finally:
            del lines.HERE.stdin, lines.HERE.stdout, lines.HERE.argv

    async def write_stdin() -> None:
        async with write_receive:
            async for message in write_receive:
                stdin.put(message.message.model_dump_json(by_alias=True, exclude_unset=True))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(write_stdin)
        tasks.start_soon(lambda: anyio.to_thread.run_sync(run, abandon_on_cancel=True))
        try:
            yield read_stream, write_stream
        finally:
            stdin.put(None)  # its stdin ends: the loop of lines.py ends with it
            for stream in (read_stream, write_stream, read_send, write_receive):
                await stream.aclose()


class OverHttp:
    """The ASGI app ``make(port)`` gives (a test server's) served by uvicorn on a thread of this process, on 127.0.0.1
    at ``port`` (0: one the system gives), its socket bound before the app is made (its URLs may name the port);
    ``stop()`` ends it. HTTP as a server process speaks it, without the process."""

    def __init__(self, make: Callable[[int], Any], port: int = 0):
        import socket
        import threading

        import uvicorn

        from tests.helpers import eventually

        listening = socket.socket()
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port served again (a server restarted)
        listening.bind(("127.0.0.1", port))
        listening.listen(64)
        self.port = listening.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(make(self.port), log_level="warning", log_config=None))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [listening]}, daemon=True)
        self.thread.start()
        eventually(lambda: self.server.started or not self.thread.is_alive(), "the server to listen")
        assert self.server.started, "the server did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def http_here(script: Path, monkeypatch: pytest.MonkeyPatch, port: int = 0, **env: str) -> OverHttp:
    """A fresh server of ``script`` (of mcp 2.x: ``made``) served over streamable HTTP from a thread of this process
    (``OverHttp``): its URL is ``http://127.0.0.1:PORT/mcp``. ``env``: its variables, this process's for the test."""
    env = {"MCP_ERA": "2026", **env}
    monkeypatch.syspath_prepend(str(MCP))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return OverHttp(lambda _: made(script, [], env).streamable_http_app(host="127.0.0.1"), port)


@pytest.fixture
def in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this test, each test server of mcp 2.x that an mcp.json or an editor's session names (``stdio(script, ...)``)
    is made in this process and connected over the SDK's in-memory transport (ServerSpec.in_memory): the same tools
    and questions, no process; a hand-written one of tests/mcp/lines.py runs on a thread of this process
    (``on_a_thread``), its JSON-RPC lines passed in memory. A script of both eras (bars.py) is taken as of 2026; one
    of mcp 1.x only stays a process. Its environment is this process's for the test (a server reads its variables as
    it runs)."""
    from dataclasses import replace

    from chatcli.tools.mcp import config

    monkeypatch.syspath_prepend(str(MCP))
    parse, real_argv = config.parse_servers, argv

    def here(script: Path | str, *args: str, env: dict[str, str] | None = None, warm: bool = True) -> list[str]:
        if era_of(Path(script), {**(env or {}), "MCP_ERA": "2026"}) == "2026":
            return [sys.executable, str(script), *args]  # never run: made in memory
        return real_argv(script, *args, env=env, warm=warm)

    def servers(data: Any, source: str) -> list[Any]:
        specs = parse(data, source)
        for number, spec in enumerate(specs):
            found = script_of(spec.command, spec.args)
            env = {"MCP_ERA": "2026", **spec.env}
            if found is None or (era_of(found[0], env) != "2026" and not by_lines(found[0])):
                continue
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            script, args = found
            if by_lines(script):
                specs[number] = replace(spec, in_memory=lambda s=script, a=args: on_a_thread(s, a))
            else:
                specs[number] = replace(spec, in_memory=lambda s=script, a=args, e=env: made(s, a, e))
        return specs

    monkeypatch.setattr(config, "parse_servers", servers)
    monkeypatch.setattr(sys.modules[__name__], "argv", here)


def here_if_cold(door: Any, request: pytest.FixtureRequest) -> None:
    """At the ``cold`` door (chat in this process), the test's servers of mcp 2.x in memory (``in_memory``); at a door
    of the MCP host (tests/matrix.py), processes of the host's."""
    if door.name == "cold":
        request.getfixturevalue("in_memory")
