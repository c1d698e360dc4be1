"""The local model server process: started on a loopback port, watched, stopped.

``LocalServer`` runs a command that serves HTTP on 127.0.0.1 and waits until it answers;
the command is llama-cpp-python's server run under ``python -m chatcli.local.watch``, which
ends it as soon as chat is gone. ``chatcli.local.policy`` decides when to use it and with
which settings.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from chatcli.errors import ModelError
from chatcli.local.watch import SERVER_MODULE
from chatcli.paths import data_dir, private_dir
from chatcli.paths import install_line as pip_line

# Runs the server under a watch on chat (see chatcli.local.watch).
WATCH_MODULE = "chatcli.local.watch"
HOST = "127.0.0.1"
# Seconds the server may take to load its model and answer GET /v1/models.
START_TIMEOUT = 120.0
LOG_NAME = "local-server.log"
# Signals that mean the server crashed rather than was stopped from outside.
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGILL, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT})
# llama.cpp compiled for a portable CPU baseline (its default native build crashes in VMs that advertise
# AVX-512/AMX), without the vision library and the `common` library chat does not use (llama_only.cmake):
# see docs/local-model.md.
ONLY_LLAMA = Path(__file__).with_name("llama_only.cmake")
BUILD_FLAGS = f'CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DCMAKE_PROJECT_INCLUDE={ONLY_LLAMA}"'


def install_line() -> str:
    """The command that adds the local model to this installation (built portably, never from pip's cache)."""
    return f"{BUILD_FLAGS} {pip_line('local', '--no-cache-dir')}"


REBUILD_HINT = "llama.cpp built for another CPU crashes like this; rebuild it portably: "
REBUILD_HINT += f"{BUILD_FLAGS} pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python"


def how_it_ended(code: int) -> str:
    """A process's return code in words: "exit code 1", "crashed (SIGSEGV)", "killed (SIGKILL)"."""
    if code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"{'crashed' if -code in CRASH_SIGNALS else 'killed'} ({name})"


def model_name(path: Path) -> str:
    """The name the model goes by (in the usage line, --json, the thread index): its file name, its spaces dashes
    and anything unprintable left out (a model's name has none: ``Llama 3 (1).gguf`` goes by ``Llama-3-(1)``)."""
    stem = path.name.removesuffix(".gguf").removesuffix(".GGUF")
    return "-".join("".join(c for c in stem if c.isprintable() or c.isspace()).split())[:200] or "local-model"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])  # (host, port)


def _threads() -> int:
    """Threads for generating: every core on a small machine, about one per physical core on a big one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores if cores <= 4 else cores // 2


def server_command(path: Path, port: int, n_ctx: int) -> list[str]:
    """The command line that serves ``path`` on ``port``, under the parent watch (see ``chatcli.local.watch``)."""
    options = dict(model=path, model_alias=model_name(path), host=HOST, port=port, n_ctx=n_ctx, n_threads=_threads())
    flags = [part for name, value in options.items() for part in (f"--{name}", str(value))] + ["--verbose", "False"]
    # -P: not the current directory first on sys.path: a stray module there is not imported
    return [sys.executable, "-P", "-m", WATCH_MODULE, SERVER_MODULE, *flags]


def log_path() -> Path:
    """Where the server's output goes: $XDG_DATA_HOME/chatcli/local-server.log."""
    return data_dir() / LOG_NAME


def _open_log(path: Path | None, append: bool = False) -> IO[bytes] | int:
    """The server's log file, readable by the user only, emptied at each start unless ``append``; DEVNULL if none."""
    if path is None:
        return subprocess.DEVNULL
    try:
        private_dir(path.parent)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        return os.fdopen(os.open(path, flags, 0o600), "wb")
    except OSError:
        return subprocess.DEVNULL


class LocalServer:
    """One server process on a loopback port: ``start()``, ``await wait_ready()``, ``stop()``.

    ``command`` serves HTTP on ``port`` of 127.0.0.1; it counts as ready once ``GET /v1/models``
    answers 200. Its stdin is a pipe that stays open while this process lives.
    """

    def __init__(self, command: list[str], port: int, log: Path | None = None, timeout: float = START_TIMEOUT):
        self.command, self.port, self.log, self.timeout = command, port, log, timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.grace = 5.0  # seconds between SIGTERM and SIGKILL when stopping
        self._started, self._ready = 0.0, False
        self._was_ready = False  # it answered once: a later stop is a death, not a failed start
        self._start_failed = False  # a failed start was reported: the next attempt may start it again

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible endpoint of the server."""
        return f"http://{HOST}:{self.port}/v1"

    def start(self, *, restarting: str | None = None) -> None:
        """Start the process (without waiting for it); ``stop()`` runs at exit at the latest.

        ``restarting`` (how the previous process ended) keeps the log of the one that
        stopped and appends the new one's after a line saying so.
        """
        log = _open_log(self.log, append=restarting is not None)
        if isinstance(log, int):
            self.log = None  # could not be opened: the output is dropped
        elif restarting:
            log.write(f"\n--- chat starts the server again: the previous one stopped, {restarting} ---\n".encode())
            log.flush()
        try:
            # start_new_session: Ctrl-C in the terminal is for chat, not the server
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            raise ModelError(f"cannot start the local model server: {exc}") from None
        finally:
            if not isinstance(log, int):
                log.close()
        self._started = time.monotonic()
        atexit.register(self.stop)

    def returncode(self, wait: float = 0.0) -> int | None:
        """The process's return code once it has ended (waiting up to ``wait`` s for that), else None.

        A server that crashes closes its connections a moment before it can be reaped: a
        caller that saw the connection drop waits a little to learn whether it died.
        """
        if self.process is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.process.wait(timeout=wait) if wait > 0 else self.process.poll()
        return None

    def restart(self) -> str | None:
        """Start the server again if its process has ended; return how the old one ended, or None.

        A server that never answered and whose failure to start was not reported yet is left
        alone: ``wait_ready()`` reports that first, so a question never starts it twice silently.
        """
        code = self.returncode()
        if code is None or not (self._was_ready or self._start_failed):
            return None
        ended = how_it_ended(code)
        atexit.unregister(self.stop)
        self.process = None
        self._ready = False
        self.start(restarting=ended)
        return ended

    def stopped_error(self, when: str) -> ModelError:
        """The one line for a server that stopped ``when`` (e.g. "during the answer")."""
        code = self.returncode()
        ended = how_it_ended(code) if code is not None else "for an unknown reason"
        hint = f"its log: {self.log}" if self.log else "its output was not kept"
        if code is not None and -code in CRASH_SIGNALS:
            hint += f"; {REBUILD_HINT}"
        elif code == -signal.SIGKILL:
            hint += "; SIGKILL is often the system running out of memory"
        return ModelError(
            f"the local model server stopped {when}: {ended}", hint=f"{hint}; asking again starts it again"
        )

    def _where(self) -> str:
        return f"see {self.log}" if self.log else "run the server by hand to see why"

    def _last_words(self) -> str:
        """The last line the server wrote (its error, when it failed), as ": line", or ""."""
        try:
            lines = [line.strip() for line in self.log.read_text(errors="replace").splitlines()] if self.log else []
        except OSError:
            return ""
        lines = [line for line in lines if line]
        return f": {lines[-1][:200]}" if lines else ""

    async def wait_ready(self) -> None:
        """Return once the server answers; fail with one line if it exits or takes too long."""
        if self._ready:
            return
        if self.process is None:
            raise RuntimeError("the local model server was not started")
        deadline = self._started + self.timeout
        while True:
            if (code := self.process.poll()) is not None:
                self._start_failed = True
                hint = self._where() + (f"; {REBUILD_HINT}" if -code in CRASH_SIGNALS else "")
                said = f"the local model server stopped while starting ({how_it_ended(code)}){self._last_words()}"
                raise ModelError(said, hint=hint)
            if await self._answers():
                if self.process.poll() is None:  # ours, not something else that took the port
                    self._ready = self._was_ready = True
                    return
                continue
            if time.monotonic() > deadline:
                self._start_failed = True
                raise ModelError(f"the local model server was not ready within {self.timeout:g} s", hint=self._where())
            await asyncio.sleep(0.05)

    async def _answers(self) -> bool:
        """True if GET /v1/models answers 200 now."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.port), 2)
        except (OSError, asyncio.TimeoutError):
            return False
        try:
            writer.write(f"GET /v1/models HTTP/1.0\r\nHost: {HOST}:{self.port}\r\n\r\n".encode())
            status = await asyncio.wait_for(reader.readline(), 5)
            return status.split()[1:2] == [b"200"]
        except (OSError, asyncio.TimeoutError):
            return False
        finally:
            writer.close()

    def stop(self) -> None:
        """End the server: close its stdin (it exits on that), then SIGTERM, then SIGKILL. Idempotent."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        with contextlib.suppress(OSError):
            if process.stdin:
                process.stdin.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
