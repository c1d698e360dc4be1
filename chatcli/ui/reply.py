"""One question, one streamed answer: the code path shared by the REPL and one-shot mode."""

from __future__ import annotations

from typing import Any

from chatcli.config import Settings
from chatcli.core.events import TurnResult
from chatcli.service.thread import Thread
from chatcli.ui.output import Output


async def ask(
    conversation: Thread,
    text: str,
    settings: Settings,
    attachments: list[Any] | None = None,
    mentions: str = "",
) -> TurnResult:
    """Send ``text`` (with ``attachments``, or those queued) and let the output render the reply (its outcome:
    chatcli.service.outcome).

    ``mentions``: the part the user typed, whose ``@SERVER:URI`` mentions attach those resources.
    """
    return await conversation.send(text, attachments, mentions=mentions)


KEPT = "your question is kept: /retry asks it again (so do Up and Enter), in place of what it got"


async def ask_line(conversation: Thread, text: str, settings: Settings, again: bool = False) -> TurnResult:
    """Send a line typed at the prompt. ``again``: the line is the question that just failed or was stopped
    (Up, Enter): while it is the thread's last question, without a whole answer, it is asked again in place
    of what it got, as /retry does, so the model never sees it twice."""
    recall = conversation.recall
    if again and await recall.last_question() == text and await recall.left_unanswered():
        from chatcli.core.events import Notice

        conversation.listener.hear(Notice("asked again, in place of the answer it did not get (as /retry)"))
        return await conversation.retry()
    return await ask(conversation, text, settings, mentions=text)


async def left_unanswered(conversation: Thread, text: str, output: Output) -> bool:
    """After a line failed or was stopped: True, said with how to ask again, when ``text`` is the thread's last
    question and has no whole answer (False when it was never stored: nothing to ask again)."""
    try:
        if await conversation.recall.last_question() != text or not await conversation.recall.left_unanswered():
            return False
    except Exception:  # noqa: BLE001 - the store failed already: the error line said so
        return False
    output.note(KEPT)
    return True


async def resume_pending(conversation: Thread, output: Output, settings: Settings) -> None:
    """Ask again about the tool calls (a tool's question, a graph's interrupts) the thread was waiting on when chat
    stopped, then let it answer."""
    if not conversation.own_model:  # a graph of the user's: its interrupts are its own
        if await conversation.waiting():
            output.note("this thread was waiting for your answer to the graph's question")
            await conversation.resume()
        return
    if conversation.toolbox is None:  # tools off (--no-tools, none set up): nothing could run them
        from chatcli.backends.own.toolcalls import open_calls

        left = open_calls(await conversation.messages())
        if left:
            output.note(
                f"this thread was waiting for {_calls(left)}; with tools off, your next message closes them as not run"
            )
        return
    waiting = await conversation.waiting()
    question = waiting[0].elicitation if waiting else None
    calls = [call for pending in waiting for call in pending.calls]
    if question is not None:
        output.note(f"this thread was waiting for your answer to a question of {question.tool}")
        servers = {question.server} if question.server else set()
    elif calls:
        output.note(f"this thread was waiting for your approval of {_calls(calls)}")
        conversation.toolbox.grant(calls)  # a built-in tool a call names may run for it, asked again, --tools or not
        servers = {call.server for call in calls if call.server}
    else:
        return
    await conversation.toolbox.prepare(servers)  # the MCP servers the calls need
    await conversation.resume()


def _calls(calls: list[Any]) -> str:
    return f"{len(calls)} tool calls" if len(calls) > 1 else "a tool call"
