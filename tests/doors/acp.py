"""``chat acp`` in this process: the editor of tests/acp_client.py speaking to an agent on a thread of its own.

``InProcessEditor`` is tests/acp_client.py's ``Editor`` (the ACP SDK's client connection, the same calls), but the
agent is ``chatcli.app.cli.main(["acp", *ARGS], Environment(...))`` run on a thread of this process rather than the
installed ``chat acp``: the agent's stdin and its protocol output are a pair of pipes, its stderr is kept, and its
exit code is what ``main`` returns. What a process would do to the process it is in is given to the thread instead:
the protocol's output descriptor is the pipe (not a copy of fd 1, which is the test run's), the agent leaves by
returning its exit code (not ``os._exit``), its stdin is the pipe (``sys.stdin`` as the agent module reads it, for
that thread alone). A thread that is not such an agent sees chat's own functions unchanged.

What an agent process is needed for stays one (tests/test_acp.py): signals, an editor that kills it, what reaches
the real stdout, how soon a process exits.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
from pathlib import Path
from typing import Any

import acp

from tests import matrix
from tests.acp_client import Editor, Recorder
from tests.helpers import Captured, piped_stdin

# The agents running in this process, by thread: their stdin (a file over a pipe) and their protocol's output (fd).
_AGENTS: dict[int, tuple[Any, int]] = {}
_installed = threading.Lock()
_done = False


class _Sys:
    """``sys`` as chatcli.app.acp_commands reads it: ``stdin`` is the pipe for an agent's thread, the rest sys's."""

    def __getattr__(self, name: str) -> Any:
        if name == "stdin" and threading.get_ident() in _AGENTS:
            return _AGENTS[threading.get_ident()][0]
        return getattr(sys, name)


def _install() -> None:
    """Give the agents on a thread of this process their pipes and their way out (once; other threads unchanged)."""
    global _done
    with _installed:
        if _done:
            return
        from chatcli.app import acp_commands

        own_stdout, leave = acp_commands._own_stdout, acp_commands._leave

        def _own_stdout() -> int:
            agent = _AGENTS.get(threading.get_ident())
            return os.dup(agent[1]) if agent else own_stdout()

        def _leave(code: int) -> Any:
            if threading.get_ident() in _AGENTS:
                raise SystemExit(code)  # main() returns it: the agent's exit code
            return leave(code)

        acp_commands._own_stdout = _own_stdout  # type: ignore[assignment]
        acp_commands._leave = _leave  # type: ignore[assignment]
        acp_commands.sys = _Sys()  # type: ignore[assignment]
        _done = True


class _Agent:
    """The agent as the editor sees a process: its stdin (the editor's writer), its end and exit code."""

    def __init__(self, stdin: asyncio.StreamWriter, ended: asyncio.Future[int]):
        self.stdin, self.ended = stdin, ended
        self.returncode: int | None = None

    async def wait(self) -> int:
        self.returncode = await asyncio.shield(self.ended)
        return self.returncode

    def kill(self) -> None:
        """No thread is killed: its stdin is closed (it ends as when its editor quits)."""
        self.stdin.close()

    def send_signal(self, signum: int) -> None:
        raise AssertionError("an agent in this process takes no signal: use tests/acp_client.py's Editor")


class InProcessEditor(Editor):
    """``Editor``, with ``chat acp ARGS`` on a thread of this process (see the module)."""

    def __init__(self, env: dict[str, str], *args: str, cwd: str | None = None):
        _install()
        self.client = Recorder()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.err = Captured()
        self.env, self.args, self.cwd = env, args, cwd
        self.context = contextvars.copy_context()  # the test's, as a process inherits its starter's (jobs_here)
        self.agent: threading.Thread | None = None
        self.conn, self.process = self._run(self._start(), 60)

    @property  # type: ignore[override]
    def stderr(self) -> bytes:
        return self.err.getvalue().encode()

    async def _start(self) -> tuple[Any, Any]:
        from chatcli.app.cli import main
        from chatcli.app.environment import Environment

        loop = asyncio.get_running_loop()
        agent_in, to_agent = os.pipe()  # the agent's stdin, and the editor's end of it
        from_agent, agent_out = os.pipe()
        ended: asyncio.Future[int] = loop.create_future()
        environment = Environment(
            stdin=piped_stdin(b""), stdout=Captured(), stderr=self.err, environ=dict(self.env),
            cwd=Path(self.cwd) if self.cwd else Path.cwd(),
        )  # fmt: skip
        stdin = os.fdopen(agent_in, "rb", buffering=0)

        def run() -> None:
            code = 1
            _AGENTS[threading.get_ident()] = (stdin, agent_out)
            try:
                code = main(["acp", *self.args], environment)
            except BaseException as exc:  # noqa: BLE001 - said, and the agent's end is a failure
                self.err.write(f"the agent ended with {exc!r}\n")
            finally:
                del _AGENTS[threading.get_ident()]
                from chatcli.app import acp_commands

                acp_commands._served.clear()
                stdin.close()
                os.close(agent_out)  # the editor reads the end of the agent's output
                loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(code))

        self.agent = threading.Thread(target=self.context.run, args=(run,), name="chat acp", daemon=True)
        self.agent.start()
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_agent, "rb", 0))
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(to_agent, "wb", 0)
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        conn = acp.connect_to_agent(self.client, writer, reader, use_unstable_protocol=True)
        return conn, _Agent(writer, ended)

    def close(self) -> int | None:
        try:
            return super().close()
        finally:
            if self.agent is not None:
                self.agent.join(30)
                assert not self.agent.is_alive(), "chat acp did not end within 30 s of its stdin closing"


class Acp(matrix.Acp):
    """The matrix's ``acp`` door (tests/matrix.py), its agent on a thread of this process."""

    def started(self) -> Any:
        return InProcessEditor(self.env, *self.args)
