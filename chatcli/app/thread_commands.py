"""The thread subcommands: ``chat threads``, ``show``, ``tree``, ``export``, ``import``, ``rm``, ``search``,
``title`` (``chat fork`` and ``compact`` run the command table's: chatcli.app.table_commands)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional, TypeVar

import typer

from chatcli.app.run import read_export
from chatcli.app.shared import ASSISTANT, HEADER, JSON_LIST, environment, opt, subcommand, switch
from chatcli.config import Settings
from chatcli.errors import ChatError, UsageError
from chatcli.service import jobs
from chatcli.text import counted, say, say_json

F = TypeVar("F", bound=Callable[..., Any])
EMPTY = 'no threads yet: chat "a question" starts one'


class NoMatch(ChatError):
    """A search found nothing: exit 1 and not a word, as grep (2 stays for usage errors)."""


def on_threads(name: str, *, read_only: bool = True, light: bool = True) -> Callable[[F], F]:
    """Register the async ``command(threads, **options)`` as the subcommand ``name`` (``subcommand``, with --db): it
    runs on the threads of the database the settings name. ``light`` (all but import and fork): the database is
    opened without LangGraph, so the command starts as fast as ``chat --version``."""

    def on(action: Any) -> Callable[[Settings], None]:
        def run(settings: Settings) -> None:

            from chatcli.threads.opening import open_threads

            async def main() -> None:
                async with open_threads(settings, read_only, light=light) as threads:
                    await action(threads)

            asyncio.run(main())

        return run

    return subcommand(name, db=True, opening=on)


async def named(threads: Any, ref: str | None) -> str:
    """The id of the thread ``ref`` names, as every door resolves it (chatcli.service.chat.Chat.find: an id, a unique
    start of a generated one, a typo named; a thread on an Agent Server said in one line); the latest without one."""
    from chatcli.service.chat import Chat

    chat = Chat(threads.settings, environ=environment().environ)
    return (await chat.find(ref, latest=ref is None, going_on=False)).thread_id


async def on_server(url: str, assistant: str | None, header: list[str]) -> Any:
    """The LangGraph server at ``url`` (chatcli.backends.remote.client.Remote), closed as the ``async with`` it is
    given to ends: its threads are all its graphs' unless --assistant names one."""
    from contextlib import aclosing

    from chatcli.backends.remote.client import Remote, remote_spec

    return aclosing(await Remote.open(remote_spec(url, assistant, header, environment().environ), find=False))


@subcommand("threads", db=True)
def threads_command(
    settings: Settings,
    as_json: bool = JSON_LIST,
    limit: Optional[int] = opt("--limit -n N", "Show at most N threads.", min=1),
    remote: Optional[str] = opt("--remote URL", "A LangGraph server's threads (--assistant: one graph's)."),
    assistant: Optional[str] = ASSISTANT,
    header: list[str] = HEADER,
) -> None:
    """List threads, most recently used first (times are local, with their offset from UTC; --json gives ISO 8601 in
    UTC)."""

    from chatcli.ui.listing import print_threads

    async def listed() -> tuple[list[Any], str]:
        """The threads, and what to say when there are none."""
        if remote is not None:
            async with await on_server(remote, assistant, header) as server:
                return await server.threads(limit), f"no threads on {server.spec.url} yet"
        from chatcli.threads.opening import open_threads

        async with open_threads(settings, True, light=True) as threads:
            return await threads.list(limit), EMPTY

    rows, empty = asyncio.run(listed())
    out = environment().stdout
    if as_json:
        say_json(out, [r.as_dict() for r in rows])
    elif not rows:  # a terminal gets the way to start; a pipe gets no lines, a note on stderr
        say(out if out.isatty() else environment().stderr, empty + "\n")
    else:
        print_threads(rows, out)


# A thread's id, a unique start of a generated one (LAST: the last thread when left out).
LAST, ID = typer.Argument(None, metavar="[ID]", show_default=False), typer.Argument(..., metavar="ID")
AT = opt("--at NODE", "One branch: from the first question to this node of the tree (chat tree ID).")


@on_threads("show")
async def show_command(
    threads: Any,
    thread_id: Optional[str] = LAST,
    thinking: bool = switch(
        "--thinking", "Show a reasoning model's thinking in full (in a terminal it is one line per answer)."
    ),
    at: Optional[str] = AT,
) -> None:
    """Print a thread's transcript (the last thread's without ID; rendered in a terminal, through $PAGER or `less -FRX`
    when longer than the screen; Markdown text in a pipe), tool calls and thinking included."""
    from chatcli.ui.listing import print_transcript

    env = environment()
    if (job := jobs.killed(env.environ, thread_id)) is not None and job.thread is not None:
        from chatcli.service.chat import Chat

        async with Chat(threads.settings, environ=env.environ) as chat:  # a killed background reply's words: kept
            await chat.thread(job.thread, exists=True)
    print_transcript(await threads.shown(await named(threads, thread_id), at), env.stdout, thinking, env.environ)


@on_threads("tree")
async def tree_command(
    threads: Any,
    thread_id: Optional[str] = LAST,
    as_json: bool = switch("--json", "Print the tree as JSON (for scripts; docs/usage.md)."),
    unfold: bool = switch("--all -a", "Show every node: fold no long straight run."),
    remote: Optional[str] = opt("--remote URL", "A thread of a LangGraph server (its checkpoint history)."),
    assistant: Optional[str] = ASSISTANT,
    header: list[str] = HEADER,
) -> None:
    """Draw a thread's tree (the last thread's without ID): every question asked on it and every answer it had, one
    line a node, the branch it is on as the main line and marked *; a /retry, an /undo then a new question, a /goto
    each start a branch. `chat -t ID` and /goto N go on from any node."""
    import shutil

    from chatcli.threads.tree import draw, read_tree

    if remote is not None:
        from chatcli.backends.remote.state import ServerApp
        from chatcli.core.inputs import check_thread_id

        if thread_id is None:
            raise UsageError("give the thread's id: chat tree ID --remote URL")
        async with await on_server(remote, assistant, header) as server:  # its checkpoint history, with chat's labels
            tree = await read_tree(check_thread_id(thread_id), threads.store, ServerApp(server))
    else:
        tree = await threads.tree(await named(threads, thread_id))
    out = environment().stdout
    if as_json:
        say_json(out, tree.json())
        return
    width = shutil.get_terminal_size((100, 24)).columns if out.isatty() else 100
    say(out, "".join(line + "\n" for line in draw(tree, width=width, unfold=unfold)), data=True)


@on_threads("export")
async def export_command(
    threads: Any,
    wanted: Optional[str] = LAST,
    fmt: str = opt("--format -f md|json", "Markdown, or JSON that `chat import` reads back.", "md"),
    output: Optional[str] = opt(
        "--output -o FILE", "Write to a new FILE (never overwritten; readable by you only), as /export does."
    ),
    at: Optional[str] = AT,
) -> None:
    """Write a thread (the last one without ID) as Markdown or JSON (roles, text, times, model; JSON times are ISO 8601
    in UTC) to stdout, or to a new file with -o."""
    from chatcli.threads.operations import export_text

    text = await export_text(threads, await named(threads, wanted), fmt, at)
    if output is not None:
        from chatcli.ui.commands.threads import write_private

        say(environment().stderr, f"wrote {write_private(output, text)}\n")
    else:  # a terminal gets it neutralised, a pipe exactly
        say(environment().stdout, text, data=True)


@on_threads("import", read_only=False, light=False)
async def import_command(
    threads: Any,
    file: str = typer.Argument(
        ..., metavar="FILE", help="A thread's JSON export (`chat export ID -f json`), or - for stdin."
    ),
) -> None:
    """Read a thread's JSON export back as a new thread and print its id. Threads only: an export of memories is
    refused (`chat memory import FILE` shows them and asks)."""
    name = "stdin" if file == "-" else file
    data = read_export(environment().stdin, file, "a chatcli JSON export", "`chat export ID -f json` writes one")
    from chatcli.app.memory_commands import EXPORT_FORMAT

    if isinstance(data, dict) and data.get("format") == EXPORT_FORMAT:  # memories: only where each is shown first
        raise UsageError(
            f"{name} is a memories export, not a thread: chat import takes threads; `chat memory import {file}` "
            "shows each memory and asks before keeping it"
        )
    say(environment().stdout, await threads.import_json(data) + "\n", data=True)


@on_threads("rm", read_only=False)
async def rm_command(
    threads: Any,
    thread_ids: list[str] = typer.Argument(..., metavar="ID..."),
    yes: bool = switch("--yes -y", "Do not ask for confirmation."),
) -> None:
    """Delete threads whole (their messages, checkpoints, labels, inbox entries, kept files and background replies);
    lists each one's title and size, then asks."""
    ids = [await named(threads, thread_id) for thread_id in thread_ids]
    found = [await threads.transcript(thread_id) for thread_id in ids]  # every id must exist first
    err = environment().stderr
    if not yes:
        if not environment().stdin_isatty:
            raise UsageError("not deleting without confirmation", hint="add --yes")
        for t in found:  # what would go: each thread's title and size, so no id is deleted blind
            title = " ".join((t.info.title or "(untitled)").split())
            say(err, f"  {t.info.thread_id}  {title} ({counted(len(t.messages), 'message')})\n")
        if not typer.confirm(f"Delete {counted(len(found), 'thread')}?", err=True):
            raise UsageError("nothing deleted")
    for thread_id in dict.fromkeys(ids):
        waiting = f"waiting for the answer being written on thread {thread_id} to end (Ctrl-C gives up)\n"
        await jobs.delete_thread(threads, thread_id, environment().environ, lambda: say(err, waiting))
        say(err, f"deleted {thread_id}\n")


SEARCHED = (
    "Words that must all appear; a word ending in * matches as a prefix (alic* finds alice). Nothing else is special."
)


@on_threads("search")
async def search_command(
    threads: Any,
    text: str = typer.Argument(..., metavar="TEXT", help=SEARCHED),
    limit: int = opt("--limit -n N", "Show at most N matches.", 20, min=1),
    as_json: bool = switch(
        "--json", "Print a JSON list of hits: thread_id, title, turn, speaker, snippet, time (for scripts)."
    ),
) -> None:
    """Full-text search over every thread: thread, turn, speaker, time and a snippet per match.

    In a terminal, a table with the matches highlighted; in a pipe, one tab-separated line per
    match: thread, turn, speaker, time, snippet. Exit 0 when something matches, 1 when nothing does.
    """
    from chatcli.threads.records import hit_record
    from chatcli.ui.listing import print_hits

    hits = await threads.search(text, limit)
    out = environment().stdout
    if as_json:
        say_json(out, [hit_record(h) for h in hits])
    elif hits:
        print_hits(hits, out)
    if not hits:
        raise NoMatch("")  # as grep: nothing found is exit 1, and nothing said


@on_threads("title", read_only=False)
async def title_command(threads: Any, thread_id: str = ID, title: str = typer.Argument(..., metavar="TEXT")) -> None:
    """Rename a thread."""
    await threads.rename(await named(threads, thread_id), title)
