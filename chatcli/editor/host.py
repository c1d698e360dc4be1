"""Where an editor's session runs chat's built-in tools: files read through the editor (``fs/read_text_file``: it
sees buffers not saved yet) and commands run in its terminal (``terminal/*``: the user watches them in the tool's
card), each where the editor offers it; elsewhere on this machine, as at the terminal.

A command keeps chat's sandbox and environment: the editor's terminal starts chat's launcher
(chatcli.tools.launch) with a private file holding the sandboxed command line and the environment chat gives
commands, so neither the editor's variables nor a value of chat's reach the command or a command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

from acp import RequestError

from chatcli.editor.listener import EditorListener
from chatcli.tools import builtin, sandbox

LAUNCHER = str(Path(__file__).resolve().parent.parent / "tools" / "launch.py")


class EditorHost(builtin.Host):
    """The built-in tools of the session ``listener`` tells, in ``workdir``, through its editor where it ``reads``
    files or runs ``terminals``; the listener puts a command's terminal in its call's card, and stops the turn if the
    editor goes away while it waits for an answer."""

    def __init__(self, listener: EditorListener, workdir: Path, *, reads: bool, terminals: bool):
        super().__init__(workdir)
        self.client, self.session_id, self.listener = listener.client, listener.session_id, listener
        self.reads, self.terminals = reads, terminals

    async def read_file(self, target: Path) -> str:
        if not self.reads:
            return await super().read_file(target)
        from langchain_core.tools import ToolException

        try:  # a FIFO or a device would hold the editor's read as it would hold chat's: refused alike
            kind = builtin.not_regular(os.stat(target).st_mode)
        except OSError:
            kind = None  # not on disk: a buffer of the editor's, maybe
        if kind is not None:
            raise ToolException(f"error: {builtin.NotRegularFile(target, kind)}")
        try:
            read = await self.listener.asked(self.client.read_text_file(session_id=self.session_id, path=str(target)))
        except RequestError as exc:
            raise ToolException(f"error: {target}: {' '.join(str(exc.args[0] if exc.args else exc).split())[:300]}")
        text = str(read.content)
        if len(text) > builtin.MAX_OUTPUT:
            text = text[: builtin.MAX_OUTPUT] + f"\n[... {len(text) - builtin.MAX_OUTPUT:,} more characters not read]"
        return text

    async def run_shell(self, command: str, policy: sandbox.Policy, call_id: str = "") -> str:
        if not self.terminals:
            return await super().run_shell(command, policy, call_id)
        argv = sandbox.command_argv(command, policy, self.workdir)
        spec = {"argv": argv, "env": builtin.command_environment(policy.passed)}
        handle, path = tempfile.mkstemp(prefix="chat-command-", suffix=".json")  # the user's alone (0600)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(spec, file)
            terminal = await self.listener.asked(
                self.client.create_terminal(
                    session_id=self.session_id,
                    command=sys.executable,
                    args=["-I", "-S", LAUNCHER, path],
                    cwd=str(self.workdir),
                    output_byte_limit=builtin.MAX_OUTPUT,
                )
            )
            done = await self._watch(terminal.terminal_id, call_id)
        finally:
            if os.path.exists(path):  # the launcher never ran
                os.unlink(path)
            off = sandbox.new_repositories(argv, self.workdir or Path.cwd())  # after a stop too
        return "\n".join(filter(None, (off, done)))

    async def _watch(self, terminal_id: str, call_id: str) -> str:
        """The command's output and exit once it ends (stopped with the call: cancelled, or out of time)."""
        ids = {"session_id": self.session_id, "terminal_id": terminal_id}
        if call_id:
            self.listener.show_terminal(call_id, terminal_id)
        try:
            ended = await self.listener.asked(self.client.wait_for_terminal_exit(**ids))
            output = await self.listener.asked(self.client.terminal_output(**ids))
        except BaseException:
            await asyncio.shield(self._end(ids, kill=True))
            raise
        await self._end(ids)
        cut = "\n[the start of the output was cut: it was longer than 1 MB]" if output.truncated else ""
        return builtin.ran(output.output + cut, "", ended.exit_code, ended.signal)

    async def _end(self, ids: dict[str, str], kill: bool = False) -> None:
        if self.listener.gone:
            return  # nothing can be asked of an editor that went away
        for method in ((self.client.kill_terminal,) if kill else ()) + (self.client.release_terminal,):
            with contextlib.suppress(Exception):  # an editor that went away has nothing left to stop
                await asyncio.wait_for(method(**ids), 5)
