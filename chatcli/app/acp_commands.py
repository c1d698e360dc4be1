"""``chat acp``: chat as an Agent Client Protocol agent over stdio, for editors (chatcli.editor, docs/editors.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING, Callable, List, NoReturn, Optional, cast

import typer

from chatcli.app import options
from chatcli.app.flags import settings_of
from chatcli.app.shared import ASSISTANT, DB, DEBUG, HEADER, REMOTE, app, environment, guarded
from chatcli.config import Settings

if TYPE_CHECKING:
    from chatcli.service.chat import Chat
    from chatcli.service.opening import ThreadSetup


@app.command("acp")
def acp_command(
    model: Optional[str] = options.MODEL,
    role: Optional[str] = options.ROLE,
    tools: Optional[str] = options.TOOLS,
    no_tools: bool = options.NO_TOOLS,
    yes: bool = options.YES,
    local: bool = options.LOCAL,
    graph: Optional[str] = options.GRAPH,
    remote: Optional[str] = REMOTE,
    assistant: Optional[str] = ASSISTANT,
    header: List[str] = HEADER,
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Talk to an editor over the Agent Client Protocol (Zed, JetBrains, Neovim, Emacs): the editor starts
    `chat acp` and speaks JSON-RPC on its stdin and stdout. Sessions are chat's threads (chat -t ID goes on
    with one at the terminal); tool calls are asked in the editor. With --graph FILE:NAME or --remote URL
    (--assistant ID, --header 'NAME: VALUE'), a LangGraph app in the editor; --no-tools offers no tools.
    docs/editors.md has each editor's settings."""
    env = environment()

    def action(settings: Settings) -> None:
        from contextlib import ExitStack

        from chatcli.app.run import answering_of, make_env_output, stoppable
        from chatcli.backends.own.roles import read_role
        from chatcli.core.events import Logged
        from chatcli.service.chat import Chat
        from chatcli.service.opening import ThreadSetup

        chat = Chat(settings, answering_of(graph, remote, assistant, header, env), Logged("chat acp"), env.environ)
        setup = ThreadSetup(model=model, role=read_role(settings.roles_dir, role))
        protocol = _own_stdout()  # from here on, what else writes to stdout (the local model's server) is on stderr
        _served.append(True)
        with ExitStack() as stack:
            chat.set_up(stack, make_env_output(env).note)  # --local, or no key set: the local model, until the end
            # An editor that closes stops the agent (SIGTERM, SIGHUP): the answers running stop as on Ctrl-C, kept.
            asyncio.run(stoppable(serve_editor(chat, setup, protocol)))

    flags = dict(model=model, db=db, local=local, tools=tools, no_tools=no_tools, yes=yes)
    try:
        guarded(debug, action, settings_of(flags))
    except typer.Exit as leaving:
        if _served:
            _leave(leaving.exit_code)
        raise
    if _served:
        _leave(0)


def _leave(code: int) -> NoReturn:
    """End the agent once its editor is answered and everything is closed: the exit handlers run, the streams are
    flushed, and the process ends without Python's own teardown of chat's modules, which takes seconds on a busy
    machine (an editor's agent is gone within two seconds of its editor)."""
    import atexit

    from chatcli.app.environment import flush_streams

    atexit._run_exitfuncs()
    flush_streams()
    os._exit(code)


def _own_stdout() -> int:
    """A descriptor of its own for the protocol's output, and stdout (fd 1) pointed at stderr: whatever else
    writes to stdout (a library's print, a warning) lands on stderr, never in the middle of a JSON-RPC line."""
    sys.stdout.flush()
    protocol = os.dup(1)
    os.dup2(2, 1)
    return protocol


async def serve_editor(chat: Chat, setup: ThreadSetup, protocol: int) -> None:
    """Answer the editor on stdin and the ``protocol`` descriptor until it closes stdin."""
    from contextlib import AsyncExitStack

    import acp

    from chatcli.editor.agent import Editor
    from chatcli.service.chat import load_engine

    logging.getLogger().addFilter(_gone_quietly)  # the SDK's send loop logs an editor gone mid-write as a traceback
    settings = chat.settings
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(chat)
        chat.close_wait = 1.0  # the agent leaves within two seconds of its editor (Editor.aclose waited one already)
        # A session may bring MCP servers of its own: a session's tools are there even when chat's are none; an MCP
        # client's import under way ends before the engine's imports begin.
        await chat.open(idle=settings.worker_idle, always=True, load=lambda: load_engine(settings.model))
        editor = Editor(chat, settings, setup)
        reader, writer = await _streams(protocol, editor.idle, editor.editor_gone)
        try:
            # The SDK routes each method to the agent's method of that name; those it lacks are "method not found".
            agent = cast("acp.Agent", editor)
            await acp.run_agent(agent, writer, reader, use_unstable_protocol=True)
        except ConnectionError:
            if not editor.gone:
                raise  # the editor went away mid-write: its end, not a failure
        finally:
            await editor.aclose()
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # stopped by a signal: the SDK's loop ends quietly on it
            raise asyncio.CancelledError


async def _streams(
    protocol: int, idle: asyncio.Event, gone: Callable[[], None]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """stdin as the protocol's input, ``protocol`` (the real stdout) as its output, with a limit fit for images.

    The client has ended when stdin ends, when nothing reads the output any more (its reader closed it, or it broke
    mid-write), or when the process that started the agent is gone (killed, its pipes held elsewhere): ``gone`` is
    told at once (the turns running stop as on a cancel, their part kept), the requests read are answered within
    LEAVING seconds, and then the protocol ends, and the agent with it."""
    from chatcli.editor.framing import encoded, error, screened

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    reader = asyncio.StreamReader(limit=LIMIT)
    unread = asyncio.Event()  # nothing reads the output any more

    class Output(asyncio.StreamReaderProtocol):
        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            unread.set()

    transport, stream_protocol = await loop.connect_write_pipe(
        lambda: Output(asyncio.StreamReader()), os.fdopen(protocol, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, stream_protocol, None, loop)

    async def forward() -> None:
        while True:
            line, last = await _line(stdin)
            passed, response = screened(line) if line is not None else (None, error(None, -32600, TOO_LONG))
            if response is not None and not unread.is_set():
                writer.write(encoded(response))
            if passed is not None:
                reader.feed_data(passed if passed.endswith(b"\n") else passed + b"\n")
            await asyncio.sleep(0)  # each request is taken up before the end is looked at
            if last:
                return

    async def run() -> None:
        watching = [asyncio.ensure_future(w) for w in (forward(), unread.wait(), _orphaned())]
        await asyncio.wait(watching, return_when=asyncio.FIRST_COMPLETED)
        for waiting in watching:
            waiting.cancel()
        await asyncio.sleep(0.05)  # the requests read last are taken up
        gone()
        # Every request read is answered (a prompt running: cancelled) while something reads the answers, but the
        # agent does not linger.
        waits = [asyncio.ensure_future(_answered(idle)), asyncio.ensure_future(unread.wait())]
        await asyncio.wait(waits, timeout=LEAVING, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        reader.feed_eof()

    _forwarding.add(asyncio.ensure_future(run()))
    return reader, writer


def _gone_quietly(record: logging.LogRecord) -> bool:
    """False for the SDK's record of a write that failed because the editor is gone (said in one line already)."""
    return not isinstance(record.exc_info[1] if record.exc_info else None, ConnectionError)


async def _answered(idle: asyncio.Event) -> None:
    """Return once no request is being answered, and none was taken up in the moment before."""
    while True:
        await asyncio.sleep(0.05)
        if idle.is_set():
            return
        await idle.wait()


async def _orphaned() -> None:
    """Return once the process that started the agent is gone (its parent is another, now)."""
    parent = os.getppid()
    if parent <= 1:  # started by init or a subreaper itself: nothing to watch
        await asyncio.Event().wait()
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_POLL)


async def _line(stdin: asyncio.StreamReader) -> tuple[bytes | None, bool]:
    """The next line of ``stdin`` (None: it was longer than LIMIT, and is skipped) and whether stdin ended."""
    try:
        return await stdin.readuntil(b"\n"), False
    except asyncio.IncompleteReadError as end:  # the last line, without its newline
        return end.partial, True
    except asyncio.LimitOverrunError:
        while True:  # the rest of the line, skipped
            try:
                await stdin.readuntil(b"\n")
                return None, False
            except asyncio.LimitOverrunError as over:
                await stdin.readexactly(over.consumed)
            except asyncio.IncompleteReadError:
                return None, True


# The most one message may hold (an image, a file as embedded context).
LIMIT = 64 * 1024 * 1024
# Seconds the agent answers the requests it read once its client has ended; how often it looks for its parent.
LEAVING = 1.0
PARENT_POLL = 0.2
TOO_LONG = "Invalid request: a message is at most 64 MB"
_forwarding: set[asyncio.Future[None]] = set()
_served: list[bool] = []  # the protocol was spoken (not --help, not a failure before): the process ends by _leave
