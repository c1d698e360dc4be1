"""The prompt's handlers of chat's commands (chatcli.service.commands defines them: name, help, what they need), and
how a resolved command runs.

Handlers take a ``Context`` (the conversation, the output, the settings, the chat's commands, where listings go)
and the text after the command name; they raise ``UsageError`` for anything the user should fix. How a line is
resolved to a command and /help live in chatcli.ui.registry.
"""

from chatcli.errors import UsageError
from chatcli.service.commands import Command
from chatcli.ui.commands import answers, branches, memory, remembered, session, threads
from chatcli.ui.registry import LEAVE, Context, Handler, commands, help_text, is_command, leaves, literal, resolve

__all__ = [
    "HANDLERS",
    "Context",
    "commands",
    "execute",
    "help_text",
    "is_command",
    "leaves",
    "literal",
    "resolve",
    "run_command",
]
# Each command's handler at the prompt, by its name.
HANDLERS: dict[str, Handler] = {
    **answers.HANDLERS,
    **branches.HANDLERS,
    **memory.HANDLERS,
    **remembered.HANDLERS,
    **session.HANDLERS,
    **threads.HANDLERS,
}


async def execute(found: Command, ctx: Context, arg: str) -> bool:
    """Run a resolved command; False when it asks to leave. A thread that cannot do what the command needs refuses
    it (an Agent Server's: the commands that need a thread chat keeps); before the thread is open, the prompt runs
    only the commands that need none."""
    if ctx.conversation is not None:
        refused = ctx.commands.refusal(found, ctx.conversation.can)
        if refused is not None:
            raise refused
    handler = HANDLERS.get(found.name)
    if handler is None:
        raise UsageError(f"{found.name} is not a command of the prompt's", hint="/help lists commands")
    return await handler(ctx, arg) != LEAVE


async def run_command(ctx: Context, line: str) -> bool:
    """Run one command line; False when it asks to leave."""
    found, arg = resolve(line, ctx.commands)
    return await execute(found, ctx, arg)
