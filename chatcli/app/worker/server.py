"""The warm worker: a fork server that has imported chat once and answers each one-shot in a fresh child.

``boot()`` (started by chatcli.app.worker.client) detaches, imports what a one-shot needs, and
listens on a unix socket in the user's private runtime directory. Each connection from a
process of the same user (the kernel's word: SO_PEERCRED) brings ``chat``'s arguments,
environment, what the caller sees of its confinement, and the caller's stdin, stdout, stderr,
working directory and job-control channel as file descriptors. The worker serves it only if the
caller is confined exactly as the worker is (its namespaces, cgroups, limits, priorities,
credentials, security state: chatcli.tools.confinement, from the kernel's /proc of the
pid at the other end, pinned by SO_PEERPIDFD); else it refuses and the caller runs the normal
way. It forks; the child takes those descriptors as its own 0, 1 and 2, moves to that
directory, takes the caller's umask and that environment whole and runs ``chatcli.app.cli.main``
as a fresh process would, so terminals, pipes, --json, signals and exit codes are the real ones,
and nothing of one call is left for the next (each child starts again from the worker's state).
The worker tells the caller the child's pid (to forward signals to, and to stop for Ctrl-Z:
chatcli.app.worker.jobs) and how it ended.

It stays single-threaded (a fork with another thread alive could copy a held lock), exits
after ``idle`` seconds without a call, and retires when a caller's build differs from its own.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import select
import signal
import socket
import sys
import threading
import time
from typing import Any

from chatcli.app.worker.child import run_child
from chatcli.app.worker.client import FDS, SOCKET, build_id
from chatcli.local import runtime
from chatcli.local.daemon import Listening, receive, same_user, send
from chatcli.tools.confinement import describe, peer, serves, still_there

MAX_CHILDREN = 32  # more callers at once than this go the normal way
# What a one-shot imports, loaded once here (chatcli.service.chat.load_engine adds the model stack): what is left out,
# every one-shot's child imports again (tests/test_worker_unit.py holds the list whole).
WARM = """
chatcli.app.cli chatcli.app.completion chatcli.app.command_names chatcli.app.library_output chatcli.service.chat
chatcli.service.thread chatcli.content.attachments chatcli.content.webpage chatcli.backends.own.failures
chatcli.backends.own.context_windows chatcli.backends.own.turns chatcli.backends.own.served
chatcli.backends.own.subagents chatcli.backends.own.model_state chatcli.backends.own.roles
chatcli.backends.own.sampling chatcli.backends.own.standing chatcli.core.memories chatcli.local.policy
chatcli.local.sockets chatcli.local.worker_settings chatcli.tools.toolbox chatcli.tools.agents
chatcli.tools.command_files chatcli.tools.mcp.config chatcli.tools.mcp.cache chatcli.tools.mcp.link
chatcli.store.sqlite chatcli.store.light chatcli.threads.tree chatcli.ui.output chatcli.ui.jsonout chatcli.ui.signals
chatcli.ui.toolblocks
langgraph.checkpoint.sqlite.aio langgraph.store.sqlite.aio langgraph.func dotenv platformdirs pwd
anyio._backends._asyncio langchain_core.messages.block_translators.langchain_v0 langchain_core.tracers.stdout
langchain_core.tracers.run_collector langchain_core.tracers.context typer._click.decorators
""".split()


def same_loading(environ: dict[str, str]) -> bool:
    """True when a call's environment loads Python and chat as this worker's did (else: the normal way)."""

    def keyed(env: Any) -> dict[str, str]:
        names = ("LANG", "LANGUAGE", "TZ", "CHATCLI_LAZY_IMPORTS")
        return {k: v for k, v in env.items() if k in names or k.startswith(("LC_", "PYTHON"))}

    return keyed(environ) == keyed(os.environ)


class Worker:
    """The listening socket, the children running, and the idle clock."""

    def __init__(self, path: str, idle: float, warm: list[str]) -> None:
        self.idle = idle
        self.children: dict[int, socket.socket] = {}  # pid -> the caller's connection
        self.last = time.monotonic()
        self.served = 0  # runs answered: `chat worker status` says it
        self.warm = warm  # the providers whose models it has ready
        self.stopping = False
        self.listening = Listening(path, build_id())  # a caller of another build retires it
        self.listener = self.listening.socket
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def serve(self) -> None:
        """Answer calls until stopped, idle too long, or retired by a newer build."""
        poller = select.poll()
        listening = self.listener.fileno()
        poller.register(listening, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        try:
            while not (self.stopping and not self.children):
                if self.stopping and listening >= 0:
                    poller.unregister(listening)
                    listening = -1
                    self.retire()  # no new calls; the answers running go on to their end
                left = None if self.children else self.last + self.idle - time.monotonic()
                if left is not None and left <= 0:
                    break
                for fd, _event in poller.poll(None if left is None else max(1, int(left * 1000) + 1)):
                    if fd == listening:
                        self._accept(poller)
                    elif fd == self.wake_r:
                        with contextlib.suppress(BlockingIOError):
                            while len(os.read(self.wake_r, 512)) == 512:
                                pass
                    else:
                        self._caller_left(poller, fd)
                self._reap(poller)
        finally:
            self.retire()

    def retire(self) -> None:
        """Stop listening: the socket file goes only if it is still this worker's."""
        if self.listener.fileno() < 0:
            return
        self.listening.unlink()
        self.listener.close()

    def _accept(self, poller: Any) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        fds: list[int] = []
        try:
            if not same_user(conn):
                conn.close()  # another user: not a word
                return
            caller, pidfd = peer(conn)
            try:
                conn.settimeout(10)
                header, fds = receive(conn, max_fds=FDS + 1)
                if header is not None and "control" in header:
                    send(conn, self._control(str(header["control"])))
                    conn.close()
                    return
                refused = self._refusal(header, fds, caller, pidfd)
            finally:
                if pidfd is not None:
                    os.close(pidfd)  # (not for the child: it would pass to the answer's tools)
            if refused:
                if refused == "stale":
                    self.stopping = True
                    self.retire()  # before the caller, told, looks for a worker again
                send(conn, {"refused": refused})
                conn.close()
                return
            assert header is not None
            self.idle = float(header.get("idle", self.idle))
            pid = os.fork()
            if pid == 0:  # the child, which never returns
                mine = (self.listener.fileno(), self.wake_r, self.wake_w, *(c.fileno() for c in self.children.values()))
                run_child(conn, header, fds, mine)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)  # (the child does it too): its group exists before the caller signals it
            send(conn, {"pid": pid})
            self.served += 1
            self.children[pid] = conn
            poller.register(conn, select.POLLIN | select.POLLHUP)
        except (OSError, ValueError):
            conn.close()
        finally:
            for fd in fds:
                os.close(fd)

    def _control(self, command: str) -> dict[str, Any]:
        """``chat worker status`` and ``chat worker stop``."""
        from chatcli import __version__

        if command == "stop":
            self.stopping = True
        left = None if self.children else max(0.0, self.last + self.idle - time.monotonic())
        return {
            "pid": os.getpid(),
            "version": __version__,
            "build": self.listening.build,
            "idle": self.idle,
            "idle_left": left,
            "running": len(self.children),
            "served": self.served,
            "warm": self.warm,
            "stopping": self.stopping,
        }

    def _refusal(self, header: dict[str, Any] | None, fds: list[int], caller: int, pidfd: int | None) -> str | None:
        """Why the call ``header`` is not served (None: it is). The caller must be confined as this worker is; when
        served, the header gets the caller's umask and pid as the kernel gives them, for the child."""
        if header is None:
            return "bad request"
        if header.get("build") != self.listening.build:
            return "stale"  # first: another build's caller (which may send other descriptors) replaces this worker
        if len(fds) not in (FDS, FDS + 1):
            return "bad request"
        if not same_loading(header.get("environ") or {}):
            return "environment"
        if len(self.children) >= MAX_CHILDREN:
            return "busy"
        if threading.active_count() != 1:
            return "threads"  # a fork now could copy a lock held by that thread
        if caller <= 0:
            return "confinement"  # in a pid namespace this worker cannot see into
        seen = describe(caller, io=True)
        if not serves(describe(io=True), seen, caller, header.get("confinement")) or not still_there(caller, pidfd):
            return "confinement"
        assert seen is not None
        header["umask"], header["caller"] = int(seen["umask"], 8), caller
        return None

    def _caller_left(self, poller: Any, fd: int) -> None:
        """The caller's connection closed before the answer ended: as a closed terminal, SIGHUP."""
        for pid, conn in self.children.items():
            if conn.fileno() == fd:
                poller.unregister(fd)
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGHUP)
                    os.killpg(pid, signal.SIGCONT)  # as the kernel does for a stopped group its session left
                return

    def _reap(self, poller: Any) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                send(conn, {"signal": -code} if code < 0 else {"exit": code})
            with contextlib.suppress(KeyError):
                poller.unregister(conn)
            conn.close()
            self.last = time.monotonic()


def warm_providers() -> list[str]:
    """Build a model of every provider whose package is installed, once: what building one and its first request
    import (its SDK, its LangChain integration, httpcore, the chat resource) is then loaded for every caller, an
    ``anthropic:`` or ``ollama:`` one-shot as warm as an OpenAI-compatible one. Nothing is sent anywhere. The
    providers made warm."""
    from chatcli.backends.own.model import build_chat_model, build_embeddings
    from chatcli.config import Settings
    from chatcli.errors import ConfigError
    from chatcli.provider_table import PROVIDERS

    warm, url = [], "http://127.0.0.1:9"
    for row in PROVIDERS:
        if row.package and importlib.util.find_spec(row.package) is None:
            continue  # its extra is not installed: its one-shots say so, warm or not
        nowhere = tuple((var, value) for var, value in ((row.key_var, "warm-up"), (row.url_var, url)) if var)
        name = f"{row.name}:warm-up"
        settings = Settings(model=name, api_key="sk-warm-up", base_url=f"{url}/v1", provider_env=nowhere)
        try:
            model = build_chat_model(settings)
            for name in ("root_async_client", "_async_client", "async_client"):  # the SDK's resources, made once
                getattr(getattr(model, name, None), "chat", None)
            # and its embedding models' (an embedding_model ranks the memories), where it has any
            with contextlib.suppress(ConfigError):
                build_embeddings(settings, name)
        except Exception:  # noqa: BLE001 - a warm-up only: a provider that cannot be built here is built per call
            continue
        warm.append(row.name)
    return warm


# An OpenAI-compatible server's answer of one word, streamed (what warm_turn's own server sends).
ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
    b'data: {"id":"w","object":"chat.completion.chunk","created":0,"model":"w","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":"ok"},"finish_reason":null}]}\n\n'
    b'data: {"id":"w","object":"chat.completion.chunk","created":0,"model":"w","choices":[{"index":0,'
    b'"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n'
    b"data: [DONE]\n\n"
)


def warm_turn() -> None:
    """Answer one question as a one-shot does, in a home of its own, from a server of this process's own on loopback:
    what a turn does once per process (the store opened, the graph compiled, the model's first request and answer,
    the answer drawn and saved, and each function it runs made ready to run fast) is then done for every caller, whose
    child writes fewer of the worker's pages as it runs. Nothing of it is kept but what was loaded."""
    import io
    import tempfile
    from pathlib import Path

    from chatcli.app.cli import main
    from chatcli.app.environment import Environment

    def answer(listener: socket.socket) -> None:
        with contextlib.suppress(OSError):  # (the listener shut: the turn is over)
            while True:
                conn, _ = listener.accept()
                with conn, conn.makefile("rb") as request:
                    head = b"".join(iter(request.readline, b"\r\n")).lower()
                    request.read(int(head.partition(b"content-length:")[2].split(b"\r")[0] or 0))
                    conn.sendall(ANSWER)

    with tempfile.TemporaryDirectory() as home, socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=answer, args=(listener,), name="chatcli-warm-up")
        server.start()
        url, out = f"http://127.0.0.1:{listener.getsockname()[1]}/v1", io.StringIO()
        environ, saved = {"HOME": home, "OPENAI_BASE_URL": url, "CHATCLI_MODEL": "warm-up"}, dict(os.environ)
        os.environ.clear()  # (what reads the process's own, as a child's reads the caller's, reads this home too)
        os.environ.update(environ)
        try:
            with contextlib.suppress(Exception):  # a warm-up only: what it did not do, each call does
                main(["-t", "warm-up", "hi"], Environment(io.StringIO(), out, out, os.environ, Path(home)))
        finally:
            os.environ.clear()
            os.environ.update(saved)
            listener.shutdown(socket.SHUT_RDWR)
            server.join()


def warm_up() -> list[str]:
    """Import what a one-shot imports (with chat's import hook), PostgreSQL's driver where it is installed, then keep
    it out of the collector's way; the providers made warm."""
    runtime.install()
    for name in WARM:
        importlib.import_module(name)
    if importlib.util.find_spec("psycopg") is not None:  # the postgres extra: its driver and LangGraph's saver
        importlib.import_module("chatcli.store.postgres.store")
        importlib.import_module("chatcli.store.postgres.index")
    warm = warm_providers()
    from chatcli.backends.own.pricing import preload

    preload()  # genai-prices' table (about 0.1 s), which each answer not priced by config.toml needs
    warm_turn()
    gc.collect()
    gc.freeze()  # the children's collections then leave these pages shared
    runtime.over()  # the collector's thresholds back (its start-up began in chatcli.local.daemon.spawn)
    return warm


def boot() -> None:
    """The worker's process: ``python -c ... boot()`` PATH IDLE (see chatcli.app.worker.client.start)."""
    path, idle = sys.argv[1], float(sys.argv[2])
    start_lock = int(sys.argv[3]) if len(sys.argv) > 3 else None  # held for a caller that did not wait
    if os.path.basename(path) != SOCKET:
        raise SystemExit(f"chat worker: unexpected socket path {path}")
    warm = warm_up()
    ready_r, ready_w = os.pipe()
    if os.fork():  # the starter learns that the worker is up (or, by another exit, that it failed)
        os.close(ready_w)
        os._exit(0 if os.read(ready_r, 1) == b"1" else 1)
    os.close(ready_r)
    # Listening in this process, so that a caller's SO_PEERCRED and SO_PEERPIDFD name the worker itself.
    worker = Worker(path, idle, warm)
    os.write(ready_w, b"1")
    os.close(ready_w)
    if start_lock is not None:
        os.close(start_lock)  # listening: the next caller connects
    worker.serve()
    sys.stderr.flush()
    os._exit(0)  # nothing to tear down: a heavy interpreter's shutdown would only keep the pid around
