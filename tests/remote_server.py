"""A ``langgraph dev`` for the ``chat --remote`` tests, and a TCP proxy that drops a connection mid-stream.

``serve(where, model_url)`` starts ``langgraph dev --no-browser --no-reload`` on a free port of 127.0.0.1 (never
2024, which other programs take) serving the example graph (``example``, as examples/langgraph.json names it)
and chat's own (``chat``, as the project's langgraph.json names it), both asking the OpenAI-compatible server
at ``model_url`` (tests/fakeserver.py); every request needs the key of tests/fixtures/remote/auth.py. It is up
in about two seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import eventually, open_local

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "remote"
KEY = "test-key"  # what fixtures/remote/auth.py lets in


def langgraph_command() -> str | None:
    """The ``langgraph`` command of this Python's environment (langgraph-cli, in the test extra), or None."""
    return shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which("langgraph")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    """A running ``langgraph dev``: its URL, process and log."""

    url: str
    process: subprocess.Popen
    log: Path

    def quiet(self, timeout: float = 30) -> "Served":
        """This server, once no thread of it is busy: a run an earlier test left (a client that left, a run that goes
        on after its client) has ended, so what the next test asks is the latest of its threads and requests."""
        import urllib.request

        def none_busy() -> bool:
            request = urllib.request.Request(
                f"{self.url}/threads/search",
                data=json.dumps({"status": "busy", "limit": 1}).encode(),
                headers={"x-api-key": KEY, "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                return not json.loads(answer.read())

        eventually(none_busy, f"no thread of {self.url} to be busy", timeout)
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def serve(where: Path, model_url: str, timeout: float = 90) -> Served:
    """Start ``langgraph dev`` in ``where`` with chat's graph asking the OpenAI-compatible server ``model_url``."""
    shipped = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
    example = json.loads((ROOT / "examples" / "langgraph.json").read_text())["graphs"]["agent"]
    path, _, name = example.rpartition(":")
    config = {
        "dependencies": [str(ROOT)],
        "graphs": {"example": f"{(ROOT / 'examples' / path).resolve()}:{name}", "chat": shipped["chat"]},
        "auth": {"path": f"{FIXTURES / 'auth.py'}:auth"},
    }
    (where / "langgraph.json").write_text(json.dumps(config))
    home = where / "home"
    home.mkdir(exist_ok=True)
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        OPENAI_BASE_URL=model_url, OPENAI_API_KEY="sk-test", CHATCLI_MODEL="gpt-fake", EXAMPLE_MODEL="gpt-fake",
        CHATCLI_TOOLS="shell",
        CHATCLI_MAX_RETRIES="0", LANGGRAPH_CLI_NO_ANALYTICS="1",
    )  # fmt: skip
    port, log = free_port(), where / "langgraph.log"
    command = [langgraph_command() or "langgraph", "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1"]
    with open(log, "wb") as written:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--config", str(where / "langgraph.json")],
            cwd=where, env=env, stdout=written, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    served = Served(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout
    while True:
        # langgraph dev moves to another port, with a warning, when the one asked for was taken meanwhile
        # by another test's server: the URL it prints is the one to ask
        if said := _API.search(log.read_text(errors="replace")):
            served.url = said.group(1)
            try:
                with open_local(f"{served.url}/ok", timeout=2):
                    return served
            except OSError:
                pass
        if process.poll() is not None or time.monotonic() > deadline:
            served.stop()
            plain = _ESCAPES.sub("", log.read_text(errors="replace"))
            lines = [line for line in plain.splitlines() if " stats " not in line]
            raise RuntimeError("langgraph dev did not start:\n" + "\n".join(lines[:40] + ["..."] + lines[-20:]))
        time.sleep(0.1)


_API = re.compile(r"API: (?:\x1b\[[0-9;]*m)?(http://127\.0\.0\.1:\d+)")
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


class CutProxy:
    """A TCP proxy to 127.0.0.1:``port`` that drops the first connection whose response carries ``marker``
    (both sides, at once, right after forwarding it); every other connection goes through whole."""

    def __init__(self, port: int, marker: bytes):
        self.target, self.marker = port, marker
        self.cuts = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, response: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if response and self.marker in data:
                    with self._lock:
                        cut, self.cuts = self.cuts == 0, self.cuts + (self.cuts == 0)
                    if cut:
                        break
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self) -> None:
        self.listener.close()
