"""How the prompt runs chat's commands (chatcli.service.commands defines them: name, help, what they need, their
handler at every door) and renders what they give; the handlers of what only a terminal does.

Those handlers take a ``Context`` (the conversation, the output, the settings, the chat's commands, where listings
go) and the text after the command name; every handler raises ``UsageError`` for anything the user should fix. How a
line is resolved to a command and /help live in chatcli.ui.registry.
"""

from chatcli.errors import UsageError
from chatcli.service.command_runs import Data, Said
from chatcli.service.commands import Command
from chatcli.ui.commands import answers, remembered, session, threads
from chatcli.ui.registry import LEAVE, Context, Handler

# The prompt's own handlers, by the command's name ("/summary edit": by its name and argument): what only a terminal
# does. Every other command runs its handler of every door (``Command.run``), rendered by ``shown``.
HANDLERS: dict[str, Handler] = {**answers.HANDLERS, **remembered.HANDLERS, **session.HANDLERS, **threads.HANDLERS}


async def execute(found: Command, ctx: Context, arg: str) -> bool:
    """Run a resolved command; False when it asks to leave. A thread that cannot do what the command needs refuses
    it (an Agent Server's: the commands that need a thread chat keeps); before the thread is open, the prompt runs
    only the commands that need none."""
    if ctx.conversation is not None and (refused := ctx.commands.refusal(found, ctx.conversation.can)) is not None:
        raise refused
    if (handler := HANDLERS.get(f"{found.name} {arg}") or HANDLERS.get(found.name)) is not None:
        return await handler(ctx, arg) != LEAVE
    if found.run is None:
        raise UsageError(f"{found.name} is not a command of the prompt's", hint="/help lists commands")
    if found.name == "/bg" and arg and ctx.attached:  # queued here: a background reply would ask without them
        queued = "the file queued goes" if len(ctx.attached) == 1 else f"the {len(ctx.attached)} files queued go"
        hint = "send them with a message here, or empty the queue with /attach --clear"
        raise UsageError(f"/bg asks without files: {queued} with your next message here", hint=hint)
    done = await found.run(ctx.service, ctx.thread, arg)
    if isinstance(done, Said):
        await shown(ctx, done)
    return True


async def shown(ctx: Context, done: Said) -> None:
    """What a command that ran no turn did, as the prompt shows it: its data on stdout, the rest as notes; the prompt
    goes on in the thread it forked, and says here when the background reply it started ends."""
    for line in done.lines:
        (ctx.print if isinstance(line, Data) else ctx.output.note)(line)
    if done.forked is not None:
        original = ctx.thread.thread_id
        await threads.switched(ctx, await ctx.service.find(done.forked), "switched to the fork")
        ctx.output.note(f"{original} stays as it was: /switch {original}")
    if done.job is not None:
        ctx.started.append(done.job)  # (said above the prompt: the job does not write into its terminal)
        ctx.output.note("said here when it ends; meanwhile a message here waits for it, /new starts another thread")
