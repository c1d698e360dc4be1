"""The LangGraph app: a thread's state, its prompt (system message + variables), memory (trim or summary), the model node."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, Awaitable, Callable, Mapping

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import NotRequired, TypedDict

# How history beyond the context budget is handled: left out ("trim"), or folded into a
# running summary that is sent in its place ("summary").
from chatcli.config import MEMORY_MODES

# LangGraph's add_messages, at O(new messages) for the appends of a turn.
from chatcli.store.messages.reducer import add_messages

MODEL_NODE = "model"
# Tag of the summariser's model calls: LangGraph does not stream calls tagged "nostream",
# and turns.py skips any chunk carrying SUMMARY_TAG, so a summary never shows as the reply.
SUMMARY_TAG = "chatcli:summary"
# The estimated size (tokens) of what was sent to the model: in the stream metadata of the
# reply's chunks and in the stored reply's response_metadata.
PROMPT_ESTIMATE = "chatcli_prompt_tokens_est"
# Usage of the summariser calls made before a reply, kept in that reply's response_metadata.
SUMMARY_USAGE = "chatcli_summary_usage"
SUMMARY_PREFIX = "Summary of the earlier conversation (older turns are not shown):\n"
_SUMMARISER = (
    "You keep a running summary of a conversation between a user and an assistant. "
    "Fold the new part of the conversation into the current summary. Keep every fact, name, "
    "number, decision, preference and open question the user may refer back to; drop "
    "pleasantries. Write terse plain text, at most {words} words. Reply with the updated "
    "summary only."
)
# Summariser calls per turn at most (a summary that grows can push more turns out of the budget).
_MAX_FOLDS = 2


def now_iso() -> str:
    """The current time as an ISO 8601 UTC timestamp, as stored on messages."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ChatState(TypedDict):
    """What a thread keeps: its messages and the settings that belong to it."""

    messages: Annotated[list[AnyMessage], add_messages]
    system: NotRequired[str | None]
    vars: NotRequired[dict[str, str]]
    # Memory "summary": the running summary of the messages up to and including the one
    # with id ``summary_through``; the messages after it are sent as they are.
    summary: NotRequired[str | None]
    summary_through: NotRequired[str | None]


_VARIABLE = re.compile(r"\{(\w+)\}")


def render_system(template: str, variables: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders from the thread's variables; other braces stay as written."""
    return _VARIABLE.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


def select_history(
    system: SystemMessage, messages: list[BaseMessage], max_tokens: int
) -> list[BaseMessage]:
    """The system message plus the most recent whole messages that fit the token budget.

    The history starts on a human message; the latest message is always sent, even alone
    over the budget, so the model (not us) says when a single question is too long.

    The same choice as langchain's ``trim_messages(strategy="last", start_on="human",
    include_system=True, allow_partial=False)`` with ``count_tokens_approximately``, whose
    count of a list is the sum of its messages' counts: walking back from the newest message
    and counting each once keeps this O(what is sent), not O(thread length).
    """
    room = max(0, max_tokens - count_tokens_approximately([system]))
    start = len(messages)
    while start > 0:
        tokens = count_tokens_approximately([messages[start - 1]])
        if tokens > room:
            break
        room -= tokens
        start -= 1
    while start < len(messages) and messages[start].type != "human":
        start += 1
    if start == len(messages):
        return [system, messages[-1]] if messages else [system]
    return [system, *messages[start:]]


def without_tools(message: BaseMessage) -> BaseMessage | None:
    """The message as it can be stored and sent while chat offers the model no tools.

    A reply with tool calls would be refused (400) in every later request, which would need a
    tool result for each call: the calls are dropped, and so are stray tool results.
    """
    if message.type == "tool":
        return None
    if isinstance(message, AIMessage) and (
        message.tool_calls or message.invalid_tool_calls or message.additional_kwargs.get("tool_calls")
    ):
        kwargs = {k: v for k, v in message.additional_kwargs.items() if k != "tool_calls"}
        return message.model_copy(update={"tool_calls": [], "invalid_tool_calls": [], "additional_kwargs": kwargs})
    return message


def summary_message(summary: str) -> SystemMessage:
    """The message sent in place of the turns folded into the summary."""
    return SystemMessage(SUMMARY_PREFIX + summary)


def _folded_count(messages: list[BaseMessage], through: str | None) -> int | None:
    """How many leading messages the summary covers; None if its last message is gone."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].id == through:
            return index + 1
    return None


def transcript(messages: list[BaseMessage], max_chars: int) -> str:
    """Messages as "User: ..." / "Assistant: ..." lines, the most recent ``max_chars`` of them."""
    lines: list[str] = []
    room = max_chars
    for message in reversed(messages):
        role = "User" if isinstance(message, HumanMessage) else "Assistant" if isinstance(message, AIMessage) else "Note"
        line = f"{role}: {message.text}"
        if len(line) > room:
            if room > 40:
                lines.append(f"{role}: [...]{line[len(line) - room + 20 :]}")
            break
        lines.append(line)
        room -= len(line) + 1
    return "\n".join(reversed(lines))


def _add_usage(total: dict[str, int] | None, usage: Any) -> dict[str, int] | None:
    if not usage:
        return total
    total = dict(total or {})
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        total[key] = total.get(key, 0) + int(usage.get(key) or 0)
    return total


class _Budget:
    """The history budget of one graph (estimated tokens): it shrinks when a server's window says so."""

    def __init__(self, tokens: int):
        self.tokens = tokens


def _with_estimate(config: RunnableConfig, estimate: int) -> RunnableConfig:
    """The call's config with the estimate of what is sent in its metadata (the streamed chunks carry it)."""
    return {**config, "metadata": {**(config.get("metadata") or {}), PROMPT_ESTIMATE: estimate}}


def build_graph(
    model: BaseChatModel | Callable[[str | None], BaseChatModel] | None,
    checkpointer: BaseCheckpointSaver | None,
    *,
    default_system: str,
    context_tokens: int,
    memory: str = "trim",
    before_model: Callable[[], Awaitable[None]] | None = None,
    fit_window: Any = None,
) -> Any:
    """Compile the chat graph: START -> model -> END, persisted by the checkpointer.

    ``model`` is a chat model, or a function from a model name to one: the name comes
    from ``config["configurable"]["model"]`` on each run, so a thread can switch models.
    ``memory`` is "trim" (history beyond ``context_tokens`` is left out of the request) or
    "summary" (it is folded into a running summary kept in the thread, sent in its place).
    ``before_model`` runs at the start of each model step, after the question is checkpointed
    (chat --local starts its server again there if it stopped). ``fit_window`` (a
    chatcli.chat.windows.WindowFitter), when a request is refused for its size, proposes a
    smaller history budget: if that makes the history shorter, the model is asked again, once.
    """
    budget = _Budget(context_tokens)
    if memory not in MEMORY_MODES:
        raise ValueError(f"memory must be one of {MEMORY_MODES}, got {memory!r}")

    def model_for(config: RunnableConfig) -> BaseChatModel:
        if isinstance(model, BaseChatModel):
            return model
        if model is None:
            raise RuntimeError("this graph was built without a model")
        return model((config.get("configurable") or {}).get("model"))

    async def summarise(chat_model: BaseChatModel, summary: str, new: list[BaseMessage], config: RunnableConfig) -> tuple[str, Any]:
        """Fold ``new`` messages into ``summary`` with one non-streamed call; the summary and its usage."""
        prompt = [
            SystemMessage(_SUMMARISER.format(words=max(30, budget.tokens // 5))),
            HumanMessage(
                f"Current summary:\n{summary or '(none yet)'}\n\n"
                f"New part of the conversation:\n{transcript(new, 3 * budget.tokens)}"
            ),
        ]
        tags = [*(config.get("tags") or []), "nostream", SUMMARY_TAG]
        result = await chat_model.ainvoke(prompt, {**config, "tags": tags})
        text = str(result.text).strip() or summary
        # A summary that ignores its word limit must not crowd out the conversation: keep
        # at most about half the budget (approximate counter: 4 characters a token).
        limit = 2 * budget.tokens
        if len(text) > limit:
            text = "[...]" + text[len(text) - limit :]
        return text, getattr(result, "usage_metadata", None)

    async def summarised_history(
        chat_model: BaseChatModel, system: SystemMessage, state: ChatState, config: RunnableConfig
    ) -> tuple[list[BaseMessage], dict[str, Any], dict[str, int] | None]:
        """What to send in summary mode, the state update for the summary, and the summariser's usage.

        The messages that trimming would leave out and that the summary does not cover yet
        are folded into it (incrementally: each message is summarised once).
        """
        messages = state["messages"]
        summary = state.get("summary") or ""
        start = _folded_count(messages, state.get("summary_through")) if summary else 0
        if start is None:  # the history was rewritten before the summarised point: start over
            summary, start = "", 0
        update: dict[str, Any] = {}
        usage: dict[str, int] | None = None
        folds = 0
        while True:
            head = [summary_message(summary)] if summary else []
            room = max(1, budget.tokens - (count_tokens_approximately(head) if head else 0))
            kept = select_history(system, messages[start:], room)[1:]
            first = len(messages) - len(kept)  # index of the first message sent as it is
            if first <= start or folds == _MAX_FOLDS:
                break
            summary, used = await summarise(chat_model, summary, messages[start:first], config)
            usage = _add_usage(usage, used)
            start = first
            folds += 1
            update = {"summary": summary, "summary_through": messages[first - 1].id}
        return [system, *head, *kept], update, usage

    async def call_model(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
        if before_model is not None:
            await before_model()
        template = state.get("system") or default_system
        system = SystemMessage(render_system(template, state.get("vars") or {}))
        chat_model = model_for(config)
        update: dict[str, Any] = {}
        summary_usage = None
        async def prepare() -> tuple[list[BaseMessage], dict[str, Any], Any, int]:
            usage = None
            if memory == "summary":
                history, update, usage = await summarised_history(chat_model, system, state, config)
            else:
                history, update = select_history(system, state["messages"], budget.tokens), {}
            history = [kept for kept in map(without_tools, history) if kept is not None]
            return history, update, usage, count_tokens_approximately(history)

        history, update, summary_usage, estimate = await prepare()
        try:
            reply = await chat_model.ainvoke(history, _with_estimate(config, estimate))
        except Exception as exc:
            smaller = fit_window.propose(exc, budget.tokens, estimate) if fit_window is not None else None
            if smaller is None:
                raise
            first, budget.tokens = budget.tokens, smaller
            sent = len(history)
            history, update, summary_usage, estimate = await prepare()
            if len(history) >= sent:  # nothing left to cut: the message alone is too long
                budget.tokens = first
                raise
            fit_window.adopt(smaller)  # this process keeps it too, and later ones read it
            reply = await chat_model.ainvoke(history, _with_estimate(config, estimate))
        reply = without_tools(reply)
        reply.response_metadata.setdefault("created_at", now_iso())
        reply.response_metadata[PROMPT_ESTIMATE] = estimate
        if summary_usage:
            reply.response_metadata[SUMMARY_USAGE] = summary_usage
        return {"messages": [reply], **update}

    builder = StateGraph(ChatState)
    builder.add_node(MODEL_NODE, call_model)
    builder.add_edge(START, MODEL_NODE)
    builder.add_edge(MODEL_NODE, END)
    return builder.compile(checkpointer=checkpointer)
