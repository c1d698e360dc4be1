"""Slash commands at the prompt: each module of this package registers its handlers with ``@command``.

Handlers take a ``Context`` (the conversation, the output, the settings, where listings go)
and the text after the command name; they raise ``UsageError`` for anything the user should
fix. The registry, the resolution of a line to a command and /help live in chatcli.ui.registry.
"""

from chatcli.ui.commands import answers, memory, remembered, session, threads
from chatcli.ui.registry import Context, commands, execute, help_text, is_command, leaves, literal, resolve, run_command

__all__ = ["Context", "commands", "execute", "help_text", "is_command", "leaves", "literal", "resolve", "run_command"]
MODULES = (answers, memory, remembered, session, threads)  # each registers its commands as it is imported
