"""How a turn ended, said as chat says it everywhere: a failure translated to its one line, an answer that
streamed to its end but is not whole (cut, filtered, empty) raised as the model error it is."""

from __future__ import annotations

import asyncio
from typing import Awaitable

from chatcli.backends.own.failures import translate
from chatcli.config import Settings
from chatcli.core.events import TurnResult
from chatcli.errors import ModelError
from chatcli.service.thread import Thread

# A reply that streamed to its end but is not a whole answer (see chatcli.core.turn.incomplete_reason):
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


async def render_reply(
    conversation: Thread, turn: Awaitable[TurnResult], settings: Settings, whole: tuple[str, ...] = ()
) -> TurnResult:
    """Run ``turn`` (its events reach the conversation's listener, the output) and report how it ended.

    Raises CancelledError if it was stopped, a ChatError for a model or store failure, or for an answer that is
    not whole (but for the ends in ``whole``, which the door says its own way: ACP's stop reasons); in every
    case the partial answer is already saved and shown.
    """
    before = conversation.turns.last
    try:
        result = await turn
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        last = conversation.turns.last  # this turn's, partial, if it got as far as the model
        mid_answer = last is not before and last is not None and bool(last.text)
        own = conversation.own_model
        error = translate(exc, settings, mid_answer, conversation.model_name if own else None, own)
        if error is exc:
            raise
        raise error from exc
    if result.interrupted in INCOMPLETE and result.interrupted not in whole:
        message, hint = INCOMPLETE[result.interrupted]
        raise ModelError(message, hint=hint)
    return result
