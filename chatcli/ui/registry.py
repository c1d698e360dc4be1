"""The prompt's view of a chat's commands (chatcli.service.commands): what a handler is given (``Context``), how a
line is resolved to a command, and /help generated from the registry.

Handlers (chatcli.ui.commands, by name, which also runs them) take a ``Context`` (the conversation, the output, the
settings, the chat's commands, where listings go) and the text after the command name; they raise ``UsageError`` for
anything the user should fix. The REPL decides what is a command (``is_command``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Awaitable, Callable, Mapping

from chatcli.config import Settings
from chatcli.errors import UsageError
from chatcli.text import say
from chatcli.ui.output import Output

if TYPE_CHECKING:
    from chatcli.content.attachments import Attachment
    from chatcli.service.chat import Chat
    from chatcli.service.commands import Command, Commands
    from chatcli.service.jobs import Job
    from chatcli.service.thread import Thread
    from chatcli.tools.context import HasServers
    from chatcli.ui.status import StatusLine

# A command's handler: given the context and the text after its name; LEAVE ends the session.
Handler = Callable[["Context", str], Awaitable[str | None]]
# The most threads /threads lists at once.
MAX_LISTED = 100_000
# What a handler returns to end the session (/exit).
LEAVE = "leave"


def defined() -> Commands:
    """The commands chat defines, as a registry of their own (where no chat gives its own); loaded when first asked
    for, after the prompt's first paint."""
    from chatcli.service.commands import Commands

    return Commands()


@dataclass
class Context:
    """The prompt's session, what its commands work on: the thread it is on now (None before the engine is loaded; a
    handle ``chat`` gives, replaced by another when the prompt moves: /switch, /new, a fork), the files queued for its
    next message, the output, settings, and the chat's commands (/help lists them)."""

    conversation: Thread | None
    output: Output
    settings: Settings
    chat: Chat | None = None
    attached: list[Attachment] = field(default_factory=list)  # files queued for the next message (/attach)
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    # Puts text in the next prompt's input (/edit: what the editor saved); None outside the prompt.
    prefill: Callable[[str], None] | None = None
    # The chat's commands (chatcli.service.chat.Chat.commands); those chat defines when no chat is given.
    commands: Commands = field(default_factory=defined)
    # The prompt's status line (/status); None outside the prompt.
    status: StatusLine | None = None
    # The background replies this prompt started (/bg): it says when each ends, between prompts.
    started: "list[Job]" = field(default_factory=list)
    # The variables of the run (its Environment's): a background reply's (/bg).
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def print(self, text: str) -> None:
        """A line of data on stdout (control characters made visible in a terminal)."""
        say(self.out, text + "\n", data=True)

    @property
    def service(self) -> Chat:
        """The chat the conversation was opened by: what its commands run on, and asked for another thread."""
        if self.chat is None:
            raise UsageError("this conversation runs no command of chat's")
        return self.chat

    @property
    def thread(self) -> Thread:
        """The conversation, for a command that needs one (the prompt runs those once the thread is open)."""
        assert self.conversation is not None, "a command that needs the thread ran before it was open"
        return self.conversation


def is_command(text: str) -> bool:
    """A line is a command when it starts with "/"; "//" escapes a message that starts with "/"."""
    return text.lstrip().startswith("/") and not text.lstrip().startswith("//")


def leaves(text: str) -> bool:
    """True for a line that is only "exit", "quit", ".exit" or ".quit" (any case, blanks around): it leaves, as /exit
    does (Python's REPL and aichat do the same; ".exit" is aichat's and sqlite's); "//exit" sends "/exit"."""
    return text.strip().lower() in ("exit", "quit", ".exit", ".quit")


def literal(text: str) -> str:
    """The message to send for a line that is not a command: "//text" sends "/text"."""
    return text.lstrip()[1:] if text.lstrip().startswith("//") else text


PROMPTS = "MCP prompts (arguments in order, or name=value; @SERVER:URI in a question attaches a resource):"
SKILLS = "Skills (their instructions and your words are asked; /skills says where each is from):"


def help_text(columns: int | None = None, registry: Commands | None = None, toolbox: HasServers | None = None) -> str:
    """The /help listing, from ``registry`` (a chat's; None: the commands chat defines), each description wrapped at
    a word to ``columns`` (the terminal's); then the prompts of ``toolbox``'s MCP servers (none before they are
    listed) and its skills."""
    import shutil
    import textwrap

    registry = registry if registry is not None else defined()
    columns = columns or shutil.get_terminal_size((100, 24)).columns

    def listing(commands: list[Command]) -> list[str]:
        rows = [(f"{c.name} {c.args}".strip(), c.help) for c in commands]
        width = max((len(usage) for usage, _ in rows), default=0)
        lines = []
        for usage, text in rows:
            first, *rest = textwrap.wrap(text, max(20, columns - width - 5)) or [""]
            lines += [f"  {usage.ljust(width)}  {first}", *(" " * (width + 4) + more for more in rest)]
        return lines

    lines = listing(registry.listed())
    ending = "Tab completes commands, thread ids, models, roles and file names; exit or quit alone leaves; a line "
    lines += textwrap.wrap(ending + "starting with // is sent with one / removed.", max(30, columns - 1))
    for title, listed in ((PROMPTS, registry.prompts), (SKILLS, registry.skills)):
        if found := listing(listed(toolbox)):
            lines += [title, *found]
    return "\n".join(lines)
