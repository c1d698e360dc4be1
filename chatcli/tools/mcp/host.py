"""The MCP host: one process per user (and build of chat) that keeps MCP servers running between one-shots.

With the warm worker on (``worker = true``), a one-shot reaches its MCP servers through the
host (chatcli.tools.mcp.link), so a server started for one question is still up for the next.
The host listens on a unix socket in the user's private runtime directory (0600, where the
worker's socket is; the shell tool's sandbox hides it), answers only processes of the same user
(the kernel's word: SO_PEERCRED) confined as the host is (chatcli.tools.confinement), and keeps one server for each
configuration and caller it is asked for: the command, arguments, whole environment and working directory it runs
with, and whom it acts for (the caller's data directory, so its own logins' tokens as they are now, and where its
log goes). Two configurations, or two callers with other data directories, never share a server, and a login or a
logout starts the next call's anew. What else of a caller's environment it acts with (how Python loads, the
proxies and certificates an HTTP client reads) it was started with: only callers with the same reach it
(chatcli.tools.mcp.link.host_environment).
A server that runs no call for ``idle`` seconds is stopped; one that died is started again by the next call; the
host exits once it has no server left and no caller for that long. It retires once the files it runs from change
(chat's code, or a library's: an upgrade, chatcli.local.daemon.build_id): it stops listening at once (the next caller
starts a host of the new build), ends the calls under way, and exits. Its log (and its servers' notes) go to
``mcp-host.log``.

The socket, its start lock, the framing and the peer's credentials are the worker's (chatcli.local.daemon).
The protocol is JSON, one object a line. A caller opens one connection per server and sends
``{"id": N, "op": ..., "spec": {...}, ...}``: ``attach`` (start it if need be: its listing),
``call`` (progress lines, then the result), ``get_prompt``, ``read_resource`` and ``complete`` (with their
``args``), ``ping``, each with the caller's ``data_dir``;
``cancel`` stops request N (the server is told, as for Ctrl-C); ``status``, ``check`` (retire if the files changed)
and ``stop`` are for chat itself.
A question the server asks the user during call N goes to its caller as ``{"id": N, "elicit":
{...}, "ask": K}``, answered with ``{"id": K, "op": "answer", "answer": {...}}``.
A caller that goes away cancels what it asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from chatcli.local import runtime
from chatcli.local.daemon import LIMIT, Listening, build_id, frame, same_user
from chatcli.tools.mcp.apps import plain
from chatcli.tools.mcp.config import ServerSpec
from chatcli.tools.mcp.link import READS
from chatcli.tools.mcp.server import FAILED, IDLE, READY, STOPPED, McpServer, Unavailable
from chatcli.tools.mcp.transport import describe, is_transport_error, preload


def confined_as_this_host(sock: socket.socket) -> bool:
    """True when the process at the other end is confined exactly as this host is (chatcli.tools.confinement).

    The host starts the servers a caller names, with the host's rights: a caller in a sandbox, another
    network or mount namespace, a cgroup, lower limits or fewer capabilities must run its servers itself.
    """
    from chatcli.tools.confinement import alike, describe, peer, still_there

    pid, pidfd = peer(sock)
    try:
        return pid > 0 and alike(describe(io=True), describe(pid, io=True)) and still_there(pid, pidfd)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def spec_of(data: dict[str, Any]) -> ServerSpec:
    """A server's configuration as a caller sent it (checked as mcp.json's would be)."""
    from chatcli.tools.mcp.config import parse_servers

    entry = {k: v for k, v in data.items() if k in SENT and v}
    (spec,) = parse_servers({"mcpServers": {str(data.get("name") or ""): entry}}, "the caller")
    roots = data.get("roots") or []
    fit = isinstance(roots, list) and len(roots) <= MAX_ROOTS
    if not fit or not all(isinstance(r, str) and os.path.isabs(r) and "\0" not in r and len(r) < 4096 for r in roots):
        raise ValueError("the caller's roots are not absolute directories")
    return replace(spec, roots=tuple(roots))


SENT = ("command", "args", "env", "cwd", "url", "headers", "type", "oauth")  # what of a caller's spec is read
MAX_ROOTS = 64  # an editor's session and its additional directories


def server_key(spec: ServerSpec, data: Path, log_dir: str | None) -> str:
    """Which kept server answers a call: one per configuration (its environment and directory included) and per
    caller (its data directory ``data``, with its login for this server as it is now, and its log)."""
    import hashlib

    from chatcli.tools.mcp.cache import fingerprint
    from chatcli.tools.mcp.oauth import StoredAuth

    login = StoredAuth(spec, data).stamp() if spec.url else None
    whole = [fingerprint(spec, {}, spec.cwd), str(data), log_dir, login, list(spec.roots)]
    return hashlib.sha256(json.dumps(whole).encode()).hexdigest()


Asked = dict[str, asyncio.Future[dict[str, Any]]]  # a caller's answers to come to its servers' questions, by key


class Host:
    """The servers kept, the callers connected, and the idle clock."""

    def __init__(self, idle: float, socket_file: Listening):
        self.idle, self.log = idle, sys.stderr  # (its log file)
        self.servers: dict[str, McpServer] = {}
        self.watchers: dict[str, set[asyncio.StreamWriter]] = {}  # who hears a server's notes
        self.callers, self.last, self.stopping = 0, time.monotonic(), asyncio.Event()  # connected; when last heard
        self.socket_file = socket_file  # taken away when it retires (if still its own); with the build it runs from
        self.listening: asyncio.AbstractServer | None = None
        self.retiring = False

    def say(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
            self.log.flush()

    async def serve(self) -> None:
        """Answer callers until stopped, or idle with nothing running for ``idle`` seconds."""
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.stopping.set)
        self.listening = await asyncio.start_unix_server(self._caller, sock=self.socket_file.socket, limit=LIMIT)
        sweeping = asyncio.ensure_future(self._sweep())
        try:
            await self.stopping.wait()
        finally:
            sweeping.cancel()
            self.listening.close()
            await asyncio.gather(*(s.halt(final=True) for s in self.servers.values()), return_exceptions=True)

    def check_build(self) -> bool:
        """Retire if the files this host runs from changed since it started (an upgraded library, chat's code
        changed): listen no more, and exit once the callers connected now are gone. Whether it retires."""
        if not self.retiring and self.socket_file.outdated():
            self.retiring = True
            self.say("the files it runs from changed (chat or a library upgraded): retiring")
            if self.listening is not None:
                self.listening.close()
            self.socket_file.unlink()  # (if still its own: not a newer host's, bound since)
        return self.retiring

    async def _sweep(self) -> None:
        """Stop the servers idle for ``idle`` seconds, forget them, and stop the host when nothing is left."""
        while True:
            await asyncio.sleep(max(0.05, min(self.idle / 4, 30.0)))
            now = time.monotonic()
            for key, server in list(self.servers.items()):
                if server.state == READY and not server.calls and now - server.used >= self.idle:
                    self.say(f"{server.name}: idle for {self.idle:g} s, stopped")
                    await server.halt()
                if server.state in (IDLE, FAILED, STOPPED) and now - server.used >= self.idle:
                    del self.servers[key]
            if (self.check_build() or (not self.servers and now - self.last >= self.idle)) and not self.callers:
                self.stopping.set()  # retired, or idle with nothing left

    async def _caller(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is None or not same_user(sock) or not confined_as_this_host(sock):
            writer.close()  # another user, or a process confined otherwise: not a word
            return
        self.callers += 1
        asking: dict[object, asyncio.Task[None]] = {}  # by the caller's request number
        asked: Asked = {}  # the servers' questions this caller has to answer
        try:
            while line := await reader.readline():
                self.last = time.monotonic()
                try:
                    message = json.loads(line)
                    number, op = message.get("id"), message.get("op")
                except (ValueError, AttributeError):
                    break
                if op == "cancel":
                    if number in asking:
                        asking[number].cancel()
                elif op == "answer":
                    if number in asked and not asked[number].done():
                        asked[number].set_result(message.get("answer"))
                elif op in ("status", "stop", "check"):
                    if op == "stop":
                        self.stopping.set()
                    retiring = self.check_build() if op == "check" else self.retiring
                    states = [{"name": s.name, "state": s.state, "starts": s.starts} for s in self.servers.values()]
                    answer = {"id": number, "pid": os.getpid(), "servers": states, "retiring": retiring}
                    await self._send(writer, answer)
                else:
                    task = asyncio.ensure_future(self._answer(message, writer, asked))
                    asking[number] = task
                    task.add_done_callback(functools.partial(asking.pop, number))  # answered: none to cancel
        except (OSError, ValueError):
            pass
        finally:
            for task in list(asking.values()):
                task.cancel()  # the caller left: what it asked is cancelled (at the server too)
            for watching in self.watchers.values():
                watching.discard(writer)
            self.callers -= 1
            self.last = time.monotonic()
            writer.close()
            if self.retiring and not self.callers:
                self.stopping.set()  # retired, and its last caller is gone

    async def _send(self, writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        writer.write(frame(message))
        await writer.drain()

    def _server(self, message: dict[str, Any], writer: asyncio.StreamWriter) -> McpServer:
        if not isinstance(data := message.get("data_dir"), str) or not os.path.isabs(data):  # the caller's
            raise ValueError("the caller did not say its data directory")
        spec = spec_of(message.get("spec") or {})
        log_dir = message.get("log_dir") if isinstance(message.get("log_dir"), str) else None
        key = server_key(spec, Path(data), log_dir)
        server = self.servers.get(key)
        if server is None or server.state in (STOPPED, FAILED):  # (one that failed is tried again)
            server = McpServer(spec, Path(log_dir) if log_dir else None, note=self.say, data=Path(data))
            server.connection.note = functools.partial(self._note, key)
            server.on_fail = lambda s: self.say(f"{s.name}: {s.detail}")
            self.servers[key] = server
        self.watchers.setdefault(key, set()).add(writer)
        server.used = time.monotonic()
        return server

    def _note(self, key: str, text: str) -> None:
        """A note of the server ``key`` that only the host sees (a stray line): in its log, and to its callers."""
        self.say(text)
        for writer in list(self.watchers.get(key, ())):
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(frame({"event": "note", "text": text}))

    async def _answer(self, message: dict[str, Any], writer: asyncio.StreamWriter, asked: Asked) -> None:
        number, op = message.get("id"), message.get("op")
        try:
            server = self._server(message, writer)
        except Exception as exc:  # noqa: BLE001 - a configuration that does not parse
            await self._send(writer, {"id": number, "error": {"kind": "unavailable", "text": str(exc)}})
            return
        try:
            if op == "attach":
                await server.ensure()
                if server.stale:  # kept running past its lists' lifetime: listed again for this caller
                    await server.relist()
                server.used = time.monotonic()
                assert server.listing is not None
                reply: dict[str, Any] = {"listing": server.listing.data}
            elif op == "call":

                async def progress(done: float, total: float | None, text: str | None) -> None:
                    await self._send(writer, {"id": number, "progress": [done, total, text]})

                async def ask(params: dict[str, Any]) -> dict[str, Any]:  # the caller asks its user
                    key = f"{number}-{len(asked)}"
                    asked[key] = asyncio.get_running_loop().create_future()
                    try:
                        await self._send(writer, {"id": number, "elicit": params, "ask": key})
                        return await asked[key]
                    finally:
                        asked.pop(key, None)

                tool, arguments = str(message.get("tool")), message.get("arguments") or {}
                reply = {"result": plain(await server.call_tool(tool, arguments, progress, ask))}
            elif op in READS:
                reply = {"result": plain(await getattr(server, op)(*message.get("args") or ()))}
            elif op == "ping":
                await asyncio.wait_for((await server.ensure()).send_ping(), 10)
                reply = {}
            else:
                reply = {"error": {"kind": "error", "text": f"unknown op {op!r}"}}
        except Unavailable as exc:
            reply = {"error": {"kind": "unavailable", "text": str(exc), "detail": exc.detail or server.detail}}
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller, as one line
            said: Any = getattr(exc, "error", None) if type(exc).__name__ in ("McpError", "MCPError") else None
            kind = "transport" if is_transport_error(exc) else "error" if said is None else "mcp"
            text = said.message if kind == "mcp" else describe(exc, server.spec, server.start_timeout)
            reply = {"error": {"kind": kind, "text": text, **({"code": said.code} if kind == "mcp" else {})}}
        with contextlib.suppress(OSError, RuntimeError):
            await self._send(writer, {"id": number, **reply})


def _warm_up() -> None:
    """Import the MCP client, which every server the host starts needs, while the first caller comes; then the host's
    start-up is over (chatcli.local.runtime)."""
    try:
        preload()
    finally:
        runtime.over()


def boot() -> None:
    """The host's process: ``python -c ... boot()`` SOCKET IDLE (see chatcli.tools.mcp.link)."""
    path, idle = sys.argv[1], float(sys.argv[2])
    listening = Listening(path, build_id())
    if os.fork():
        os._exit(0)  # the starter learns that the host listens
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from chatcli.local import loopback

    loopback.guard()  # its servers' own addresses are allowed as each is started (chatcli.tools.mcp.transport)
    host = Host(idle, listening)
    host.say(f"listening on {path} (pid {os.getpid()}, idle {idle:g} s)")
    threading.Thread(target=_warm_up, name="mcp-client-import", daemon=True).start()
    try:
        asyncio.run(host.serve())
    finally:
        host.socket_file.unlink()
        host.say("stopped")
    os._exit(0)
