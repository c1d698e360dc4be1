"""What the commands a client is offered do (an editor's available commands, ``chat serve``'s
``/v1/threads/ID/commands``): each runs on a ``Thread`` and gives the turn it ran or the line it says, the same at
every door that is not the prompt. The prompt's handlers (chatcli.ui.commands) print as a terminal does; the commands
themselves are defined once, in chatcli.service.commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.core.events import TurnResult
    from chatcli.service.chat import Chat
    from chatcli.service.commands import Command
    from chatcli.service.thread import Thread


@dataclass(frozen=True)
class Said:
    """What a command that runs no turn did: the line it says, and what a door may show of it besides (the model it
    chose, the thread it forked)."""

    line: str
    model: str | None = None
    forked: str | None = None
    job: str | None = None


Run = Callable[["Chat", "Thread", str], Awaitable["TurnResult | Said"]]


async def run_offered(chat: Chat, thread: Thread, command: Command, arg: str) -> TurnResult | Said:
    """Run ``command`` (with the text after it, ``arg``) on ``thread``: refused in one line where the thread cannot
    do what it needs, or where it is the prompt's only."""
    refused = chat.commands().refusal(command, thread.can, editor=True)
    if refused is not None:
        raise refused
    runs = RUNS.get(command.name) if command.editor is not None else None
    if runs is None:
        raise UsageError(f"{command.name} is run at chat's prompt only", hint="chat -t ID opens the thread there")
    return await runs(chat, thread, arg)


async def _retry(chat: Chat, thread: Thread, arg: str) -> TurnResult:
    return await thread.retry()


async def _undo(chat: Chat, thread: Thread, arg: str) -> Said:
    before = (await thread.tree()).current
    if await thread.undo() is None:
        return Said("nothing to undo")
    return Said("took back the last exchange" + (f" (kept as node {before}: /goto {before})" if before else ""))


async def _model(chat: Chat, thread: Thread, arg: str) -> Said:
    if not arg:
        return Said(f"the model is {thread.model_name or chat.settings.model}")
    await thread.choose_model(arg)
    return Said(f"model {arg} from the next message, kept with this thread", model=arg)


async def _compact(chat: Chat, thread: Thread, arg: str) -> Said:
    done = await thread.own("memory").compact(arg or None)
    return Said(f"compacted {done.turns} earlier turns: {done.before:,} -> {done.after:,} tokens")


async def _summary(chat: Chat, thread: Thread, arg: str) -> Said:
    view = await thread.own("memory").summary()
    return Said(view.text or "no summary yet: every turn is sent whole")


async def _fork(chat: Chat, thread: Thread, arg: str) -> Said:
    from chatcli.threads.operations import Threads

    threads = chat.threads()
    if not isinstance(threads, Threads):
        raise UsageError("this thread cannot be forked here")
    current = (await thread.tree()).current
    if current is None:
        raise UsageError("nothing to fork: this thread is empty")
    new_id = await threads.fork(thread.thread_id, current)  # the branch it is on, to the node it is on
    return Said(f"forked into thread {new_id} (chat -t {new_id})", forked=new_id)


async def _background(chat: Chat, thread: Thread, arg: str) -> Said:
    from chatcli.service import jobs

    if not arg:
        raise UsageError("bg takes the question to answer in the background")
    job = jobs.ask_in_background(thread, arg, chat.settings, chat.environ)
    return Said(
        f"answering in the background as job {job.id}: chat attach {job.id} follows it, chat jobs lists it; this"
        " thread is busy until it ends",
        job=job.id,
    )


async def _tree(chat: Chat, thread: Thread, arg: str) -> Said:
    from chatcli.threads.tree import draw

    return Said("\n".join(draw(await thread.tree(), unfold=arg == "all")))


async def _goto(chat: Chat, thread: Thread, arg: str) -> Said:
    if not arg:
        raise UsageError("/goto takes a node's number or label")
    node = await thread.goto(arg)
    return Said(f"on node {node.number}: the next question goes on from there")


async def _label(chat: Chat, thread: Thread, arg: str) -> Said:
    node = await thread.label(arg)
    return Said(f"node {node.number} is {arg}")


RUNS: dict[str, Run] = {
    "/tree": _tree,
    "/goto": _goto,
    "/label": _label,
    "/compact": _compact,
    "/summary": _summary,
    "/model": _model,
    "/retry": _retry,
    "/undo": _undo,
    "/fork": _fork,
    "/bg": _background,
}
