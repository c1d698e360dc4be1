"""The ``chat`` command: parse flags, load settings, run the REPL or one answer, map errors to exit codes."""

from __future__ import annotations

import asyncio
import sys
import traceback
from typing import Any, Optional

import typer

from chatcli import __version__
from chatcli.config import Settings, load_settings
from chatcli.errors import ChatError, ExitStatus, UsageError

HELP = """Chat with a language model in your terminal; conversations are kept and can be resumed.

With no QUESTION and a terminal on stdin, opens an interactive prompt. With a QUESTION, or
with text piped on stdin, prints one answer to stdout and exits (both given: the question
comes first, then the piped text).

The endpoint is any OpenAI-compatible server: set OPENAI_API_KEY for OpenAI, or
OPENAI_BASE_URL for Ollama, vLLM, llama.cpp or LM Studio. Settings can also live in
$XDG_CONFIG_HOME/chatcli/config.toml or a .env file (see .env.example).

Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 configuration, 4 model or API error,
5 database error, 130 interrupted.
"""

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def parse_vars(pairs: list[str]) -> dict[str, str]:
    """Turn ``name=value`` flags into a dict, or fail with the offending flag."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"--var expects NAME=VALUE, got {pair!r}")
        result[name.strip()] = value
    return result


def read_stdin(stdin: Any) -> str:
    """Read piped input as UTF-8 text, or fail clearly."""
    data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"stdin is not valid UTF-8 (byte {exc.start})") from None


def compose_question(question: str | None, piped: str | None) -> str:
    """The question to send: the argument, the piped text, or the argument then the piped text."""
    parts = [part for part in (question, piped) if part and part.strip()]
    if not parts:
        raise UsageError("nothing to send: the question is empty")
    return "\n\n".join(parts)


async def answer_once(settings: Settings, thread_id: str, text: str, setup: dict[str, Any]) -> None:
    """Print one streamed answer to stdout; the thread id goes to stderr."""
    from chatcli.ask import ask
    from chatcli.render import make_output
    from chatcli.turns import open_conversation

    output = make_output()
    output.note(f"thread: {thread_id}")
    async with open_conversation(settings, thread_id) as conversation:
        await conversation.set_system(setup.get("system"), setup.get("vars"))
        await ask(conversation, text, output, settings)


def preflight(settings: Settings) -> None:
    """Cheap checks that fail before the prompt opens: credentials and the database file."""
    from chatcli.models import check_credentials
    from chatcli.store import check_database, prepare_db_path

    check_credentials(settings)
    check_database(prepare_db_path(settings.db or ""))


def run(question: str | None, thread: str | None, settings: Settings, setup: dict[str, Any]) -> None:
    """Choose between one answer and the interactive prompt, and run it."""
    from chatcli.turns import check_thread_id, new_thread_id

    thread_id = check_thread_id(thread) if thread else new_thread_id()
    piped = None if sys.stdin.isatty() else read_stdin(sys.stdin)
    preflight(settings)
    if question is not None or piped is not None:
        asyncio.run(answer_once(settings, thread_id, compose_question(question, piped), setup))
        return
    from chatcli.render import make_output
    from chatcli.repl import run_repl

    asyncio.run(run_repl(settings, thread_id, make_output(), setup=setup))


def report(exc: BaseException, debug: bool, settings: Settings | None = None) -> int:
    """Print one line for an error (and the traceback with --debug); return the exit code."""
    from chatcli.models import redact

    if debug:
        # Server errors can echo the key back (401 "Incorrect API key provided: sk-..."): redact.
        sys.stderr.write(redact("".join(traceback.format_exception(exc)), settings or Settings()))
    if isinstance(exc, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        return ExitStatus.INTERRUPTED
    if isinstance(exc, ChatError):
        sys.stderr.write(f"chat: error: {exc}\n")
        return exc.exit_status
    detail = redact(f"{type(exc).__name__}: {exc}", settings or Settings())
    sys.stderr.write(f"chat: unexpected error: {detail} (run with --debug for details)\n")
    return ExitStatus.ERROR


def _version(value: bool) -> None:
    if value:
        print(f"chatcli {__version__}")
        raise typer.Exit()


@app.command(help=HELP)
def chat(
    question: Optional[str] = typer.Argument(None, metavar="QUESTION", help="Ask this and exit (otherwise open the prompt)."),
    thread: Optional[str] = typer.Option(None, "--thread", "-t", metavar="ID", help="Resume (or start) the thread with this id."),
    model: Optional[str] = typer.Option(None, "--model", "-m", metavar="NAME", help="Model name [env: CHATCLI_MODEL]."),
    system: Optional[str] = typer.Option(None, "--system", "-s", metavar="TEXT", help="Set the thread's system prompt (kept with the thread)."),
    var: list[str] = typer.Option([], "--var", metavar="NAME=VALUE", help="Fill {NAME} in the system prompt: NAME=VALUE (kept; repeatable)."),
    db: Optional[str] = typer.Option(None, "--db", metavar="PATH", help="Conversation database file [env: CHATCLI_DB]."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    settings: Settings | None = None
    try:
        setup = {"system": system, "vars": parse_vars(var)}
        settings = load_settings({"model": model, "db": db})
        run(question, thread, settings, setup)
    except (ChatError, KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - the one place errors meet the user
        raise typer.Exit(report(exc, debug, settings)) from None


def main() -> None:
    """Console-script entry point."""
    app()
