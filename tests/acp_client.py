"""An editor for the tests: the Agent Client Protocol's own Python SDK (``agent-client-protocol``) on its client side,
starting the installed ``chat acp`` as an editor does and speaking to it over its stdin and stdout.

``Editor`` is synchronous for the tests (its connection runs on an event loop in a thread of its own): ``call(name,
**params)`` sends a request and waits for its response (a JSON-RPC error raises ``acp.RequestError``), ``updates``
records every ``session/update`` in order, ``permission`` answers each ``session/request_permission`` (by default
"allow_once"; the requests are kept in ``asked``), ``form`` each ``elicitation/create``. ``raw(line)`` writes a line of
its own to the agent, for malformed input.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from typing import Any, Callable

import acp
from acp import schema

from tests import mcp_servers
from tests.helpers import CHAT
from tests.mcp_servers import chat_argv


class Terminal:
    """A command an agent had the editor start: its command line, directory, process and output."""

    def __init__(self, argv: list[str], cwd: str | None, process: Any, limit: int | None):
        self.argv, self.cwd, self.process, self.limit = argv, cwd, process, limit
        self.output = b""
        self.truncated = self.killed = self.released = False
        self.reading = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while chunk := await self.process.stdout.read(65536):
            self.output += chunk
            if self.limit is not None and len(self.output) > self.limit:
                self.output, self.truncated = self.output[-self.limit :], True


class Recorder:
    """The client side: what the agent sends, recorded; what it asks, answered by the test's policy."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, Any]] = []  # (session id, update), in the order they came
        self.asked: list[Any] = []  # the permission requests (RequestPermissionRequest)
        self.forms: list[dict[str, Any]] = []  # the elicitation requests, as JSON
        self.permission: Callable[[Any], str | None] = lambda request: "allow_once"  # an option id; None: cancelled
        self.form: Callable[[dict[str, Any]], dict[str, Any]] = lambda request: {"action": "decline"}
        self.files: dict[str, str] = {}  # the editor's buffers (unsaved), by absolute path
        self.reads: list[str] = []  # the paths fs/read_text_file asked for
        self.terminals: dict[str, Terminal] = {}  # the commands terminal/create started, by id
        self.editor_env: dict[str, str] = {}  # the editor's own environment, beside this process's
        self.seen = threading.Condition()

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        with self.seen:
            self.updates.append((session_id, update))
            self.seen.notify_all()

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> schema.RequestPermissionResponse:
        request = schema.RequestPermissionRequest(session_id=session_id, tool_call=tool_call, options=options)
        with self.seen:
            self.asked.append(request)
            self.seen.notify_all()
        chosen = await asyncio.to_thread(self.permission, request)
        if chosen is None:
            return schema.RequestPermissionResponse(outcome=schema.DeniedOutcome(outcome="cancelled"))
        return schema.RequestPermissionResponse(outcome=schema.AllowedOutcome(outcome="selected", option_id=chosen))

    async def create_elicitation(self, message: str, mode: Any, **kwargs: Any) -> Any:
        request = {"message": message, **mode.model_dump(mode="json", by_alias=True, exclude_none=True)}
        with self.seen:
            self.forms.append(request)
        return self.form(request)

    async def read_text_file(self, session_id: str, path: str, **kwargs: Any) -> schema.ReadTextFileResponse:
        self.reads.append(path)
        if path in self.files:
            return schema.ReadTextFileResponse(content=self.files[path])
        try:
            with open(path, encoding="utf-8") as handle:
                return schema.ReadTextFileResponse(content=handle.read())
        except OSError as exc:
            raise acp.RequestError.resource_not_found(path) from exc

    # ---- terminal/*, as an editor runs them: the command started with the editor's environment, its output kept

    async def create_terminal(
        self, session_id: str, command: str, args: list[str] | None = None, env: Any = None, cwd: str | None = None,
        output_byte_limit: int | None = None, **kwargs: Any,
    ) -> schema.CreateTerminalResponse:  # fmt: skip
        environment = {**os.environ, **self.editor_env, **{v.name: v.value for v in env or []}}
        process = await asyncio.create_subprocess_exec(
            command, *(args or []), env=environment, cwd=cwd,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        terminal = Terminal([command, *(args or [])], cwd, process, output_byte_limit)
        terminal_id = f"term-{len(self.terminals) + 1}"
        with self.seen:
            self.terminals[terminal_id] = terminal
            self.seen.notify_all()
        return schema.CreateTerminalResponse(terminal_id=terminal_id)

    async def wait_for_terminal_exit(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        terminal = self.terminals[terminal_id]
        await terminal.reading
        code = await terminal.process.wait()
        return schema.WaitForTerminalExitResponse(
            exit_code=code if code >= 0 else None, signal=None if code >= 0 else f"signal {-code}"
        )

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        terminal = self.terminals[terminal_id]
        code = terminal.process.returncode
        status = schema.TerminalExitStatus(exit_code=code) if code is not None and code >= 0 else None
        return schema.TerminalOutputResponse(
            output=terminal.output.decode("utf-8", "replace"), truncated=terminal.truncated, exit_status=status
        )

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        terminal = self.terminals[terminal_id]
        terminal.killed = True
        if terminal.process.returncode is None:
            os.killpg(terminal.process.pid, signal.SIGKILL)
        return schema.KillTerminalResponse()

    async def release_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> Any:
        self.terminals[terminal_id].released = True
        return schema.ReleaseTerminalResponse()

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> Any:
        self.files[path] = content
        return schema.WriteTextFileResponse()

    def on_connect(self, conn: Any) -> None:
        pass


class Editor:
    """``chat acp ARGS`` started in ``env`` (its stderr kept in ``stderr``), driven by the SDK's client."""

    def __init__(self, env: dict[str, str], *args: str, cwd: str | None = None, warm: bool = True):
        """``warm``: forked from a process that imported chat (tests/mcp_servers.chat_argv); False for the installed
        ``chat acp`` itself, as an editor's command line starts it. A test about the editor that started the agent
        ending (its parent gone) runs the installed chat: a warm agent's parent is the warm process's, which lives as
        long as it does."""
        self.client = Recorder()
        self.warm = warm
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stderr = b""
        self.env, self.args, self.cwd = env, args, cwd
        self.conn, self.process = self._run(self._start(), 60)

    async def _start(self) -> tuple[Any, Any]:
        command = [str(CHAT), "acp", *self.args]
        process = await asyncio.create_subprocess_exec(
            *(chat_argv(*command) if self.warm else command), env=self.env, cwd=self.cwd,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
        )  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        conn = acp.connect_to_agent(self.client, process.stdin, process.stdout, use_unstable_protocol=True)
        self._errors = asyncio.ensure_future(self._read_stderr(process))
        return conn, process

    async def _read_stderr(self, process: Any) -> None:
        while line := await process.stderr.readline():
            self.stderr += line

    def _run(self, work: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    @property
    def updates(self) -> list[tuple[str, Any]]:
        return self.client.updates

    def call(self, method: str, timeout: float = 60, **params: Any) -> Any:
        """The agent's response to ``method`` (the SDK's method name: ``initialize``, ``new_session``, ``prompt``)."""
        return self._run(getattr(self.conn, method)(**params), timeout)

    def request(self, method: str, params: dict[str, Any], timeout: float = 60) -> Any:
        """The agent's result for ``method`` as ACP's schema names it (for a method the SDK's client lacks)."""
        return self._run(self.conn._conn.send_request(method, params), timeout)

    def start(self, method: str, **params: Any) -> Any:
        """Send ``method`` and return at once: a concurrent future of its response."""
        return asyncio.run_coroutine_threadsafe(getattr(self.conn, method)(**params), self.loop)

    def initialize(self, **capabilities: Any) -> Any:
        caps = schema.ClientCapabilities(**capabilities)
        return self.call("initialize", protocol_version=acp.PROTOCOL_VERSION, client_capabilities=caps)

    def new(self, cwd: str = "/tmp", servers: list[Any] | None = None) -> str:
        """A new session in ``cwd`` with the editor's MCP ``servers`` (the SDK's McpServerStdio and the like)."""
        return self.call("new_session", cwd=cwd, mcp_servers=servers or []).session_id

    def prompt(self, session_id: str, text: str, timeout: float = 60) -> Any:
        return self.call("prompt", timeout, session_id=session_id, prompt=[acp.text_block(text)])

    def text(self, session_id: str, kind: str = "agent_message_chunk", since: int = 0) -> str:
        """The text of the updates of ``kind`` the session got (from the ``since``-th update on)."""
        return "".join(
            u.content.text for sid, u in self.updates[since:] if sid == session_id and u.session_update == kind
        )

    def of(self, session_id: str, kind: str, since: int = 0) -> list[Any]:
        return [u for sid, u in self.updates[since:] if sid == session_id and u.session_update == kind]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60) -> None:
        with self.client.seen:
            assert self.client.seen.wait_for(predicate, timeout), f"not seen in {timeout} s\n{self.stderr.decode()}"

    def raw(self, line: bytes) -> None:
        """Write ``line`` to the agent as it is (not through the SDK)."""

        async def write() -> None:
            self.process.stdin.write(line + b"\n")
            await self.process.stdin.drain()

        self._run(write())

    def close(self) -> int | None:
        """Close the agent's stdin (as an editor that quits) and wait for it to exit: its exit code."""

        async def stop() -> int | None:
            try:
                self.process.stdin.close()
                try:
                    await self.conn.close()
                except ConnectionError:  # the agent ended already (its stdin closed earlier)
                    pass
                return await asyncio.wait_for(self.process.wait(), 30)
            except asyncio.TimeoutError:
                self.process.kill()
                return await self.process.wait()

        try:
            return self._run(stop(), 40)  # type: ignore[no-any-return]
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


def dumped(update: Any) -> dict[str, Any]:
    """An update as the JSON the agent sent."""
    return json.loads(update.model_dump_json(by_alias=True, exclude_none=True))


def stdio_server(name: str, script: str, **env: str) -> schema.McpServerStdio:
    """An MCP server of tests/mcp as an editor passes it in ``session/new``."""
    from pathlib import Path

    path = Path(__file__).parent / "mcp" / script
    variables = [schema.EnvVariable(name=k, value=v) for k, v in env.items()]
    return schema.McpServerStdio(name=name, **mcp_servers.stdio(path), env=variables)
