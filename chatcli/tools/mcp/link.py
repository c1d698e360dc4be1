"""A one-shot's way to its MCP servers through the user's MCP host (chatcli.tools.mcp.host), started if need be.

``HostLink.session`` stands in for ``mcp.ClientSession`` (the methods chatcli.tools.mcp.server uses):
the server is the host's, started by the first caller that needs it and kept for the next
ones. The configuration sent is the one the server would run with here: mcp.json's
environment over the variables an MCP client passes on (PATH, HOME ...), and this working
directory when mcp.json names none; and with it, whom the host acts for: this run's data
directory, whose logins' tokens the host's connection uses. The host is this build's
(chatcli.local.daemon.build_id) and runs with this run's way of loading Python and this run's proxies
and certificates (``host_environment``): its socket is named by both, so a caller of another
build, or with another environment of that kind, never reaches it and starts a host of its own.
Nothing of the ``mcp`` package is imported on this side (its types alone take a quarter of a
second): answers are read as plain objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
from dataclasses import asdict, replace
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Mapping

from chatcli.local.daemon import LIMIT, START_TIMEOUT, build_id, frame, receive, runtime_dir, send, spawn, start_lock
from chatcli.paths import data_dir
from chatcli.tools.asking import Ask

if TYPE_CHECKING:
    from chatcli.tools.mcp.calls import Progress
    from chatcli.tools.mcp.transport import Connection

Channel = tuple[asyncio.StreamReader, asyncio.StreamWriter]

LOG, LOCK = "mcp-host.log", "mcp-host.lock"
# What an MCP client passes on to a stdio server of its own environment (mcp.client.stdio's list, on POSIX).
INHERITED = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
# What a caller reads of a server besides its calls, by McpServer's methods (and their arguments) of these names.
READS = ("get_prompt", "read_resource", "complete")


class McpError(Exception):
    """The server answered a request with an error (as mcp's own McpError, by name)."""


class Answer(SimpleNamespace):
    """A JSON object of the protocol as attributes (a field it lacks reads as None), lists and objects within too."""

    def __getattr__(self, name: str) -> Any:
        return None


def answer(value: Any) -> Any:
    if isinstance(value, dict):
        return Answer(**{str(k): answer(v) for k, v in value.items()})
    if isinstance(value, list):
        return [answer(v) for v in value]
    return value


# What an HTTP client (httpx) reads of the environment when it is made: the proxies, the certificates it trusts (and
# urllib's REQUEST_METHOD, under which HTTP_PROXY is not taken).
HTTP_ENV = "http_proxy https_proxy all_proxy no_proxy ssl_cert_file ssl_cert_dir request_method".split()


def host_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What the host starts with of a caller's environment, and is named by: what decides how Python and its
    libraries load (``PYTHON*``, ``LANG``, ``LC_*``, ``TZ``), and where and how its HTTP clients connect."""
    return {k: env[k] for k in env if k in ("LANG", "TZ") or k.startswith(("LC_", "PYTHON")) or k.lower() in HTTP_ENV}


_build = lru_cache(maxsize=1)(build_id)  # (a walk of chat's files: once a process)


def host_socket(environ: Mapping[str, str]) -> str:
    """The name of the host's socket for this build of chat and this environment (``host_environment``)."""
    whole = json.dumps([_build(), sorted(host_environment(environ).items())])
    return f"mcp-{hashlib.sha256(whole.encode()).hexdigest()[:12]}.sock"


def _start(directory: Path, path: Path, idle: float, environ: Mapping[str, str]) -> None:
    """Start the host (one caller at a time) and return once it listens (or it failed); a host of a build that is
    no longer current (chat's code or a library changed since it started) then retires."""
    with start_lock(str(directory / LOCK)) as lock:
        if lock is None:
            raise ConnectionError("cannot take the MCP host's start lock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe, contextlib.suppress(OSError):
            probe.connect(str(path))
            return  # another caller started it meanwhile
        with contextlib.suppress(OSError):
            path.unlink()  # left by a host that is gone
        args = [str(path), str(idle)]  # (it exits once its host listens)
        spawn("chatcli.tools.mcp.host", args, host_environment(environ), str(directory / LOG), append=True)
    host_control("check", environ)  # an upgrade's old host learns it now, not at its next look


class HostSession:
    """The server of ``connection`` (its spec, log and notes) of the host at the other end of ``channel`` (from
    ``HostLink.connect``), as ``mcp.ClientSession`` offers it (the methods chat uses), while entered; ``elicit``
    answers the server's questions to the user (none: declined)."""

    def __init__(self, connection: Connection, channel: Channel, on_exit: Callable[[], None], elicit: Ask | None):
        spec, log_dir, environ = connection.spec, connection.log_dir, connection.link.environ

        # The variables a stdio server gets from this process's environment (shell functions left out).
        passed = {k: v for k, v in environ.items() if k in INHERITED and not v.startswith("()")}
        self._spec = {  # with mcp.json's oauth (a client registered by hand: the host signs in as it, the caller's)
            **asdict(replace(spec, in_memory=None)),
            "type": "sse" if spec.sse else None,
            "cwd": (spec.cwd or os.getcwd()) if spec.command else None,
            "env": {**passed, **spec.env} if spec.command else {},
        }
        # whom it is for: its data directory, whose logins' tokens the host uses, and where its log goes
        self._caller = {"data_dir": str(data_dir(environ)), "log_dir": str(log_dir) if log_dir else None}
        self._reader, self._writer = channel
        self._on_exit, self._note, self._elicit = on_exit, connection.note, elicit
        self._answering: set[asyncio.Task[None]] = set()  # questions of the server being answered
        self._request_id = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._progress: dict[int, Progress | None] = {}
        self.listing: dict[str, Any] | None = None  # what the server offers (JSON), once attached
        self._reading = asyncio.ensure_future(self._read())

    async def __aenter__(self) -> HostSession:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for task in list(self._answering):
            task.cancel()
        self._reading.cancel()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while line := await self._reader.readline():
                message = json.loads(line)
                number = message.get("id")
                if message.get("event") == "note" and self._note is not None:
                    self._note(str(message.get("text")))
                elif "elicit" in message and number in self._waiting:  # the server asks the user, mid-call
                    task = asyncio.ensure_future(self._answer(message.get("ask"), message["elicit"]))
                    self._answering.add(task)
                    task.add_done_callback(self._answering.discard)
                elif "progress" in message and (progress := self._progress.get(number)) is not None:
                    await progress(*message["progress"])
                elif number in self._waiting and not self._waiting[number].done():
                    self._waiting[number].set_result(message)
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(ConnectionError("connection closed: the MCP host went away"))
        self._on_exit()

    async def _answer(self, asked: Any, params: Any) -> None:
        """Answer the server's question ``asked`` (``elicit``'s answer, or declined), through the host."""
        answer = {"action": "decline"}
        if self._elicit is not None and isinstance(params, dict):
            answer = await self._elicit(params)
        self._writer.write(frame({"id": asked, "op": "answer", "answer": answer}))
        with contextlib.suppress(OSError):
            await self._writer.drain()

    async def _ask(self, op: str, progress: Progress | None = None, **fields: Any) -> dict[str, Any]:
        number = self._request_id
        self._request_id += 1
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number], self._progress[number] = answer, progress
        try:
            self._writer.write(frame({"id": number, "op": op, "spec": self._spec, **self._caller, **fields}))
            await self._writer.drain()
            reply = await answer
        finally:
            self._waiting.pop(number, None)
            self._progress.pop(number, None)
        if isinstance(error := reply.get("error"), dict):  # raised as a direct session would have raised it
            text = str(error.get("text") or "the MCP host failed")
            if error.get("kind") in ("mcp", "transport"):
                raise McpError(text) if error["kind"] == "mcp" else ConnectionError(f"connection closed: {text}")
            from chatcli.tools.mcp.calls import Unavailable

            raise Unavailable(text, str(error.get("detail") or ""))
        return reply

    async def initialize(self) -> Any:
        self.listing = (await self._ask("attach")).get("listing") or {}  # what the server offers, as JSON
        return Answer(capabilities=Answer(prompts=True, resources=True))

    async def call_tool(self, name: str, arguments: dict[str, Any], progress_callback: Progress | None = None) -> Any:
        return answer((await self._ask("call", progress_callback, tool=name, arguments=arguments))["result"])

    def __getattr__(self, op: str) -> Any:
        """The reads of ``READS`` (``get_prompt``, ``read_resource``, ``complete``), with McpServer's arguments."""
        if op not in READS:
            raise AttributeError(op)

        async def read(*args: Any) -> Any:
            return answer((await self._ask(op, args=args))["result"])

        return read

    async def cancel(self, request_id: int) -> None:
        """Cancel the request ``request_id`` (the host tells the server)."""
        self._writer.write(frame({"id": request_id, "op": "cancel"}))
        await self._writer.drain()

    async def send_ping(self) -> Any:
        return await self._ask("ping")


class HostLink:
    """The user's MCP host: where it listens (``runtime_dir``), and how long its servers may idle."""

    session = HostSession  # its server, for an mcp.ClientSession: (connection, channel, on_exit, elicit)

    def __init__(self, idle: float, environ: Mapping[str, str] = os.environ):
        self.idle, self.environ = idle, environ

    async def connect(self) -> Channel:
        """A connection the host answers (started if none listens); ConnectionError if it will not serve
        this process (another user's, or one confined otherwise: chatcli.tools.confinement)."""
        if (found := runtime_dir(self.environ)) is None:
            raise ConnectionError("no private directory for the MCP host's socket")
        directory = Path(found)
        path = directory / host_socket(self.environ)
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=LIMIT)
        except OSError:
            await asyncio.to_thread(_start, directory, path, self.idle, self.environ)
            reader, writer = await asyncio.open_unix_connection(str(path), limit=LIMIT)
        writer.write(frame({"id": -1, "op": "status"}))  # answered, or closed on at once
        answered = b""
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await writer.drain()
            answered = await asyncio.wait_for(reader.readline(), START_TIMEOUT)
        if not answered:
            writer.close()
            raise ConnectionError("the MCP host does not serve this process")
        return reader, writer


def host_control(op: str, environ: Mapping[str, str] = os.environ) -> list[dict[str, Any]]:
    """Send ``op`` ("status", "check" or "stop") to every MCP host of the user (one per build of chat and
    ``host_environment``): their answers."""
    directory = runtime_dir(environ)
    answers = []
    for path in sorted(Path(directory).glob("mcp-*.sock")) if directory is not None else []:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            with contextlib.suppress(OSError, ValueError):
                sock.connect(str(path))
                send(sock, {"id": 0, "op": op})
                said, _ = receive(sock)
                if said is not None:
                    answers.append(said)
    return answers
