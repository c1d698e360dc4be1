"""One question, one streamed answer: the code path shared by the REPL and one-shot mode."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable

from chatcli.chat.conversation import Conversation
from chatcli.chat.events import TurnResult
from chatcli.chat.failures import translate
from chatcli.config import Settings
from chatcli.errors import ModelError
from chatcli.ui.output import Output

# A reply that streamed to its end but is not a whole answer (see chatcli.chat.turn.incomplete_reason):
# the one line shown for it, and the hint.
INCOMPLETE = {
    "truncated": (
        "the answer ended early: the server sent no finish reason",
        "the part shown is kept in the thread, marked as incomplete",
    ),
    "length": (
        "the answer was cut off at the model's output limit",
        "the part shown is kept in the thread, marked as incomplete; ask it to continue",
    ),
    "content_filter": (
        "the server's content filter stopped the answer",
        "the part shown is kept in the thread, marked as incomplete",
    ),
    "empty": (
        "the model sent an empty answer",
        "your message is kept in the thread; ask again, or try another --model",
    ),
}


async def render_reply(conversation: Conversation, turn: Awaitable[TurnResult], settings: Settings) -> TurnResult:
    """Run ``turn`` (its events reach the conversation's listener, the output) and report how it ended.

    Raises CancelledError if it was stopped, a ChatError for a model or store failure;
    in both cases the partial answer is already saved and shown.
    """
    before = conversation.turns.last
    try:
        result = await turn
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        last = conversation.turns.last  # this turn's, partial, if it got as far as the model
        error = translate(exc, settings, mid_answer=last is not before and last is not None and bool(last.text))
        if error is exc:
            raise
        raise error from exc
    if result.interrupted in INCOMPLETE:
        message, hint = INCOMPLETE[result.interrupted]
        raise ModelError(message, hint=hint)
    return result


async def ask(
    conversation: Conversation,
    text: str,
    settings: Settings,
    attachments: list[Any] | None = None,
    mentions: str = "",
) -> TurnResult:
    """Send ``text`` (with ``attachments``, or those queued) and let the output render the reply (see ``render_reply``).

    ``mentions``: the part the user typed, whose ``@SERVER:URI`` mentions attach those resources.
    """
    return await render_reply(conversation, conversation.send(text, attachments, mentions=mentions), settings)


async def ask_line(conversation: Conversation, text: str, settings: Settings, again: bool = False) -> TurnResult:
    """Send a line typed at the prompt. ``again``: the line is the question that just failed or was stopped
    (Up, Enter): while it is the thread's last question, without a whole answer, it is asked again in place
    of what it got, as /retry does, so the model never sees it twice."""
    recall = conversation.recall
    if again and await recall.last_question() == text and await recall.left_unanswered():
        from chatcli.chat.events import Notice

        conversation.listener.hear(Notice("asked again, in place of the answer it did not get (as /retry)"))
        return await render_reply(conversation, conversation.retry(), settings)
    return await ask(conversation, text, settings, mentions=text)


async def left_unanswered(conversation: Conversation, text: str, output: Output) -> bool:
    """After a line failed or was stopped: True, said with how to ask again, when ``text`` is the thread's last
    question and has no whole answer (False when it was never stored: nothing to ask again)."""
    try:
        if await conversation.recall.last_question() != text or not await conversation.recall.left_unanswered():
            return False
    except Exception:  # noqa: BLE001 - the store failed already: the error line said so
        return False
    output.note("your question is kept: /retry asks it again (so do Up and Enter), in place of what it got")
    return True


async def resume_pending(conversation: Conversation, output: Output, settings: Settings) -> None:
    """Ask again about the tool calls the thread was waiting on when chat stopped, then let it answer."""
    if conversation.toolbox is None:  # tools off (--no-tools, none set up): nothing could run them
        from chatcli.chat.toolcalls import open_calls

        calls = open_calls(await conversation.messages())
        if calls:
            output.note(
                f"this thread was waiting for {_calls(calls)}; with tools off, your next message closes them as not run"
            )
        return
    calls = await conversation.pending_calls()
    if not calls:
        return
    output.note(f"this thread was waiting for your approval of {_calls(calls)}")
    await render_reply(conversation, conversation.resume(), settings)


def _calls(calls: list[Any]) -> str:
    return f"{len(calls)} tool calls" if len(calls) > 1 else "a tool call"
