"""One question, one streamed answer: the code path shared by the REPL and one-shot mode."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from chatcli.config import Settings
from chatcli.errors import ModelError, StoreError
from chatcli.turns import Conversation, TurnResult


def translate_error(exc: Exception, settings: Settings) -> Exception:
    """Map a failure during a turn to the user-facing error it means, or return it unchanged."""
    from chatcli.models import describe_error

    if isinstance(exc, sqlite3.Error):
        return StoreError(f"database error: {exc}", hint="run with --debug for details")
    described = describe_error(exc, settings)
    return described if described is not None else exc


async def ask(conversation: Conversation, text: str, output: Any, settings: Settings) -> TurnResult:
    """Send ``text``, render the reply as it streams, and report how it ended.

    Raises CancelledError if the turn was stopped, a ChatError for a model or store
    failure; in both cases the partial answer is already saved and shown.
    """
    output.start_reply()
    try:
        result = await conversation.send(text, output.token)
    except asyncio.CancelledError:
        output.abort("cancelled")
        raise
    except Exception as exc:
        output.abort(None)
        error = translate_error(exc, settings)
        if error is exc:
            raise
        raise error from exc
    output.end_reply(result)
    if result.interrupted == "truncated":
        raise ModelError("the answer ended early (no finish reason from the server)", hint="it is kept, marked as incomplete")
    return result
