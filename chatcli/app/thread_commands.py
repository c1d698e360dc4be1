"""The thread subcommands: ``chat threads``, ``show``, ``export``, ``import``, ``rm``, ``search``, ``title``, ``fork``."""

from __future__ import annotations

from typing import Any, Optional

import typer

from chatcli.app.common import DB, DEBUG, app, environment, guarded, with_threads
from chatcli.app.run import read_stdin
from chatcli.errors import UsageError


@app.command("threads")
def threads_command(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (for scripts)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, metavar="N", help="Show at most N threads."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """List threads, most recently used first."""
    import json

    async def action(threads: Any) -> None:
        from chatcli.ui.listing import print_threads

        rows = await threads.list(limit)
        if as_json:
            environment().stdout.write(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=1) + "\n")
        else:
            print_threads(rows, environment().stdout)

    guarded(debug, with_threads(action, read_only=True), {"db": db})


@app.command("show")
def show_command(
    thread_id: str = typer.Argument(..., metavar="ID"),
    thinking: bool = typer.Option(False, "--thinking", help="Show a reasoning model's thinking in full (in a terminal it is one line per answer)."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Print a thread's transcript (rendered in a terminal, Markdown text in a pipe), tool calls and thinking included."""

    async def action(threads: Any) -> None:
        from chatcli.ui.listing import print_transcript

        print_transcript(await threads.transcript(thread_id), environment().stdout, thinking)

    guarded(debug, with_threads(action, read_only=True), {"db": db})


@app.command("export")
def export_command(
    thread_id: str = typer.Argument(..., metavar="ID"),
    fmt: str = typer.Option("md", "--format", "-f", metavar="md|json", help="Markdown, or JSON that `chat import` reads back."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to a new FILE (never overwritten; readable by you only), as /export does."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Write a thread as Markdown or JSON (roles, text, times, model) to stdout, or to a new file with -o."""
    import json

    async def action(threads: Any) -> None:
        from chatcli.chat.threads import transcript_markdown

        if fmt == "json":
            text = json.dumps(await threads.export_json(thread_id), ensure_ascii=False, indent=1) + "\n"
        elif fmt == "md":
            text = transcript_markdown(await threads.transcript(thread_id))
        else:
            raise UsageError(f"unknown format {fmt!r}: use md or json")
        if output is not None:
            from chatcli.ui.commands.threads import write_private

            environment().stderr.write(f"wrote {write_private(output, text)}\n")
        elif fmt == "md" and environment().stdout.isatty():
            from chatcli.text import neutralise

            environment().stdout.write(neutralise(text))
        else:
            environment().stdout.write(text)

    guarded(debug, with_threads(action, read_only=True), {"db": db})


@app.command("import")
def import_command(
    file: str = typer.Argument(..., metavar="FILE", help="A JSON export (`chat export ID --format json`), or - for stdin."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Read a JSON export back as a new thread and print its id."""
    import json

    async def action(threads: Any) -> None:
        try:
            text = read_stdin(environment().stdin) if file == "-" else open(file, encoding="utf-8").read()
            data = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read {file}: {exc}") from None
        except RecursionError:
            raise UsageError(f"cannot read {file}: it is nested too deeply to be a thread export") from None
        environment().stdout.write(await threads.import_json(data) + "\n")

    guarded(debug, with_threads(action), {"db": db})


@app.command("rm")
def rm_command(
    thread_ids: list[str] = typer.Argument(..., metavar="ID..."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Delete threads (their messages, checkpoints and index entry)."""

    async def action(threads: Any) -> None:
        for thread_id in thread_ids:
            await threads.transcript(thread_id)  # every id must exist before anything is deleted
        if not yes:
            if not environment().stdin_isatty:
                raise UsageError("not deleting without confirmation", hint="add --yes")
            if not typer.confirm(f"Delete {len(thread_ids)} thread(s): {', '.join(thread_ids)}?", err=True):
                raise UsageError("nothing deleted")
        for thread_id in thread_ids:
            await threads.delete(thread_id)
            environment().stderr.write(f"deleted {thread_id}\n")

    guarded(debug, with_threads(action), {"db": db})


@app.command("search")
def search_command(
    text: str = typer.Argument(..., metavar="TEXT"),
    limit: int = typer.Option(20, "--limit", "-n", min=1, metavar="N", help="Show at most N matches."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Full-text search over every thread: thread, turn and a snippet per match."""

    async def action(threads: Any) -> None:
        from chatcli.ui.listing import print_hits

        hits = await threads.search(text, limit)
        if not hits:
            raise UsageError(f"no match for {text!r}")
        print_hits(hits, environment().stdout)

    guarded(debug, with_threads(action, read_only=True), {"db": db})


@app.command("title")
def title_command(
    thread_id: str = typer.Argument(..., metavar="ID"),
    title: str = typer.Argument(..., metavar="TEXT"),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Rename a thread."""
    guarded(debug, with_threads(lambda threads: threads.rename(thread_id, title)), {"db": db})


@app.command("fork")
def fork_command(
    thread_id: str = typer.Argument(..., metavar="ID"),
    at: int = typer.Option(..., "--at", min=1, metavar="N", help="Keep the first N turns."),
    new_id: Optional[str] = typer.Option(None, "--as", metavar="NEW_ID", help="Id of the new thread (default: random)."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Start a new thread holding the first N turns of ID; the original is untouched. Prints the new id."""

    async def action(threads: Any) -> None:
        environment().stdout.write(await threads.fork(thread_id, at, new_id) + "\n")

    guarded(debug, with_threads(action), {"db": db})
