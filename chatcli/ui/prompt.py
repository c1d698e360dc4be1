"""The interactive prompt: read a line, run it as a slash command or send it as a turn; Ctrl-C stops a reply."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from prompt_toolkit import PromptSession
from prompt_toolkit.keys import Keys

from chatcli.backends.own.failures import describe, traceback_text
from chatcli.config import Settings
from chatcli.errors import ChatError, Interrupted, Refused, StoreError
from chatcli.service.opening import ThreadSetup
from chatcli.text import counted
from chatcli.ui.completion import CommandCompleter, ModelCache, ThreadCache
from chatcli.ui.output import Output
from chatcli.ui.prompt_session import AbovePrompt, banner, make_session, mode_mark
from chatcli.ui.registry import Context, is_command, leaves, literal
from chatcli.ui.signals import CtrlC, on_stop_signals
from chatcli.ui.status import StatusLine
from chatcli.ui.typeahead import keys_as_typed, take_typed_lines, watching

if TYPE_CHECKING:
    # Loaded after the first paint (``_import_engine``, while the user types): the thread, its events and the
    # slash commands are not needed to draw the prompt.
    from chatcli.core.events import TurnResult
    from chatcli.service.chat import Chat
    from chatcli.service.commands import Command
    from chatcli.service.opening import Opening
    from chatcli.service.thread import Thread

_PROMPT_FIRST = 0.05  # seconds
# Ctrl-C on an empty prompt this many times in a row: whoever presses it wants out, so say how.
_CTRL_C_HINT = 3


def _import_engine(model: str) -> None:
    """Import the heavy modules (LangGraph, the model's client, the thread and the slash commands) so the first
    turn is quick; none of them is needed to draw the prompt."""
    import chatcli.ui.commands  # noqa: F401
    from chatcli.service.chat import load_engine

    load_engine(model)


async def _open(
    session: Context, opening: Opening, setup: ThreadSetup, threads: ThreadCache, above: AbovePrompt, status: StatusLine
) -> Thread:
    """Load the engine off the event loop, then open the thread, the prompt ``session``'s from then on; ``above``
    hears it all, at any time. The status line, when shown, is read once the thread is open, and the prompt drawn
    again with it."""
    # Let the prompt draw first: the import thread would otherwise share the GIL with it.
    await asyncio.sleep(_PROMPT_FIRST)
    # MCP servers start now, in the background, while the engine loads (a graph of the user's has its own tools).
    chat, model = session.service, session.service.settings.model
    await chat.open(above, load=lambda: _import_engine(model), always=True)
    conversation = await chat.thread(opening, setup=setup, listener=above)
    if setup.announce:  # a new thread the banner could not name: named once it exists
        above.output.thread_note = "thread {id} · resume with: " + _resume(chat)
    await threads.refresh(conversation.threads())
    if status.shown:
        await status.refresh(conversation)
        above.session.app.invalidate()
    session.conversation = conversation
    return conversation


JOBS_LOOK = 0.5  # seconds between two looks at the background replies started at the prompt (/bg)


@dataclass
class Repl:
    """What every line of one prompt session shares: the conversation loading, the session its commands work on
    (the thread it is on, once loaded), the output, the settings."""

    loading: asyncio.Future[Thread]
    session: Context
    output: Output
    settings: Settings
    debug: bool = False
    ctrl_c: CtrlC = field(default_factory=CtrlC)  # what Ctrl-C stops, from the first prompt to the last
    # The line being run (a turn or a command), and the stop signal (SIGTERM, SIGHUP) received.
    current: asyncio.Task[Any] | None = None
    received: int | None = None
    # What the next prompt starts with (/edit); the last question if it failed or was stopped.
    next_input: str = ""
    unanswered: str | None = None
    ending: list[int] = field(default_factory=list)  # the background replies' processes, once ended, until reaped
    # The prompt's keys (read during a reply: Ctrl-B), whether the line running is a reply that can move to the
    # background, and whether it is moving there.
    keys: Any = None
    movable: bool = False
    moving: bool = False
    above: AbovePrompt | None = None  # the prompt's listener: the tool calls it heard
    calls_before: int = 0  # ... before the line running began

    def on_signal(self, signum: int, session: PromptSession[str]) -> None:
        """SIGTERM or SIGHUP: stop the line being run (its partial answer is kept), then leave. A reply streaming
        when the terminal closes moves to the background instead, if the settings say so (terminal_closed)."""
        if self.received is None:
            self.received = signum
            if self.current is not None:
                closed = signum == signal.SIGHUP and self.settings.terminal_closed == "background"
                ran = self.above is not None and self.above.calls != self.calls_before  # a call would run again
                self.moving = self.movable and closed and not ran
                self.current.cancel()
            elif session.app.is_running:
                session.app.exit(exception=EOFError())

    def to_background(self) -> None:
        """Ctrl-B during a reply: it stops here (the part that arrived is kept) and goes on as a background reply;
        not one that ran a tool call (asked again, the call would run again), nor one more than ``max_jobs``."""
        if self.current is None or not self.movable or self.moving:
            return
        from chatcli.core.events import Notice
        from chatcli.service import jobs

        busy = len(jobs.running(self.session.environ))
        if self.above is not None and self.above.calls > self.calls_before:
            said = "this reply has run a tool call: asked again in the background, the call would run again"
        elif busy >= self.settings.max_jobs:
            said = f"{busy} background replies run already (max_jobs {self.settings.max_jobs}): this one goes on here"
        else:
            self.moving = True
            self.current.cancel()
            return
        self.output.hear(Notice(f"not moved: {said}; Ctrl-C stops it", warn=True))


async def _cancellable(
    repl: Repl, work: Callable[[Thread], Awaitable[Any]], stopped_early: str, movable: bool = False
) -> Any:
    """Run ``work(conversation)`` in a task that Ctrl-C cancels; report failures and carry on. ``movable``: a reply,
    which Ctrl-B moves to the background (``to_background``).

    The wait for the engine (still loading during the first seconds) is part of that task,
    so Ctrl-C then stops the work instead of killing the REPL; a failed load still ends it.
    Whatever else goes wrong inside one line is one line (its traceback with --debug), and
    the prompt comes back.
    """
    loading, output = repl.loading, repl.output
    started, stops = False, output.stops_said

    async def run() -> Any:
        nonlocal started
        await asyncio.shield(loading)
        started = True
        return await work(repl.session.thread)

    task = asyncio.create_task(run())
    repl.current, repl.movable = task, movable
    repl.calls_before = repl.above.calls if repl.above is not None else 0
    with repl.ctrl_c.cancels(task), watching(repl.keys if movable else None, Keys.ControlB, repl.to_background):
        try:
            return await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
            # Said here when stopped before the work began, or a reply before its own stop could be said.
            if not repl.moving and (not started or (movable and output.stops_said == stops)):
                output.note("stopped" if started else stopped_early)
        except Exception as exc:  # noqa: BLE001 - nothing raised by one line may end the prompt
            if not started:
                raise  # the store or the model could not be opened: nothing else will work
            if not isinstance(exc, ChatError):
                if repl.received is not None:
                    return None  # leaving on a signal: a closed terminal cannot be written to anyway
                if repl.debug:
                    output.note(traceback_text(exc, repl.settings).rstrip())
            output.error(describe(exc, repl.settings).line)
        finally:
            repl.current, repl.movable = None, False
    return None


KEPT = "your question is kept: /retry asks it again (so do Up and Enter), in place of what it got"


async def ask_line(conversation: Thread, text: str, queued: list[Any], again: bool = False) -> TurnResult:
    """Send a line typed at the prompt, with the files ``queued`` for it. ``again``: the line is the question that
    just failed or was stopped
    (Up, Enter): while it is the thread's last question, without a whole answer, it is asked again in place
    of what it got, as /retry does, so the model never sees it twice."""
    recall = conversation.recall
    if again and await recall.last_question() == text and await recall.left_unanswered():
        from chatcli.core.events import Notice

        conversation.listener.hear(Notice("asked again, in place of the answer it did not get (as /retry)"))
        return await conversation.retry()
    return await conversation.send(text, queued, mentions=text, queue=True)


async def left_unanswered(conversation: Thread, text: str, output: Output) -> bool:
    """After a line failed or was stopped: True, said with how to ask again, when ``text`` is the thread's last
    question and has no whole answer (False when it was never stored: nothing to ask again)."""
    try:
        if await conversation.recall.last_question() != text or not await conversation.recall.left_unanswered():
            return False
    except Exception:  # noqa: BLE001 - the store failed already: the error line said so
        return False
    output.note(KEPT)
    return True


async def dispatch(repl: Repl, text: str) -> bool:
    """Run one line: a slash command, or else a turn; False when the line asks to leave."""
    from chatcli.ui.commands import execute

    output, session = repl.output, repl.session
    if not is_command(text):
        message, again = literal(text), literal(text) == repl.unanswered

        async def asked(conversation: Thread) -> TurnResult:
            try:
                return await ask_line(conversation, message, session.attached, again)
            except Refused:
                repl.next_input = text
                raise

        answered = await _cancellable(repl, asked, "stopped: nothing was sent", movable=True)
        if repl.moving:
            await _moved(repl, message)
            return True
        conversation = session.conversation if answered is None and repl.received is None else None
        repl.unanswered = message if conversation and await left_unanswered(conversation, message, output) else None
        if answered is None and repl.next_input == text:  # refused as it is, by a hook: back on the line
            output.note("your question is back at the prompt: change it, or Enter sends it as it is")
        return True
    found: Command | None = None
    arg = ""
    try:
        found, arg = session.commands.find(text, _toolbox(session))
        if not found.needs_thread:
            return await execute(found, session, arg)
    except ChatError as exc:  # an unknown command (never sent to the model), /edit with no editor: one line
        if session.conversation is not None or repl.loading.done():
            output.error(str(exc))
            return True
        # The session's skills and command files are known once its thread is open: the line waits for them.

    async def run(conversation: Thread) -> Any:
        command, given = (found, arg) if found is not None else session.commands.find(text, conversation.toolbox)
        return await execute(command, session, given)

    keep_going = await _cancellable(repl, run, "stopped")
    return keep_going is not False  # None: it failed or was stopped


async def _moved(repl: Repl, question: str) -> None:
    """The reply Ctrl-B stopped (or a closed terminal, with terminal_closed = "background"): the part that arrived is
    kept in the thread's tree, and the question is asked again from there by a background reply started where this
    prompt runs (as /bg starts one), with this prompt's tools. The prompt says when it ends."""
    from chatcli.service import jobs

    repl.moving = False
    conversation, settings, queued = repl.session.conversation, repl.settings, repl.session.attached
    back = "nothing was sent: your question is at the prompt"
    sent: bool | None = None  # whether the question was kept (None: not known)
    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP): the reply moves all the same
        try:
            if conversation is None:  # still loading: nothing was sent, the question is back at the prompt
                repl.next_input = question
                repl.output.note(back)
                return
            sent = await conversation.recall.last_question() == question
            if sent:  # kept, with the files queued for it (stopped as it was kept: the queue emptied here too)
                queued.clear()
            if sent and not await conversation.recall.left_unanswered():
                repl.output.note("the reply had ended: nothing to move to the background")
                return
            if not sent and queued:  # stopped before it was kept: its files would stay behind
                repl.next_input = question
                repl.output.note(f"{back}, with its {counted(len(queued), 'file')} still queued")
                return
            # Stopped before the question was kept: asked in the background as /bg asks it; else asked again there.
            job = jobs.ask_in_background(conversation, question, settings, repl.session.environ, again=sent)
        except ChatError as exc:  # max_jobs: one line, and the question is kept as a stopped one is
            repl.output.error(describe(exc, settings).line)
            if sent is False:  # never kept: /retry would ask the one before it
                repl.next_input = question
                repl.output.note(back)
            else:
                repl.unanswered = question
                repl.output.note(KEPT)
            return
        repl.session.started.append(job)
        repl.output.note(
            f"moved to the background as job {job.id}: it answers the question again there (chat attach {job.id} "
            "follows it); said here when it ends. Meanwhile a message here waits for it, /new starts another thread"
        )


def _ended_jobs(repl: Repl) -> list[str]:
    """A line for each background reply started here (/bg) that has ended or waits for you since the last look."""
    for pid in list(repl.ending):  # started here: each job's process is this one's child, reaped once it exits
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        repl.ending.remove(pid)
    started = repl.session.started
    if not started:
        return []
    from chatcli.service import jobs

    lines = []
    for job in list(started):
        seen = jobs.seen(job, repl.session.environ)
        if seen.state != "running":
            started.remove(job)
            repl.ending.append(job.pid)
            lines.append(jobs.ended_line(seen))
    return lines


async def _tell_ended_jobs(repl: Repl, session: PromptSession[str], above: AbovePrompt) -> None:
    """While the prompt waits for a line, say above it when a background reply started here ends (during a turn the
    line waits for the next prompt: never across an answer)."""
    from chatcli.core.events import Notice

    while True:
        await asyncio.sleep(JOBS_LOOK)
        if (repl.session.started or repl.ending) and session.app.is_running:
            for line in _ended_jobs(repl):
                above.hear(Notice(line))


async def _models(chat: Chat) -> list[str]:
    """Every provider's models that are set up, for /model Tab (one that cannot list is left out)."""
    return (await chat.models()).names


def _prompt_text(session: Context) -> str:
    """ "> ", or "[2 files] > " while files wait to go with the next message."""
    return f"[{counted(len(session.attached), 'file')}] > " if session.attached else "> "


def _toolbox(session: Context) -> Any:
    """The session's tools once the thread is open (for Tab), else None."""
    return session.conversation.toolbox if session.conversation is not None else None


async def _kept(conversation: Thread | None) -> str | None:
    """The id of the thread the session ends on, if it was stored (an empty new thread was not)."""
    with contextlib.suppress(Exception):  # leaving must not fail for want of an answer
        if conversation is not None and await conversation.threads().info(conversation.thread_id) is not None:
            return conversation.thread_id
    return None


async def _reread(conversation: Thread | None, threads: ThreadCache, status: StatusLine) -> None:
    """After each line the prompt ran: the threads and titles for Tab, and the status line when shown (the model,
    the thread, the room left), read now, never at Tab time or on a redraw."""
    if conversation is None:
        return
    with contextlib.suppress(StoreError):  # a stale list is better than a dead prompt
        await threads.refresh(conversation.threads())
    if status.shown:
        await status.refresh(conversation)


def _resume(chat: Chat) -> str:
    """How the hints name the command that goes on with a thread ``{id}`` of this prompt."""
    from chatcli.core.binding import resume_template

    return resume_template(chat.answerer.binding, chat.settings.db or "")


def _instructions(chat: Chat) -> list[str]:
    """The header's line naming the project's AGENTS.md files in effect (chat's own graph sends them)."""
    if not chat.settings.project_instructions or not chat.answerer.can.prompt:
        return []
    from chatcli.backends.own.standing import instruction_files

    found = instruction_files(chat.settings.workdir or os.getcwd())
    return ["project instructions: " + ", ".join(map(str, found)) + " · sent with every question"] if found else []


async def run_repl(
    chat: Chat,
    opening: Opening,
    output: Output,
    *,
    setup: ThreadSetup | None = None,
    session: PromptSession[str] | None = None,
    debug: bool = False,
    named: bool = False,
) -> None:
    """Chat until Ctrl-D or /exit, starting on the thread ``opening`` names (``chat.find``'s); lines starting with
    "/" are commands.

    A thread that exists, or was asked for by id (``named``: the user chose the new thread's id), was resumed: if it
    was waiting for tool-call approval when chat stopped, that is asked again before the first prompt.
    """
    settings, thread_id, info = chat.settings, opening.thread_id, opening.info
    threads = ThreadCache()
    # chat's own graph: the models of its providers for /model Tab
    models = ModelCache(lambda: _models(chat)) if chat.answerer.can.prompt else ModelCache()
    session = session or make_session(
        settings, CommandCompleter(threads, models, settings.roles_dir, lambda: _toolbox(here), chat.commands)
    )
    if hasattr(session.history, "warn"):  # the input history file: a failure to write it is one line
        session.history.warn = output.warn
    for line in [*banner(thread_id, info, named, _resume(chat)), *_instructions(chat)]:
        output.note(line)
    newline = "Ctrl-J" if settings.editing_mode == "vi" else "Alt-Enter"
    output.note(f"Enter sends · {newline} newline · Ctrl-C stops a reply · /help commands · Ctrl-D or exit quits")
    setup = setup or ThreadSetup()
    status = StatusLine(settings.status_line)
    # The prompt's session: the thread it is on once open, and the files queued (chat -a FILE: for the first message).
    here = Context(None, output, settings, chat, list(setup.attachments), status=status, environ=chat.environ)
    for item in setup.attachments:  # read and checked already: said before the prompt
        output.note(f"attached: {item.line} · sent with your next message")
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(chat)  # what the chat opens closes with the prompt
        setup = replace(setup, announce=info is None and not named)
        above = AbovePrompt(session, output)
        loading = asyncio.create_task(_open(here, opening, setup, threads, above, status))
        repl = Repl(loading, here, output, settings, debug, CtrlC(session), keys=session.input, above=above)
        here.prefill = lambda text: setattr(repl, "next_input", text)
        # The server's model list for /model Tab, fetched once the engine is in (never at Tab time).
        loading.add_done_callback(lambda done: models.refresh_soon() if here.conversation is not None else None)
        stopped = lambda: repl.received is not None  # noqa: E731 - the prompt then ends with 128 + that signal
        stack.enter_context(
            on_stop_signals(lambda signum: repl.on_signal(signum, session), (signal.SIGTERM, signal.SIGHUP), stopped)
        )
        stack.enter_context(on_stop_signals(repl.ctrl_c, (signal.SIGINT,), stopped))
        stack.enter_context(keys_as_typed(session.input))  # Enter typed at any moment is an Enter
        telling = asyncio.create_task(_tell_ended_jobs(repl, session, above))
        stack.callback(telling.cancel)
        try:
            if named or info is not None:  # resumed
                from chatcli.ui.commands.threads import go_on_waiting_here

                await _cancellable(repl, lambda thread: go_on_waiting_here(here, thread), "stopped")
            idle_ctrl_c = 0
            while repl.received is None:
                try:
                    for line in _ended_jobs(repl):
                        output.note(line)
                    take_typed_lines(session.input)  # typed before this prompt: Enter still sends
                    repl.ctrl_c.early = False  # Ctrl-C from now on is for this prompt's line (raw: a key)
                    session.bottom_toolbar = status.toolbar()  # None (off): no row is drawn for it
                    text = await session.prompt_async(
                        lambda: mode_mark(session) + _prompt_text(here), default=repl.next_input, handle_sigint=False
                    )
                    repl.next_input = ""
                except KeyboardInterrupt:  # Ctrl-C at the prompt clears the line
                    idle_ctrl_c = 0 if session.default_buffer.text.strip() else idle_ctrl_c + 1
                    if idle_ctrl_c == _CTRL_C_HINT:
                        output.note("Ctrl-D or /exit leaves")
                        idle_ctrl_c = 0
                    continue
                except EOFError:
                    break
                idle_ctrl_c = 0
                if not text.strip():
                    continue
                if leaves(text):
                    break
                if not await dispatch(repl, text) or repl.received is not None:
                    break
                await _reread(here.conversation, threads, status)
        finally:
            loading.cancel()  # (nothing, once it is done)
            with contextlib.suppress(BaseException):
                await loading
        kept = await _kept(here.conversation)
    with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
        output.note(f"bye · resume with: {_resume(chat).format(id=kept)}" if kept else "bye")
    if repl.received is not None:
        raise Interrupted(repl.received)
