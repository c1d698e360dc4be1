"""``chat compact ID [--focus TEXT] [--json]``: a thread's earlier turns folded into a summary, from a script.

The command table's /compact (chatcli.service.command_runs.compact), run as chat serve's ``POST
/v1/threads/ID/compact`` runs it: the thread is opened as a one-shot opens it (its id resolved the same way, its
model, the local model when the settings want it, the thread's lock), and a graph's thread is refused in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import typer

from chatcli.app.shared import environment, opt, subcommand, switch
from chatcli.config import Settings
from chatcli.text import say, say_json

if TYPE_CHECKING:
    from chatcli.service.opening import Opening


@subcommand("compact", db=True)
def compact_command(
    settings: Settings,
    wanted: str = typer.Argument(
        ..., metavar="ID", help="The thread: its id, or a unique start of a generated one.", show_default=False
    ),
    focus: Optional[str] = opt(
        "--focus TEXT",
        "What the summary must keep above all, in detail (--focus 'the API decisions and the open bugs').",
    ),
    as_json: bool = switch(
        "--json", "Print a JSON object: thread_id, turns, tokens_before, tokens_after, focus, usage, cost_usd, summary."
    ),
) -> None:
    """Fold a thread's earlier turns into a summary that is sent to the model in their place.

    Every turn but the last is folded by one request to the thread's model (--focus says what the summary must
    keep); from then on each question sends the summary instead of those turns. Nothing is deleted: chat show,
    export and search still have every turn. At the prompt (chat -t ID), /summary shows the summary, and /undo
    before another question takes the compaction back. A thread of a graph (--graph, --remote) is refused: its
    memory is its graph's.
    """
    import asyncio
    from contextlib import ExitStack

    from chatcli.app.run import make_env_output, stoppable
    from chatcli.core.events import Silent
    from chatcli.service.chat import Chat
    from chatcli.service.commands import run_offered

    env = environment()
    chat, thread_id = Chat(settings), None

    async def compact(opening: Opening) -> Any:
        async with chat:
            await chat.open(make_env_output(env, chat.settings), tools=False)  # hears a database another program holds
            thread = await chat.thread(opening, listener=Silent())  # its result is said once, below
            return await run_offered(chat, thread, chat.commands().by_name["/compact"], focus or "")

    try:
        opening = asyncio.run(chat.find(wanted, exists=True, own=True))
        thread_id = opening.thread_id
        with ExitStack() as stack:
            chat.set_up(stack, make_env_output(env).note, quiet=as_json)
            done = asyncio.run(stoppable(compact(opening)))
    except BaseException as exc:
        if as_json and not isinstance(exc, SystemExit):  # a script reads one object on stdout, failed or not
            from chatcli.backends.own.failures import describe

            error = describe(exc, settings).object()
            say_json(env.stdout, {"thread_id": thread_id, "error": error}, indent=None)
        raise
    if as_json:
        say_json(env.stdout, done.data, indent=None)
        return
    say(env.stdout, done.lines[0] + "\n")
    say(
        env.stderr, f"chat -t {thread_id} then /summary shows it; /undo there, before another question, takes it back\n"
    )
