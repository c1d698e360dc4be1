"""What `chat` does once its flags are parsed: one answer or the prompt, and how failures are reported."""

from __future__ import annotations

import asyncio
import sys
import traceback
from contextlib import ExitStack
from typing import Any

from chatcli.config import Settings
from chatcli.errors import ChatError, ExitStatus, UsageError


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


async def answer_once(settings: Settings, thread_id: str, text: str, setup: dict[str, Any], output: Any = None) -> None:
    """Print one streamed answer to stdout; the thread id goes to stderr (with JSON output, in the object)."""
    from chatcli.ui.reply import ask
    from chatcli.ui.output import make_output
    from chatcli.chat.session import open_conversation

    if output is None:
        output = make_output()
        output.note(f"thread: {thread_id}")
    async with open_conversation(settings, thread_id, output.note) as conversation:
        await conversation.set_system(setup.get("system"), setup.get("vars"))
        await ask(conversation, text, output, settings)


def preflight(settings: Settings) -> None:
    """Cheap checks that fail before the prompt opens: credentials and the database file.

    A PostgreSQL database is checked when it is opened; here only its driver is.
    """
    from chatcli.chat.model import check_credentials
    from chatcli.store import check_store

    check_credentials(settings)
    check_store(settings.db or "")


def run(
    question: str | None, thread: str | None, settings: Settings, setup: dict[str, Any], json_output: Any = None
) -> None:
    """Choose between one answer and the interactive prompt, and run it.

    ``json_output`` (a chatcli.ui.jsonout.JsonOutput, for --json / --jsonl) renders the one answer.
    """
    from chatcli.chat.inputs import check_thread_id, new_thread_id

    if json_output is not None:
        json_output.model = settings.model
    thread_id = check_thread_id(thread) if thread else new_thread_id()
    if json_output is not None:
        json_output.thread_id = thread_id
    piped = None if sys.stdin.isatty() else read_stdin(sys.stdin)
    if json_output is not None and question is None and piped is None:
        raise UsageError("--json and --jsonl answer one question", hint="give a QUESTION or pipe one on stdin")
    with ExitStack() as stack:
        settings = use_local_model(stack, settings, quiet=json_output is not None)
        if json_output is not None:
            json_output.model = settings.model
        preflight(settings)
        if question is not None or piped is not None:
            asyncio.run(answer_once(settings, thread_id, compose_question(question, piped), setup, json_output))
            return
        from chatcli.ui.output import make_output
        from chatcli.ui.prompt import run_repl

        asyncio.run(run_repl(settings, thread_id, make_output(), setup=setup))


def use_local_model(stack: ExitStack, settings: Settings, *, quiet: bool = False) -> Settings:
    """Start the local model if the settings ask for it (or nothing else is set up); it runs until ``stack`` closes.

    Returns the settings to chat with: pointing at the local server when it runs. Falling back
    on the local model for want of a key says so on stderr, unless ``quiet``.
    """
    from chatcli.local import policy as local

    if not local.wants_local(settings):
        return settings
    fallback = local.is_fallback(settings)
    settings = stack.enter_context(local.serving(settings))
    if fallback and not quiet:
        from chatcli.ui.output import make_output

        make_output().note(
            f"no API key set: using the local model {settings.model} (chat --help tells how to use another)"
        )
    return settings


def report(exc: BaseException, debug: bool, settings: Settings | None = None) -> int:
    """Print one line for an error (and the traceback with --debug); return the exit code."""
    from chatcli.chat.model import redact

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
