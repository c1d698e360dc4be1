"""The slash-command registry (``@command``), how a line is resolved to a command, and /help generated from it.

Handlers take a ``Context`` (the conversation, the output, the settings, where listings go)
and the text after the command name; they raise ``UsageError`` for anything the user should
fix. The REPL decides what is a command (``is_command``) and runs it with ``run_command``.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Awaitable, Callable

from chatcli.config import Settings
from chatcli.core.inputs import check_utf8
from chatcli.errors import UsageError
from chatcli.text import say
from chatcli.ui.output import Output

if TYPE_CHECKING:
    from chatcli.service.backend import ThreadList
    from chatcli.service.thread import Thread

# A command's handler: given the context and the text after its name; LEAVE ends the session.
Handler = Callable[["Context", str], Awaitable[str | None]]
# The most threads /threads lists at once.
MAX_LISTED = 100_000
# What a handler returns to end the session (/exit).
LEAVE = "leave"


@dataclass(frozen=True)
class Command:
    """One slash command: its name, one-line help, argument synopsis and handler."""

    name: str
    help: str
    args: str
    handler: Handler
    # False: runs at once, without waiting for the engine and the thread (/help, /exit).
    needs_thread: bool = True
    # Completions for the first argument: "threads" (thread ids) or fixed words.
    complete: str | tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


REGISTRY: dict[str, Command] = {}  # every name and alias -> its command


def command(
    name: str,
    *,
    help: str,
    args: str = "",
    needs_thread: bool = True,
    complete: str | tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as the slash command ``name``."""

    def register(handler: Handler) -> Handler:
        entry = Command(name, help, args, handler, needs_thread, complete, aliases)
        for key in (name, *aliases):
            REGISTRY[key] = entry
        return handler

    return register


def commands() -> list[Command]:
    """Every command once, by name (/help lists them so)."""
    return sorted({id(c): c for c in REGISTRY.values()}.values(), key=lambda c: c.name)


@dataclass
class Context:
    """What a command works on: the conversation (None before the engine is loaded), output, settings."""

    conversation: Thread | None
    output: Output
    settings: Settings
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    # Puts text in the next prompt's input (/edit: what the editor saved); None outside the prompt.
    prefill: Callable[[str], None] | None = None

    def print(self, text: str) -> None:
        """A line of data on stdout (control characters made visible in a terminal)."""
        say(self.out, text + "\n", data=True)

    @property
    def thread(self) -> Thread:
        """The conversation, for a command that needs one (the prompt runs those once the thread is open)."""
        assert self.conversation is not None, "a command that needs the thread ran before it was open"
        return self.conversation

    def threads(self) -> ThreadList:
        """The conversation's threads, shown with the settings' credentials masked."""
        from chatcli.providers.base import known_secrets

        threads = self.thread.threads()
        threads.secrets = known_secrets(self.settings)
        return threads


def is_command(text: str) -> bool:
    """A line is a command when it starts with "/"; "//" escapes a message that starts with "/"."""
    stripped = text.lstrip()
    return stripped.startswith("/") and not stripped.startswith("//")


# Typed alone, these leave as /exit does (Python's REPL and aichat do the same; ".exit" is aichat's and sqlite's);
# "//exit" sends "/exit".
LEAVE_WORDS = ("exit", "quit", ".exit", ".quit")


def leaves(text: str) -> bool:
    """True for a line that is only "exit", "quit", ".exit" or ".quit" (any case, blanks around): it leaves."""
    return text.strip().lower() in LEAVE_WORDS


def literal(text: str) -> str:
    """The message to send for a line that is not a command: "//text" sends "/text"."""
    stripped = text.lstrip()
    return stripped[1:] if stripped.startswith("//") else text


def resolve(line: str) -> tuple[Command, str]:
    """The command a line names and the text after it, or a UsageError with a suggestion."""
    name, *rest = check_utf8(line, "the command").strip().split(None, 1)
    found = REGISTRY.get(name.lower())
    if found is None:
        close = difflib.get_close_matches(name.lower(), list(REGISTRY), n=1, cutoff=0.6)
        hint = (f"did you mean {close[0]}? " if close else "") + "/help lists commands; //text sends /text"
        raise UsageError(f"unknown command {name[:40]}", hint=hint)
    arg = rest[0].strip() if rest else ""
    if arg and not found.args:
        raise UsageError(f"{found.name} takes no argument")
    return found, arg


async def execute(found: Command, ctx: Context, arg: str) -> bool:
    """Run a resolved command; False when it asks to leave."""
    # A LangGraph server's thread: some commands only (none is open yet: the commands that need no thread).
    works = ctx.conversation.can.commands if ctx.conversation is not None else None
    if works is not None and found.name not in works:
        raise UsageError(f"{found.name} is not available on a LangGraph server's thread", hint="/help lists commands")
    return await found.handler(ctx, arg) != LEAVE


async def run_command(ctx: Context, line: str) -> bool:
    """Run one command line; False when it asks to leave."""
    found, arg = resolve(line)
    return await execute(found, ctx, arg)


def help_text(columns: int | None = None) -> str:
    """The /help listing, from the registry, each description wrapped at a word to ``columns`` (the terminal's)."""
    import shutil
    import textwrap

    columns = columns or shutil.get_terminal_size((100, 24)).columns
    rows = [(f"{c.name} {c.args}".strip(), c.help) for c in commands()]
    width = max(len(usage) for usage, _ in rows)
    room = max(20, columns - width - 5)
    lines = []
    for usage, text in rows:
        first, *rest = textwrap.wrap(text, room) or [""]
        lines += [f"  {usage.ljust(width)}  {first}", *(" " * (width + 4) + more for more in rest)]
    ending = "Tab completes commands, thread ids, models, roles and file names; exit or quit alone leaves; a line "
    lines += textwrap.wrap(ending + "starting with // is sent with one / removed.", max(30, columns - 1))
    return "\n".join(lines)
