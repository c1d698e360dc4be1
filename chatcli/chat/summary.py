"""Memory "summary": history beyond the budget folded into a running summary, sent in its place."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.runnables import RunnableConfig

from chatcli.chat.request_history import add_usage, folded_count, select_history, summary_message, transcript

# Tag of the summariser's model calls: LangGraph does not stream calls tagged "nostream",
# and the turn runner skips any chunk carrying SUMMARY_TAG, so a summary never shows as the reply.
SUMMARY_TAG = "chatcli:summary"
_SUMMARISER = (
    "You keep a running summary of a conversation between a user and an assistant. "
    "Fold the new part of the conversation into the current summary. Keep every fact, name, "
    "number, decision, preference and open question the user may refer back to; drop "
    "pleasantries. Write terse plain text, at most {words} words. Reply with the updated "
    "summary only."
)
# Summariser calls per turn at most (a summary that grows can push more turns out of the budget).
_MAX_FOLDS = 2


async def summarise(
    chat_model: BaseChatModel, summary: str, new: list[BaseMessage], config: RunnableConfig, budget: int
) -> tuple[str, Any]:
    """Fold ``new`` messages into ``summary`` with one non-streamed call; the summary and its usage."""
    prompt = [
        SystemMessage(_SUMMARISER.format(words=max(30, budget // 5))),
        HumanMessage(
            f"Current summary:\n{summary or '(none yet)'}\n\nNew part of the "
            f"conversation:\n{transcript(new, 3 * budget)}"
        ),
    ]
    tags = [*(config.get("tags") or []), "nostream", SUMMARY_TAG]
    result = await chat_model.ainvoke(prompt, {**config, "tags": tags})
    text = str(result.text).strip() or summary
    # A summary that ignores its word limit must not crowd out the conversation: keep
    # at most about half the budget (approximate counter: 4 characters a token).
    limit = 2 * budget
    if len(text) > limit:
        text = "[...]" + text[len(text) - limit :]
    return text, getattr(result, "usage_metadata", None)


async def summarised_history(
    chat_model: BaseChatModel, system: SystemMessage, state: Any, config: RunnableConfig, budget: int
) -> tuple[list[BaseMessage], dict[str, Any], dict[str, int] | None]:
    """What to send in summary mode, the state update for the summary, and the summariser's usage.

    The messages that trimming would leave out and that the summary does not cover yet
    are folded into it (incrementally: each message is summarised once).
    """
    messages = state["messages"]
    summary = state.get("summary") or ""
    start = folded_count(messages, state.get("summary_through")) if summary else 0
    if start is None:  # the history was rewritten before the summarised point: start over
        summary, start = "", 0
    update: dict[str, Any] = {}
    usage: dict[str, int] | None = None
    folds = 0
    while True:
        head = [summary_message(summary)] if summary else []
        room = max(1, budget - (count_tokens_approximately(head) if head else 0))
        kept = select_history(system, messages[start:], room)[1:]
        first = len(messages) - len(kept)  # index of the first message sent as it is
        if first <= start or folds == _MAX_FOLDS:
            break
        summary, used = await summarise(chat_model, summary, messages[start:first], config, budget)
        usage = add_usage(usage, used)
        start = first
        folds += 1
        update = {"summary": summary, "summary_through": messages[first - 1].id}
    return [system, *head, *kept], update, usage
