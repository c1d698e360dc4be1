"""A line typed at the prompt, sent (or asked again in place of the answer it did not get); what a line left
unanswered says."""

from __future__ import annotations

from typing import Any

from chatcli.core.events import TurnResult
from chatcli.service.thread import Thread
from chatcli.ui.output import Output

KEPT = "your question is kept: /retry asks it again (so do Up and Enter), in place of what it got"


async def ask_line(conversation: Thread, text: str, queued: list[Any], again: bool = False) -> TurnResult:
    """Send a line typed at the prompt, with the files ``queued`` for it. ``again``: the line is the question that
    just failed or was stopped
    (Up, Enter): while it is the thread's last question, without a whole answer, it is asked again in place
    of what it got, as /retry does, so the model never sees it twice."""
    recall = conversation.recall
    if again and await recall.last_question() == text and await recall.left_unanswered():
        from chatcli.core.events import Notice

        conversation.listener.hear(Notice("asked again, in place of the answer it did not get (as /retry)"))
        return await conversation.retry()
    return await conversation.send(text, queued, mentions=text, queue=True)


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
