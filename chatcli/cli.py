"""The ``chat`` command line (Typer): flags, subcommands and routing; the work is done elsewhere."""

from __future__ import annotations

import asyncio
import sys
from enum import Enum
from typing import Any, Optional

import typer

from chatcli import __version__
from chatcli.config import Settings, load_settings
from chatcli.errors import ChatError, UsageError
from chatcli.launch import parse_vars, read_stdin, report, run

HELP = """Chat with a language model in your terminal; conversations are kept and can be resumed.

\b
  chat [OPTIONS] [QUESTION]    ask, or open the prompt
  chat threads [--json]        list conversations, newest first
  chat show ID                 print a transcript
  chat export ID -f md|json    export; `chat import FILE` reads JSON back
  chat rm ID... [--yes]        delete
  chat search TEXT             full-text search over all threads
  chat title ID TEXT           rename
  chat fork ID --at N          new thread from the first N turns
  (each has --help; `chat ask TEXT` asks a question that is a command name)

With no QUESTION and a terminal on stdin, opens an interactive prompt. With a QUESTION, or
with text piped on stdin, prints one answer to stdout and exits (both given: the question
comes first, then the piped text). --json prints that answer as one JSON object, --jsonl
as JSON lines while it streams (for scripts).

The endpoint is any OpenAI-compatible server: set OPENAI_API_KEY for OpenAI, or
OPENAI_BASE_URL for Ollama, vLLM, llama.cpp or LM Studio. Settings can also live in
$XDG_CONFIG_HOME/chatcli/config.toml or a .env file (see .env.example).

No key? --local runs a small model on this machine, no network needed (install it with
CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip install --no-cache-dir "chatcli[local]";
the README says why); with no key and no endpoint set, chat uses it by itself.
--local-model PATH runs another GGUF model file instead.

Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 configuration, 4 model or API error,
5 database error, 130 interrupted.
"""

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

# Management commands; anything else on the command line is a question (the hidden `ask`).
COMMANDS = ("threads", "show", "export", "import", "rm", "search", "title", "fork", "ask")
# Options that take a value, so that their value is not mistaken for a command name.
_VALUED = {"-t", "--thread", "-m", "--model", "-s", "--system", "--var", "--db", "--format", "--limit", "--at", "--as", "--memory", "--local-model"}


def route(args: list[str]) -> list[str]:
    """Put the command name first, defaulting to `ask`: `chat -t x threads` means `chat threads -t x`."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-"):
            if arg in COMMANDS:
                return [arg, *args[:i], *args[i + 1 :]]
            break
        i += 2 if arg in _VALUED else 1
    return ["ask", *args]


def _version(value: bool) -> None:
    if value:
        print(f"chatcli {__version__}")
        raise typer.Exit()


def guarded(debug: bool, action: Any, flags: dict[str, Any] | None = None, on_error: Any = None) -> None:
    """Load settings, run ``action(settings)``, and turn any failure into one line and an exit code.

    ``on_error(exc)``, if given, also reports the failure (--json puts an error object on stdout).
    """
    settings: Settings | None = None
    try:
        settings = load_settings(flags or {})
        action(settings)
    except (ChatError, KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - the one place errors meet the user
        if on_error is not None:
            on_error(exc)
        raise typer.Exit(report(exc, debug, settings)) from None


def with_threads(action: Any) -> Any:
    """Run an async ``action(threads)`` against the database in settings; returns a settings -> None."""

    def run_it(settings: Settings) -> None:
        from chatcli.manage import open_threads

        async def main() -> None:
            async with open_threads(settings) as threads:
                await action(threads)

        asyncio.run(main())

    return run_it


class Memory(str, Enum):
    """Values of --memory (see Settings.memory)."""

    trim = "trim"
    summary = "summary"


DB = typer.Option(None, "--db", metavar="PATH|URL", help="Conversation database: a SQLite file, or a postgresql:// URL [env: CHATCLI_DB].")
DEBUG = typer.Option(False, "--debug", help="Show tracebacks for errors.")


@app.command("ask", help=HELP, hidden=True)
def ask_command(
    question: Optional[str] = typer.Argument(None, metavar="QUESTION", help="Ask this and exit (otherwise open the prompt)."),
    thread: Optional[str] = typer.Option(None, "--thread", "-t", metavar="ID", help="Resume (or start) the thread with this id."),
    model: Optional[str] = typer.Option(None, "--model", "-m", metavar="NAME", help="Model name [env: CHATCLI_MODEL]."),
    system: Optional[str] = typer.Option(None, "--system", "-s", metavar="TEXT", help="Set the thread's system prompt (kept with the thread)."),
    var: list[str] = typer.Option([], "--var", metavar="NAME=VALUE", help="Fill {NAME} in the system prompt: NAME=VALUE (kept; repeatable)."),
    memory: Optional[Memory] = typer.Option(
        None,
        "--memory",
        metavar="trim|summary",
        help="History beyond the context budget: left out (trim), or sent as a running summary [env: CHATCLI_MEMORY].",
    ),
    local: bool = typer.Option(
        False,
        "--local",
        help='Chat with the local model: started on this machine, no key or network [env: CHATCLI_LOCAL=1; needs the local extra: see above].',
    ),
    local_model: Optional[str] = typer.Option(
        None,
        "--local-model",
        metavar="PATH",
        help="Run this GGUF model file as the local model (implies --local) [env: CHATCLI_LOCAL_MODEL].",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as one JSON object (for scripts; one-shot only)."),
    as_jsonl: bool = typer.Option(False, "--jsonl", help="Stream the answer as JSON lines: token events, then a done object."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    json_output = None
    if as_json or as_jsonl:
        from chatcli.jsonout import JsonOutput

        json_output = JsonOutput(lines=as_jsonl)

    def action(settings: Settings) -> None:
        if as_json and as_jsonl:
            raise UsageError("--json and --jsonl cannot be used together")
        run(question, thread, settings, {"system": system, "vars": parse_vars(var)}, json_output)

    on_error = json_output.fail if json_output is not None else None
    flags = {"model": model, "db": db, "memory": memory.value if memory else None, "local": True if local else None, "local_model": local_model}
    guarded(debug, action, flags, on_error)


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
        from chatcli.render import print_threads

        rows = await threads.list(limit)
        if as_json:
            sys.stdout.write(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=1) + "\n")
        else:
            print_threads(rows)

    guarded(debug, with_threads(action), {"db": db})


@app.command("show")
def show_command(thread_id: str = typer.Argument(..., metavar="ID"), db: Optional[str] = DB, debug: bool = DEBUG) -> None:
    """Print a thread's transcript (rendered in a terminal, Markdown text in a pipe)."""

    async def action(threads: Any) -> None:
        from chatcli.render import print_transcript

        print_transcript(await threads.transcript(thread_id))

    guarded(debug, with_threads(action), {"db": db})


@app.command("export")
def export_command(
    thread_id: str = typer.Argument(..., metavar="ID"),
    fmt: str = typer.Option("md", "--format", "-f", metavar="md|json", help="Markdown, or JSON that `chat import` reads back."),
    db: Optional[str] = DB,
    debug: bool = DEBUG,
) -> None:
    """Write a thread to stdout as Markdown or JSON (roles, text, times, model)."""
    import json

    async def action(threads: Any) -> None:
        from chatcli.manage import transcript_markdown

        if fmt == "json":
            sys.stdout.write(json.dumps(await threads.export_json(thread_id), ensure_ascii=False, indent=1) + "\n")
        elif fmt == "md":
            from chatcli.render import neutralise

            text = transcript_markdown(await threads.transcript(thread_id))
            sys.stdout.write(neutralise(text) if sys.stdout.isatty() else text)
        else:
            raise UsageError(f"unknown format {fmt!r}: use md or json")

    guarded(debug, with_threads(action), {"db": db})


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
            text = read_stdin(sys.stdin) if file == "-" else open(file, encoding="utf-8").read()
            data = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read {file}: {exc}") from None
        print(await threads.import_json(data))

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
            if not sys.stdin.isatty():
                raise UsageError("not deleting without confirmation", hint="add --yes")
            if not typer.confirm(f"Delete {len(thread_ids)} thread(s): {', '.join(thread_ids)}?", err=True):
                raise UsageError("nothing deleted")
        for thread_id in thread_ids:
            await threads.delete(thread_id)
            sys.stderr.write(f"deleted {thread_id}\n")

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
        from chatcli.render import print_hits

        hits = await threads.search(text, limit)
        if not hits:
            raise UsageError(f"no match for {text!r}")
        print_hits(hits)

    guarded(debug, with_threads(action), {"db": db})


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
        print(await threads.fork(thread_id, at, new_id))

    guarded(debug, with_threads(action), {"db": db})


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = route(sys.argv[1:] if argv is None else argv)
    if args[0] == "ask":  # the default command presents itself as `chat` itself
        command = typer.main.get_command(app).commands["ask"]  # type: ignore[attr-defined]
        command.main(args=args[1:], prog_name="chat")
    else:
        app(args=args, prog_name="chat")
