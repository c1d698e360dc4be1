"""The interactive prompt: read a line, send it as a turn, render the reply; Ctrl-C stops a reply."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Iterator

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings

from chatcli.ask import ask
from chatcli.config import Settings
from chatcli.errors import ChatError
from chatcli.turns import Conversation

EXIT_COMMANDS = {"/exit", "/quit"}


def key_bindings() -> KeyBindings:
    """Enter sends; Alt-Enter (or Esc then Enter) and Ctrl-J insert a newline."""
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    @bindings.add("c-j")
    def _newline(event: Any) -> None:
        """Insert a newline instead of sending."""
        event.current_buffer.insert_text("\n")

    return bindings


def private_history(path: str) -> FileHistory:
    """Input history kept across sessions in a file only the user can read."""
    history = Path(path).expanduser()
    history.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not history.exists():
        os.close(os.open(history, os.O_CREAT | os.O_WRONLY, 0o600))
    return FileHistory(str(history))


def make_session(settings: Settings, **io: Any) -> PromptSession:
    """The prompt-toolkit session: persistent history, multiline keys, Ctrl-R search."""
    return PromptSession(
        history=private_history(settings.history_file or ""),
        key_bindings=key_bindings(),
        multiline=False,
        prompt_continuation="… ",
        enable_history_search=False,
        **io,
    )


def _import_engine() -> None:
    """Import the heavy modules (LangGraph, the OpenAI client) so the first turn is quick."""
    import chatcli.graph  # noqa: F401
    import chatcli.models  # noqa: F401
    import langchain_openai  # noqa: F401
    import langgraph.checkpoint.sqlite.aio  # noqa: F401


async def _open(stack: AsyncExitStack, settings: Settings, thread_id: str, setup: dict[str, Any]) -> Conversation:
    """Load the engine off the event loop, then open the thread."""
    from chatcli.turns import open_conversation

    await asyncio.to_thread(_import_engine)
    conversation = await stack.enter_async_context(open_conversation(settings, thread_id))
    await conversation.set_system(setup.get("system"), setup.get("vars"))
    return conversation


@contextlib.contextmanager
def _ctrl_c_cancels(task: asyncio.Task) -> Iterator[None]:
    """While the block runs, Ctrl-C (SIGINT) cancels ``task`` instead of raising KeyboardInterrupt."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    try:
        yield
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


async def _turn(loading: asyncio.Future, text: str, output: Any, settings: Settings) -> None:
    """Run one turn in a task that Ctrl-C cancels; report failures and carry on.

    The wait for the engine (still loading during the first seconds) is part of that task,
    so Ctrl-C then stops the turn instead of killing the REPL; a failed load still ends it.
    """
    sent = False

    async def answer() -> None:
        nonlocal sent
        conversation = await asyncio.shield(loading)
        sent = True
        await ask(conversation, text, output, settings)

    task = asyncio.create_task(answer())
    with _ctrl_c_cancels(task):
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
            if not sent:
                output.note("stopped: nothing was sent")
        except ChatError as exc:
            if not sent:
                raise  # the store or the model could not be opened: nothing else will work
            output.error(str(exc))


async def run_repl(
    settings: Settings,
    thread_id: str,
    output: Any,
    *,
    setup: dict[str, Any] | None = None,
    session: PromptSession | None = None,
) -> None:
    """Chat until Ctrl-D or /exit; each line is a turn of ``thread_id``."""
    session = session or make_session(settings)
    output.note(f"chatcli · thread {thread_id} · resume with: chat --thread {thread_id}")
    output.note("Enter sends · Alt-Enter newline · Ctrl-C stops a reply · Ctrl-D or /exit quits")
    async with AsyncExitStack() as stack:
        loading = asyncio.create_task(_open(stack, settings, thread_id, setup or {}))
        try:
            while True:
                try:
                    text = await session.prompt_async("> ")
                except KeyboardInterrupt:
                    continue  # Ctrl-C at the prompt clears the line
                except EOFError:
                    break
                if text.strip() in EXIT_COMMANDS:
                    break
                if not text.strip():
                    continue
                await _turn(loading, text, output, settings)
        finally:
            if not loading.done():
                loading.cancel()
            with contextlib.suppress(BaseException):
                await loading
    output.note(f"bye · resume with: chat --thread {thread_id}")
