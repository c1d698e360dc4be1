"""A thread opened again that was waiting on the user (at the prompt, by /switch, in an editor's session): what it
waits on is said and asked again as the door's listener asks, then the turn goes on. Decided here once, for every
door; a request to answer a thread that waits on nothing is refused by ``chatcli.service.outcome.waits_on``; what
waits is listed in the inbox (chatcli.service.inbox)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatcli.core.events import TurnResult
    from chatcli.service.thread import Thread


def _calls(calls: list[Any]) -> str:
    return f"{len(calls)} tool calls" if len(calls) > 1 else "a tool call"


async def go_on_waiting(thread: Thread) -> TurnResult | None:
    """A thread opened again (at the prompt, by /switch, in an editor's session) that was waiting on the user: what it
    waits on is said (a ``Notice``), asked again as its listener asks (an approval, a tool's question, a graph's
    interrupt) and the turn goes on to its answer; None when it waits on nothing. With tools off nothing could run
    its calls: that is said, and the next message closes them as not run."""
    from chatcli.core.events import Notice

    tell = thread.listener.hear
    if not thread.can.prompt:  # a graph of the user's: its interrupts are its own
        if await thread.waiting():
            tell(Notice("this thread was waiting for your answer to the graph's question"))
            return await thread.resume()
        return None
    if thread.toolbox is None:  # tools off (--no-tools, none set up): nothing could run them
        from chatcli.backends.own.toolcalls import open_calls

        if left := open_calls(await thread.messages()):
            tell(Notice(f"this thread was waiting for {_calls(left)}; with tools off, your next message closes them "
                        "as not run"))  # fmt: skip
        return None
    waiting = await thread.waiting()
    question = waiting[0].elicitation if waiting else None
    calls = [call for pending in waiting for call in pending.calls]
    if question is not None:
        tell(Notice(f"this thread was waiting for your answer to a question of {question.tool}"))
        servers = {question.server} if question.server else set()
    elif calls:
        tell(Notice(f"this thread was waiting for your approval of {_calls(calls)}"))
        thread.toolbox.grant(calls)  # a built-in tool a call names may run for it, asked again, --tools or not
        servers = {call.server for call in calls if call.server}
    else:
        return None
    await thread.toolbox.prepare(servers)  # the MCP servers the calls need
    return await thread.resume()
