"""The subcommands that run a command of the command table (chatcli.service.commands) on one thread, as chat serve's
``POST /v1/threads/ID/commands`` runs it: ``chat compact ID`` (/compact) and ``chat fork ID`` (/fork). Each parses its
options into the command's argument, then says what the command did its own way."""

from __future__ import annotations

import shlex
from typing import Optional, cast

import typer

from chatcli.app.shared import environment, opt, subcommand, switch
from chatcli.config import Settings
from chatcli.service.command_runs import Said
from chatcli.text import say, say_json

ID = typer.Argument(..., metavar="ID", help="The thread: its id, or a unique start of a generated one.")


def run_command(
    settings: Settings, ref: str, name: str, arg: str, *, answers: bool, quiet: bool = False, found: list[str]
) -> Said:
    """Run the table's command ``name`` with ``arg`` on the thread ``ref`` names (its id resolved as every door
    resolves it; the id goes into ``found``). ``answers``: the command asks the thread's model: the thread is opened
    as a one-shot opens it (its model, the local model when the settings want it, said unless ``quiet``; the key
    checked; the thread's lock) and a graph's thread is refused; else any thread here is opened on chat's own graph
    with no model, which needs no key."""
    import asyncio
    from contextlib import ExitStack

    from chatcli.app.run import make_env_output, stoppable
    from chatcli.core.events import Silent
    from chatcli.service.chat import Chat
    from chatcli.service.commands import run_offered
    from chatcli.service.opening import Opening

    env = environment()
    chat = Chat(settings, environ=env.environ)

    async def run(opening: Opening) -> Said:
        async with chat:  # (it hears a database another program holds)
            await chat.open(make_env_output(env, chat.settings), tools=False, answers=answers)
            thread = await chat.thread(opening, listener=Silent())  # what it did is said once, by the subcommand
            return cast(Said, await run_offered(chat, thread, chat.commands().by_name[name], arg))

    opening = asyncio.run(chat.find(ref, exists=True, own=answers, going_on=answers))
    found.append(opening.thread_id)
    with ExitStack() as stack:
        if answers:
            chat.set_up(stack, make_env_output(env).note, quiet=quiet)
        return asyncio.run(stoppable(run(opening)))


@subcommand("compact", db=True)
def compact_command(
    settings: Settings,
    wanted: str = ID,
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
    env, found = environment(), list[str]()
    try:
        done = run_command(settings, wanted, "/compact", focus or "", answers=True, quiet=as_json, found=found)
    except BaseException as exc:
        if as_json and not isinstance(exc, SystemExit):  # a script reads one object on stdout, failed or not
            from chatcli.backends.own.failures import describe

            error = describe(exc, settings).object()
            say_json(env.stdout, {"thread_id": found[0] if found else None, "error": error}, indent=None)
        raise
    if as_json:
        say_json(env.stdout, done.data, indent=None)
        return
    say(env.stdout, done.lines[0] + "\n")
    say(env.stderr, f"chat -t {found[0]} then /summary shows it; /undo there, before another question, takes it back\n")


@subcommand("fork", db=True)
def fork_command(
    settings: Settings,
    thread_id: str = ID,
    at: str = opt(
        "--at NODE",
        "The node of ID's tree the new thread ends at, a number or a label (a thread never rewound: its first "
        "NODE turns).",
        ...,
    ),
    new_id: Optional[str] = opt("--as NEW_ID", "Id of the new thread (default: random)."),
) -> None:
    """Start a new thread holding the branch of ID that ends at NODE (chat tree ID shows them); the original is
    untouched. Prints the new id."""
    line = shlex.join(["--at", at, *(["--as", new_id] if new_id is not None else [])])
    done = run_command(settings, thread_id, "/fork", line, answers=False, found=[])
    say(environment().stdout, f"{done.forked}\n", data=True)
